"""End to end, as users run it: ``monitor once`` and ``monitor run`` as real processes.

They watch the simulated news web of :mod:`tests.newsweb` (which publishes,
syndicates, recycles and misbehaves) and mail a real aiosmtpd server. What is
checked is what a user sees: the alerts in the mailbox, the archive's rows, each
source's health in ``sources`` and ``monitor status``, and - from the web's own
log - which requests were made and which were never made.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from tests.conftest import let_retries_fall_due
from tests.newsweb import FAULT_SOURCES, RETRY_AFTER, NewsWeb, monitor_env, start_daemon, wait_for
from tests.smtpserver import SmtpServer, smtp_server  # noqa: F401 - the fixture

RECALL = "Moscow recalls its ambassador from Washington"
SWAP = "Russia and United States complete prisoner swap"
APPOINTMENT = "Washington names new ambassador to Moscow"


def monitor(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], cwd=cwd, env=monitor_env(),
                          capture_output=True, text=True, timeout=90)


def archive(cwd: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(cwd / "monitor.db")
    conn.row_factory = sqlite3.Row
    return conn


def subjects(smtp: SmtpServer) -> list[str]:
    return [" ".join(str(received.message["Subject"]).split()) for received in smtp.messages]


def assert_archive_holds_the_web(web: NewsWeb, conn: sqlite3.Connection) -> None:
    """Every published article stored exactly once under its canonical URL; nothing else stored or fetched."""
    by_url = dict(conn.execute("SELECT url, article_id FROM article_urls").fetchall())
    published = web.articles()
    missing = [web.url(article) for article in published if web.url(article) not in by_url]
    assert not missing, f"published but not stored: {missing}"
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == len(published)
    recall = web.url(web.article("recall"))
    printed = recall.replace("/world/", "/print/world/")
    assert by_url[printed] == by_url[recall], "the printer version is the same article"
    faulty = [url for url in by_url if "/fault/" in url and not url.endswith("/fault/malformed/")]
    assert not faulty, f"a faulty page was stored: {faulty}"
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    never = [hit for hit in web.hits() if hit.kind == "canary" or hit.path.startswith("/members/")]
    assert not never, f"private or robots-disallowed URLs were requested: {never}"


def assert_health(web: NewsWeb, conn: sqlite3.Connection, *, failing_checks: int) -> None:
    """Healthy sources have no error; each faulty one shows its own failure in ``sources``."""
    rows = {row["name"]: row for row in conn.execute("SELECT * FROM sources")}
    for outlet in web.outlets:
        row = rows[outlet.name]
        assert row["last_checked"] is not None, outlet.name
        if outlet.fault in ("", "garbled"):  # a malformed feed that still yields its items is a success
            assert (row["last_error"], row["failures"]) == (None, 0), outlet.name
        elif outlet.fault == "failing":
            assert "500" in row["last_error"] and row["failures"] >= failing_checks
        elif outlet.fault == "throttled":
            assert "429" in row["last_error"] and row["failures"] == 1
            wait = datetime.fromisoformat(row["next_due"]) - datetime.fromisoformat(row["last_checked"])
            assert wait >= timedelta(seconds=RETRY_AFTER - 2), "Retry-After is honoured"
        else:
            assert outlet.fault == "stalled" and row["last_error"] and row["failures"] >= 1, dict(row)
    assert set(FAULT_SOURCES) <= {outlet.fault for outlet in web.outlets}


@pytest.mark.parametrize("workers", [0, 2], ids=["in-process", "two-workers"])
def test_once_twice_over_a_changing_misbehaving_web(
    tmp_path: Path, smtp_server: SmtpServer, workers: int  # noqa: F811
) -> None:
    """The same outcome whether pages are parsed in the monitor's process or in its parsing workers."""
    with NewsWeb() as web:
        (tmp_path / "config.toml").write_text(f"{web.config_toml(smtp_server.port)}\n[limits]\nworkers = {workers}\n")

        first = monitor(tmp_path, "once")
        assert first.returncode == 0, first.stderr
        assert subjects(smtp_server) == [f"[monitor] ambassadors: {RECALL}"]
        conn = archive(tmp_path)
        [alert] = conn.execute("SELECT * FROM alerts").fetchall()
        assert alert["sent"] is not None and alert["message_id"] == smtp_server.messages[0].message_id
        assert_archive_holds_the_web(web, conn)
        assert_health(web, conn, failing_checks=1)
        traps = [web.url(web.article(key)) for key in ("goodwill", "pows")]
        assert not conn.execute(
            "SELECT * FROM mentions JOIN articles ON articles.id = mentions.article_id"
            " WHERE mentions.new = 1 AND articles.url IN (?, ?)", traps).fetchall()

        before = len(web.hits())
        web.advance()  # the recall syndicated, a prisoner swap, a recycled paragraph
        let_retries_fall_due(tmp_path / "monitor.db")
        second = monitor(tmp_path, "once")
        assert second.returncode == 0, second.stderr
        assert subjects(smtp_server)[1:] == [f"[monitor] prisoner swap: {SWAP}"]
        assert_archive_holds_the_web(web, conn)
        # Found by any of its URLs: the printer version may be stored first, the recall's URL then its alias.
        recall_story = conn.execute(
            "SELECT stories.* FROM stories JOIN articles ON articles.story_id = stories.id"
            " JOIN article_urls ON article_urls.article_id = articles.id WHERE article_urls.url = ?",
            [web.url(web.article("recall"))]).fetchone()
        assert (recall_story["article_count"], recall_story["outlet_count"]) == (2, 2)
        recycled = conn.execute(
            "SELECT mentions.new FROM mentions JOIN articles ON articles.id = mentions.article_id WHERE url = ?",
            [web.url(web.article("grain"))]).fetchall()
        assert recycled and not any(row["new"] for row in recycled), "a recycled paragraph is not news"

        # The second cycle asks every unchanged source conditionally (304) and fetches only new articles.
        cycle = web.hits()[before:]
        new_paths = {article.path for article in web.articles() if article.edition == 1}
        # ... and retries the articles whose fetch failed in a way worth retrying (500, time-out,
        # cut-off body, a consent wall with no article text yet) once their wait is over, which a 304 of their source
        # would otherwise lose for good.
        retried = {"/fault/gone/", "/fault/slow/", "/fault/truncated/", "/fault/consent/"}
        fetched = {hit.path for hit in cycle if hit.kind == "article"}
        assert fetched - retried <= new_paths
        assert retried <= fetched
        changed = {web.outlets[article.outlet].slug for article in web.articles() if article.edition == 1}
        healthy = {outlet.slug for outlet in web.outlets if not outlet.fault}
        # outlet0 serves the faulty articles: with some worth retrying, its feed is re-read in full.
        retrying = {web.outlets[0].slug}
        assert any(hit.outlet in retrying and hit.kind == "source" and not hit.conditional for hit in cycle)
        unchanged = [hit for hit in cycle if hit.kind == "source" and hit.outlet in healthy - changed - retrying]
        # A source that answered 429 with Retry-After is left alone until then, by `once` too.
        throttled = next(outlet for outlet in web.outlets if outlet.fault == "throttled")
        assert not [hit for hit in cycle if hit.outlet == throttled.slug]
        assert "backing off until" in second.stdout
        assert unchanged and all(hit.conditional and hit.status == 304 for hit in unchanged), unchanged

        status = monitor(tmp_path, "status")
        assert status.returncode == 0, status.stderr
        for outlet in web.outlets:
            assert outlet.name in status.stdout
        assert "HTTP 500" in status.stdout and "HTTP 429" in status.stdout
        assert "e-mail: all delivered" in status.stdout


