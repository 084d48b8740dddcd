"""Analysts read the archive while the daemon writes it: no "database is locked", ever.

The archive is in WAL mode so that ``sqlite-utils`` and Datasette can
read while the daemon writes. This test holds it to that with real processes:
the daemon stores a steady stream of new articles from the simulated web while
another process runs ``sqlite-utils`` queries (full-text search, counts, joins)
in a tight loop through the library, and the ``sqlite-utils`` command line is
run over and over beside it - with the default settings an analyst would use,
no busy timeout of their own.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.newsweb import NewsWeb, start_daemon, wait_for

WINDOW = 5.0  # seconds of reading while the daemon writes
SQLITE_UTILS = str(Path(sys.executable).with_name("sqlite-utils"))

# The reader process: sqlite-utils as a library, as a notebook or Datasette plugin would use it.
READER = """
import sys, time
import sqlite_utils
db = sqlite_utils.Database(sys.argv[1])
queries = done = 0
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    db.execute("select count(*) from articles").fetchone()
    list(db["articles"].search("harbour", columns=["id", "title"], limit=5))
    db.execute("select s.title, count(*) from stories s join articles a on a.story_id = s.id group by s.id").fetchall()
    [table.count for table in db.tables]
    queries += 4
print(queries)
"""


def test_readers_never_see_database_is_locked(tmp_path: Path) -> None:
    db = tmp_path / "monitor.db"
    with NewsWeb(outlets=4, articles=10, fresh=12, scripted=False, faults=False) as web:
        (tmp_path / "config.toml").write_text(web.config_toml(None))
        daemon = start_daemon(tmp_path)
        stop = threading.Event()

        def publish() -> None:  # keep the daemon writing for the whole window
            while not stop.wait(0.4):
                web.advance()

        publisher = threading.Thread(target=publish, daemon=True)
        try:
            log = tmp_path / "daemon.log"
            wait_for(lambda: "daemon started" in log.read_text(), 30, "the daemon to start")
            wait_for(lambda: _articles(db) > 0, 30, "the daemon's first articles")
            before = _articles(db)
            publisher.start()
            reader = subprocess.Popen([sys.executable, "-c", READER, str(db), str(WINDOW)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            cli_runs: list[subprocess.CompletedProcess[str]] = []
            deadline = time.monotonic() + WINDOW
            while time.monotonic() < deadline:
                for args in (["query", str(db), "select count(*) as n from articles"],
                             ["search", str(db), "articles", "bridges", "-c", "title", "--limit", "3"],
                             ["tables", str(db), "--counts"]):
                    cli_runs.append(subprocess.run([SQLITE_UTILS, *args], capture_output=True, text=True, timeout=60))
            out, err = reader.communicate(timeout=60)
            stop.set()
            publisher.join()
            after = _articles(db)
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=15) == 0
        finally:
            stop.set()
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()

    assert after > before, "the daemon was writing while the readers read"
    assert reader.returncode == 0 and int(out) > 0, err
    failed = [run for run in cli_runs if run.returncode != 0]
    assert len(cli_runs) >= 3 and not failed, [run.stderr for run in failed]
    assert "locked" not in (tmp_path / "daemon.log").read_text(), "the daemon itself never waited out a lock"


def _articles(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])
