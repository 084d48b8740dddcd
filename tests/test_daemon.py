"""`monitor run` as a real subprocess: scheduled checks, and a clean exit on SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor.demo_site import DemoWeb
from tests.conftest import ROOT, cli_env

SHIPPED_RULES = (ROOT / "config.toml").read_text().split("# BEGIN RULES", 1)[1].split("# END RULES", 1)[0]


def write_config(path: Path, web: DemoWeb, interval: int = 1) -> None:
    sources = ""
    for outlet in web.outlets:
        url = web.bases[outlet.slug] + outlet.feed_path
        kind = "page" if outlet.discovery == "listing" else "feed"
        links = 'links = "h2.headline a"\n' if kind == "page" else ""
        sources += f'[[sources]]\nname = "{outlet.name}"\nkind = "{kind}"\nurl = "{url}"\n{links}\n'
    path.write_text(
        f'database = "daemon.db"\n[fetch]\ndelay = 0\n[schedule]\ninterval = {interval}\njitter = 0\n\n'
        + sources + SHIPPED_RULES
    )


def _checks(db: Path) -> int:
    """Sources checked successfully so far (0 while the daemon is still creating the archive)."""
    try:
        with sqlite3.connect(db) as conn:
            sql = "select count(*) from sources where last_checked is not null and last_error is null"
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:
        return 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_daemon_checks_on_schedule_and_stops_cleanly(tmp_path: Path, signum: int) -> None:
    with DemoWeb() as web:
        write_config(tmp_path / "config.toml", web)
        daemon = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run"], cwd=tmp_path, env=cli_env(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            db = tmp_path / "daemon.db"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and _checks(db) < 3:
                time.sleep(0.2)
            assert _checks(db) == 3
            first = {row[0]: row[1] for row in sqlite3.connect(db).execute("select name, last_checked from sources")}
            time.sleep(2.5)  # interval = 1 s: each source is checked again
            again = {row[0]: row[1] for row in sqlite3.connect(db).execute("select name, last_checked from sources")}
            assert all(again[name] > first[name] for name in first)
            daemon.send_signal(signum)
            stopped = time.monotonic()
            _, stderr = daemon.communicate(timeout=15)
            assert time.monotonic() - stopped < 10
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
    assert daemon.returncode == 0, stderr
    assert "daemon stopped" in stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        assert conn.execute("select count(*) from articles").fetchone()[0] == 10
        assert conn.execute("select count(*) from alerts").fetchone()[0] == 1
