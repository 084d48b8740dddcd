"""Allow ``python -m monitor``; also the ``monitor`` command's entry point."""

import sys


def run() -> None:
    """Load the CLI, then run it: a Ctrl-C while its modules load (a quarter of a second) printed a traceback of
    the imports, where one afterwards is one line and exit 130."""
    try:
        from monitor.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("monitor: interrupted\n")
        sys.exit(130)
    main()


if __name__ == "__main__":
    run()
