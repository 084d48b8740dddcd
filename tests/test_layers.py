"""The package's layers, as import contracts (pyproject.toml, [tool.importlinter]).

The pure core (rules, dedup, extraction, alert rendering) must not reach fetching, storage
or the daemon, and only the storage package imports sqlite3: a change that breaks either
fails here, naming the import.
"""

from __future__ import annotations

import shutil
import sys
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _lint(config: Path) -> subprocess.CompletedProcess[str]:
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    return subprocess.run([command, "--config", str(config), "--no-cache"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_the_layers_hold() -> None:
    result = _lint(ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def test_a_broken_layer_is_named(tmp_path: Path) -> None:
    """The same contracts, with a forbidden import the core really has, must fail: the check is live."""
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    config = config.replace('"sqlite3", "sqlite_utils",', '"sqlite3", "sqlite_utils", "monitor.models",', 1)
    broken = tmp_path / "pyproject.toml"
    broken.write_text(config, encoding="utf-8")
    result = _lint(broken)
    assert result.returncode != 0 and "monitor.models" in result.stdout


def test_the_commands_that_read_the_archive_load_no_fetcher_parser_or_scheduler() -> None:
    """``status`` runs every minute as the container's health check: its part of the application reads the archive
    and leaves the HTTP client, the HTML parser, the workers and the scheduler unloaded (they took it from a third
    to three quarters of a second)."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys; from monitor import app, cli; app.status, app.search, app.printable,"
                               " app.iso, app.counted; print(sorted(sys.modules))"],
        capture_output=True, text=True, check=True, timeout=60, cwd=ROOT,
    ).stdout
    assert "'monitor.app.archive'" in loaded
    for heavy in ("'httpx'", "'selectolax'", "'apscheduler'", "'tldextract'", "'monitor.workers'", "'monitor.pipeline'"):
        assert heavy not in loaded


def test_extract_loads_no_archive_scheduler_or_channels() -> None:
    """``extract`` reads one page: its part of the application leaves the archive, the scheduler and the alert
    channels unloaded, which it loaded with the checks' part."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys; from monitor import app, cli; app.extract_page; print(sorted(sys.modules))"],
        capture_output=True, text=True, check=True, timeout=60, cwd=ROOT,
    ).stdout
    assert "'monitor.app.pages'" in loaded
    for heavy in ("'sqlite_utils'", "'apscheduler'", "'apprise'", "'monitor.store'", "'monitor.pipeline'"):
        assert heavy not in loaded


def test_every_name_of_the_application_resolves_to_its_part() -> None:
    """The application's names load lazily from their parts: each listed one is found, and an unknown one is an
    AttributeError as from any module."""
    from monitor import app

    assert {name: getattr(app, name).__module__ for name in ("status", "check_once", "judge_rules", "counted")} == {
        "status": "monitor.app.archive", "check_once": "monitor.app.checks", "judge_rules": "monitor.app.rules",
        "counted": "monitor.app.words"}
    assert all(getattr(app, name) is not None for name in app.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        app.nothing  # noqa: B018