def test_daemon_follows_the_web_and_stops_cleanly(tmp_path: Path, smtp_server: SmtpServer) -> None:  # noqa: F811
    with NewsWeb() as web:
        (tmp_path / "config.toml").write_text(web.config_toml(smtp_server.port))
        daemon = start_daemon(tmp_path)
        try:
            wait_for(lambda: len(smtp_server.messages) >= 1, 60, "the first alert")
            web.advance()
            wait_for(lambda: len(smtp_server.messages) >= 2, 60, "the second alert")
            web.advance()
            wait_for(lambda: len(smtp_server.messages) >= 3, 60, "the third alert")
            conn = archive(tmp_path)
            wait_for(lambda: conn.execute("SELECT count(*) FROM articles").fetchone()[0] >= len(web.articles()),
                     60, "every article stored")
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=10) == 0
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
    log = (tmp_path / "daemon.log").read_text()
    assert "daemon stopped" in log
    assert subjects(smtp_server) == [f"[monitor] ambassadors: {RECALL}", f"[monitor] prisoner swap: {SWAP}",
                                     f"[monitor] ambassadors: {APPOINTMENT}"]
    alerts = conn.execute("SELECT message_id, sent FROM alerts ORDER BY id").fetchall()
    assert [row["message_id"] for row in alerts] == [received.message_id for received in smtp_server.messages]
    assert all(row["sent"] for row in alerts)
    assert_archive_holds_the_web(web, conn)
    assert_health(web, conn, failing_checks=2)
    throttled = next(outlet for outlet in web.outlets if outlet.fault == "throttled")
    assert sum(1 for hit in web.hits() if hit.outlet == throttled.slug and hit.kind == "source") == 1
