"""The container image: a lean, reproducible build, and (where a Docker engine runs) the image itself."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli_env
from tests.httpserver import LocalWeb

DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
IMAGE = "monitor-test:latest"


def instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_build_context_leaves_local_state_and_secrets_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for pattern in (".git", ".venv", "*.db", "*.db-wal", "*.db-shm", "*.db.lock", "**/__pycache__", ".env",
                    ".pytest_cache", ".mypy_cache", "demo-output"):
        assert pattern in ignored, f".dockerignore lacks {pattern}"
    assert "config.toml" not in ignored and "monitor" not in ignored  # what the image is built from


def test_the_base_image_is_pinned_to_an_exact_release() -> None:
    [base] = [line.split()[1] for line in instructions() if line.startswith("FROM ")]
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?|python@sha256:[0-9a-f]{64}", base), base


def test_dependencies_are_installed_before_the_code_is_copied() -> None:
    steps = instructions()
    copy_project = steps.index("COPY pyproject.toml ./")
    install_deps = next(n for n, step in enumerate(steps) if step.startswith("RUN ") and "pip install -r" in step)
    copy_code = steps.index("COPY monitor ./monitor")
    assert copy_project < install_deps < copy_code
    assert any(step.startswith("RUN pip install --no-deps .") for step in steps[copy_code:])


def test_the_healthcheck_asks_status_check() -> None:
    [check] = [step for step in instructions() if step.startswith("HEALTHCHECK ")]
    assert '"status", "--check"' in check


def _engine() -> str | None:
    """Why no image can be built here, or None when a Docker engine answers."""
    if shutil.which("docker") is None:
        return "no docker command here"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "docker info timed out"
    if info.returncode != 0:
        return f"no Docker engine answers here: {(info.stderr.strip().splitlines() or ['docker info failed'])[-1]}"
    return None


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    reason = _engine()
    if reason:
        pytest.skip(reason)
    subprocess.run(["docker", "build", "-t", IMAGE, str(ROOT)], check=True, capture_output=True, timeout=900)
    yield IMAGE
    subprocess.run(["docker", "rmi", "-f", IMAGE], capture_output=True, timeout=120)


@pytest.mark.timeout(900)
def test_the_image_runs_the_daemon_healthy_and_stops_within_ten_seconds(image: str, tmp_path: Path) -> None:
    """No sources (nothing reaches the internet): the daemon ticks, status --check says so, SIGTERM stops it."""
    config = tmp_path / "config.toml"
    config.write_text("[schedule]\nheartbeat = 1\n")
    config.chmod(0o644)
    name = f"monitor-test-{int(time.time())}"
    listing = subprocess.run(["docker", "run", "--rm", "--entrypoint", "ls", image, "-a", "/app"],
                             capture_output=True, text=True, check=True, timeout=120).stdout.split()
    assert ".venv" not in listing and ".git" not in listing and "tests" not in listing
    subprocess.run(["docker", "run", "-d", "--name", name, "-v", f"{config}:/etc/monitor/config.toml:ro", image],
                   check=True, capture_output=True, timeout=120)
    try:
        check = ["docker", "exec", name, "monitor", "--config", "/etc/monitor/config.toml", "--db",
                 "/data/monitor.db", "-q", "status", "--check"]
        deadline = time.monotonic() + 60
        while subprocess.run(check, capture_output=True, timeout=60).returncode != 0:
            assert time.monotonic() < deadline, "the container's daemon never became healthy"
            time.sleep(1)
        started = time.monotonic()
        subprocess.run(["docker", "stop", "--time", "15", name], check=True, capture_output=True, timeout=60)
        assert time.monotonic() - started < 10
        state = subprocess.run(["docker", "inspect", "--format", "{{.State.ExitCode}}", name],
                               capture_output=True, text=True, check=True, timeout=60).stdout.strip()
        assert state == "0"
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)


# Run as root in a mount namespace of its own: /tmp, /var/tmp and the working folder read-only, as a container's root
# is under `docker run --read-only`, and only the archive's folder (the volume) writable.
_READ_ONLY_ROOT = """
set -e
mount --make-rprivate /
for folder in /tmp /var/tmp "$WORK"; do mount --bind "$folder" "$folder"; done
mount --bind "$WORK/data" "$WORK/data"
for folder in /tmp /var/tmp "$WORK"; do mount -o remount,bind,ro "$folder"; done
cd "$WORK"
if "$PYTHON" -c "import tempfile; tempfile.gettempdir()" 2>/dev/null; then echo "a temp folder is writable"; exit 99; fi
exec "$PYTHON" -m monitor once
"""


def test_once_works_in_a_container_whose_root_is_read_only(tmp_path: Path, local_web: LocalWeb) -> None:
    """`docker run --read-only` with the archive on a volume: no folder for temporary files. The parsing workers' fork
    server found none for its socket ("the parsing workers could not start: … No usable temporary directory"), and
    SQLite none for its statement journal, so an article with an alert was never stored ("disk I/O error")."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode:
        pytest.skip("no mount namespace can be made here (needs root and unshare)")
    passage = "Russia and the United States carried out a prisoner swap in Abu Dhabi on Thursday, officials said."
    local_web.route("/swap", f"<html><head><title>Swap</title></head><body><article><h1>Swap</h1>"
                             f"{'<p>' + passage + ' The talks took months of quiet work by both sides.</p>' * 4}"
                             f"</article></body></html>")
    local_web.route("/feed.xml", f'<rss version="2.0"><channel><title>t</title><item><title>Swap</title>'
                                 f'<link>{local_web.url("/swap")}</link></item></channel></rss>',
                    content_type="application/rss+xml")
    (tmp_path / "data").mkdir()
    (tmp_path / "config.toml").write_text(
        f'database = "data/monitor.db"\n[fetch]\ndelay = 0\nrobots = false\nallow_private = true\n'
        f'[limits]\nworkers = 1\n[[sources]]\nname = "wire"\nkind = "feed"\nurl = "{local_web.url("/feed.xml")}"\n'
        f'[[rules]]\nname = "swap"\nquery = \'"prisoner swap"\'\n')
    env = {key: value for key, value in cli_env().items() if key not in ("TMPDIR", "TEMP", "TMP")}
    result = subprocess.run(["unshare", "-m", "sh", "-c", _READ_ONLY_ROOT], capture_output=True, text=True, timeout=60,
                            env={**env, "WORK": str(tmp_path), "PYTHON": sys.executable, "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the parsing workers start without a fork server" in result.stderr
    with sqlite3.connect(tmp_path / "data" / "monitor.db") as conn:
        assert conn.execute("SELECT count(*) FROM alerts").fetchone() == (1,)
