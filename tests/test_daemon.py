"""`monitor run` as a real subprocess: scheduled checks, a clean exit on SIGTERM/SIGINT with a grace for
the checks in flight, the heartbeat behind `status --check`, one daemon per archive, a spread first start."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor import health
from monitor.alerts.outbox import INTERRUPTED
from monitor.config import load_config, shipped_rules
from monitor.demo import run_demo
from monitor.demo_site import DemoWeb
from monitor.models import Heartbeat
from monitor.scheduler import ClockWatch, Daemon, follow_clock
from monitor.store import Archive
from monitor.workers import Workers
from tests.conftest import ROOT, RunCLI, cli_env
from tests.httpserver import LocalWeb, Route
from tests.newsweb import start_daemon, wait_for
from tests.smtpserver import SlowSmtpServer, SmtpServer

SHIPPED_RULES = (ROOT / "config.toml").read_text().split("# BEGIN RULES", 1)[1].split("# END RULES", 1)[0]


def write_config(path: Path, web: DemoWeb, interval: int = 1) -> None:
    sources = ""
    for outlet in web.outlets:
        url = web.bases[outlet.slug] + outlet.feed_path
        kind = "page" if outlet.discovery == "listing" else "feed"
        links = 'links = "h2.headline a"\n' if kind == "page" else ""
        sources += f'[[sources]]\nname = "{outlet.name}"\nkind = "{kind}"\nurl = "{url}"\n{links}\n'
    path.write_text(
        f'database = "daemon.db"\n[fetch]\ndelay = 0\n[schedule]\ninterval = {interval}\njitter = 0\nadaptive = false\n\n'
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


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda signum: signum.name)
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
            opened = [f.path for f in psutil.Process(daemon.pid).open_files() if Path(f.path) == db.resolve()]
            assert len(opened) == 1  # one connection: every read and write goes through the archive writer
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


# ------------------------------------------------------------ operations: stop, heartbeat, lock, first start

EMPTY_FEED = '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title></channel></rss>'


def local_config(tmp_path: Path, web: LocalWeb, paths: list[str], *, jitter: int = 0) -> None:
    """config.toml for ``monitor run`` against the loopback server: one feed source per path."""
    sources = "".join(f'[[sources]]\nname = "feed {n}"\nkind = "feed"\nurl = "{web.url(path)}"\n'
                      for n, path in enumerate(paths))
    (tmp_path / "config.toml").write_text(
        "[fetch]\ndelay = 0\nrobots = false\ntimeout = 60\n"
        f"[schedule]\ninterval = 3600\njitter = {jitter}\nheartbeat = 1\n" + sources
    )


def stop(daemon: subprocess.Popen[bytes], log: Path) -> str:
    """SIGTERM, then the log; the daemon must be gone within 10 s, with status 0."""
    daemon.send_signal(signal.SIGTERM)
    started = time.monotonic()
    try:
        daemon.wait(timeout=15)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert time.monotonic() - started < 10
    text = log.read_text()
    assert daemon.returncode == 0, text
    return text


def sigterm_during_a_check(tmp_path: Path, web: LocalWeb, answer_after: float) -> tuple[str, list[tuple[str, ...]]]:
    """SIGTERM while the one source's feed takes ``answer_after`` s to answer; the log (no error in it) and the
    source's (last_checked, last_error)."""
    web.route("/feed.xml", EMPTY_FEED, content_type="application/rss+xml", delay=answer_after)
    local_config(tmp_path, web, ["/feed.xml"])
    daemon = start_daemon(tmp_path)
    wait_for(lambda: web.hits("/feed.xml") == 1, 30, "the check to start")
    log = stop(daemon, tmp_path / "daemon.log")
    assert "ERROR" not in log and "Traceback" not in log, log
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        return log, conn.execute("SELECT last_checked, last_error FROM sources").fetchall()


def test_a_delivery_to_a_stalled_smtp_server_does_not_hold_the_stop(tmp_path: Path) -> None:
    """The SMTP conversation ran in the event loop's default executor, which the end of the process waits for: a
    server that accepted the connection and said nothing held `run` for email.timeout after "daemon stopped",
    25 s past SIGTERM with the default 30 s. The alert is still queued, to be sent at the next start."""
    database = run_demo(shipped_rules(), tmp_path / "demo").database  # one alert queued in it
    with socket.socket() as stalled:
        stalled.bind(("127.0.0.1", 0))
        stalled.listen()
        port = stalled.getsockname()[1]
        (tmp_path / "config.toml").write_text(
            f'database = "{database}"\n[schedule]\nheartbeat = 1\n'
            f'[email]\nhost = "127.0.0.1"\nport = {port}\ntimeout = 60\nrecipients = ["analyst@example.org"]\n')
        daemon = start_daemon(tmp_path)
        stalled.settimeout(30)
        connection, _ = stalled.accept()  # the delivery has begun, and waits for a greeting that never comes
        with connection:
            log = stop(daemon, tmp_path / "daemon.log")
    assert "Traceback" not in log, log
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM alerts WHERE sent IS NULL").fetchone()[0] == 1


def _checks_by_source(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT source, count(*) FROM source_checks GROUP BY source").fetchall())


def write_mail_config(path: Path, web: DemoWeb, port: int, timeout: float) -> None:
    """The daemon's config for ``web`` (:func:`write_config`), its alerts mailed through 127.0.0.1:``port``."""
    write_config(path, web)
    with path.open("a") as config:
        config.write(f'\n[email]\nhost = "127.0.0.1"\nport = {port}\ntimeout = {timeout}\n'
                     'recipients = ["analyst@example.org"]\n')


def test_a_slow_mail_server_delays_the_mail_and_never_the_checks(tmp_path: Path) -> None:
    """A check that queued an alert delivered it itself: a mail server answering each line just within email.timeout
    held it for minutes a message, and its source went unchecked meanwhile. The delivery job sends it now."""
    with DemoWeb() as web, SlowSmtpServer(delay=0.6) as mail:
        write_mail_config(tmp_path / "config.toml", web, mail.port, timeout=5)
        daemon = start_daemon(tmp_path)
        try:
            wait_for(lambda: mail.connections, 30, "the alert's delivery to begin")
            before = _checks_by_source(tmp_path / "daemon.db")
            wait_for(lambda: mail.accepted, 30, "the mail server to accept the alert")  # seven replies: 4 s
            during = _checks_by_source(tmp_path / "daemon.db")
        finally:
            log = stop(daemon, tmp_path / "daemon.log")
    assert "Traceback" not in log, log
    assert len(before) == len(web.outlets)
    assert all(during[name] - before[name] >= 2 for name in before), (before, during)  # interval = 1 s


def test_a_stop_in_the_middle_of_a_send_gives_the_alerts_claim_back(tmp_path: Path) -> None:
    """The alert stayed claimed for its lease (5.5 minutes at the defaults): a restart sent nothing and said nothing.
    Given back, it is due at once; the server may have taken it (the one repeat the lease allows)."""
    with DemoWeb() as web, SlowSmtpServer(delay=3.0) as mail:
        write_mail_config(tmp_path / "config.toml", web, mail.port, timeout=20)
        daemon = start_daemon(tmp_path)
        try:
            wait_for(lambda: mail.connections, 30, "the alert's delivery to begin")
        finally:
            stop(daemon, tmp_path / "daemon.log")
        assert not mail.accepted
    with sqlite3.connect(tmp_path / "daemon.db") as db:
        rows = db.execute("SELECT sent, last_error, next_attempt FROM alerts").fetchall()
    assert rows and all(sent is None for sent, _, _ in rows)
    assert [error for _, error, _ in rows if error] == [INTERRUPTED]
    assert all(datetime.fromisoformat(due) <= datetime.now(UTC) for _, error, due in rows if error)


def test_a_check_in_flight_at_sigterm_finishes_within_the_grace(tmp_path: Path, local_web: LocalWeb) -> None:
    _, [(last_checked, last_error)] = sigterm_during_a_check(tmp_path, local_web, answer_after=2.0)
    assert last_checked is not None and last_error is None


def test_a_check_longer_than_the_grace_is_cancelled_quietly(tmp_path: Path, local_web: LocalWeb) -> None:
    log, rows = sigterm_during_a_check(tmp_path, local_web, answer_after=30.0)
    assert "check of feed 0: cut short by the stop" in log
    assert rows == [(None, None)]  # not recorded as checked, nor as failed


def status_check(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", "-q", "status", "--check"], cwd=tmp_path, env=cli_env(),
                          capture_output=True, text=True, timeout=60)


def test_status_check_fails_when_the_scheduler_stops_ticking(tmp_path: Path, local_web: LocalWeb) -> None:
    local_web.route("/feed.xml", EMPTY_FEED, content_type="application/rss+xml")
    local_config(tmp_path, local_web, ["/feed.xml"])
    assert "no archive at" in status_check(tmp_path).stderr
    daemon = start_daemon(tmp_path)
    try:
        wait_for(lambda: status_check(tmp_path).returncode == 0, 30, "a healthy daemon")
        assert status_check(tmp_path).stdout.startswith("healthy: heartbeat")
        daemon.send_signal(signal.SIGSTOP)  # hung: alive, but its loop does nothing
        time.sleep(3.5)  # three heartbeats of 1 s missed
        result = status_check(tmp_path)
    finally:
        daemon.kill()
        daemon.wait()
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "monitor: unhealthy: the scheduler has not ticked for" in result.stderr
    assert f"from pid {daemon.pid}" in result.stderr


def test_a_silent_scheduler_on_a_full_disk_is_blamed_on_the_disk_not_on_a_stopped_daemon() -> None:
    """A daemon whose archive's disk is full cannot beat, though it runs on: restarting it, as "is monitor run still
    running?" suggests, does not help."""
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    beat = Heartbeat(pid=4242, beat=now - timedelta(seconds=60), every=2)

    def said(free: int | None) -> str:
        [problem] = health.problems(beat, [], {}, now, {}, None if free is None else ("/data/monitor.db", free))
        return problem

    assert said(0).endswith("the disk holding /data/monitor.db is full (0 bytes free): free some space: the daemon"
                            " resumes by itself")
    assert said(4096).startswith("the scheduler has not ticked for 60 s") and "(4,096 bytes free)" in said(4096)
    for free in (health.DISK_FULL, None):  # room to write, or the disk unknown: the daemon itself is in doubt
        assert said(free).endswith("is monitor run still running?")
    assert health.problems(Heartbeat(4242, now, 2), [], {}, now, {}, ("/data/monitor.db", 0)) == []


def test_status_check_fails_when_every_source_is_failing(tmp_path: Path, local_web: LocalWeb) -> None:
    local_web.route("/ok.xml", EMPTY_FEED, content_type="application/rss+xml")
    local_web.route("/down.xml", "down", status=503)
    local_config(tmp_path, local_web, ["/down.xml", "/ok.xml"])
    daemon = start_daemon(tmp_path)
    try:
        wait_for(lambda: status_check(tmp_path).returncode == 0, 30, "a healthy daemon with one source failing")
        local_web.route("/ok.xml", "down", status=503)
        subprocess.run([sys.executable, "-m", "monitor", "-q", "once", "--force"], cwd=tmp_path, env=cli_env(),
                       capture_output=True, timeout=60)
        result = status_check(tmp_path)
    finally:
        stop(daemon, tmp_path / "daemon.log")
    assert result.returncode == 1
    assert "monitor: unhealthy: every source is failing (2): see last_error in monitor status" in result.stderr


def test_an_archive_locked_by_another_process_costs_the_jobs_a_line_each_and_they_go_on(
    tmp_path: Path, local_web: LocalWeb
) -> None:
    """Another process holding the write lock past the busy timeout (a user's long write in sqlite-utils) made every
    job that wrote meanwhile fail with APScheduler's traceback. Each says so in one line, and they go on after it."""
    local_web.route("/feed.xml", EMPTY_FEED, content_type="application/rss+xml")
    local_config(tmp_path, local_web, ["/feed.xml"])
    daemon = start_daemon(tmp_path)
    log = tmp_path / "daemon.log"
    try:
        wait_for(lambda: status_check(tmp_path).returncode == 0, 30, "a healthy daemon")
        with sqlite3.connect(tmp_path / "monitor.db", isolation_level=None) as holder:
            holder.execute("BEGIN IMMEDIATE")
            wait_for(lambda: "heartbeat: not done" in log.read_text(), 30, "the heartbeat to give up on the lock")
            holder.rollback()
        time.sleep(2.5)  # heartbeat = 1 s: the next ones are written
        healthy = status_check(tmp_path)
    finally:
        text = stop(daemon, log)
    assert "Traceback" not in text, text
    locked = [line for line in text.splitlines() if "stayed locked by another process" in line]
    assert locked and all(" ERROR monitor.scheduler: " in line and ": not done, " in line
                          and line.endswith("; tried again at its next run") for line in locked), locked
    assert healthy.returncode == 0, healthy.stderr


def test_a_full_disk_costs_the_jobs_a_line_each_and_the_articles_are_stored_once_there_is_room(
    tmp_path: Path, local_web: LocalWeb, run_cli: RunCLI
) -> None:
    """The archive's files may not grow (a full disk, reached by a file size limit): every job that wrote failed with
    APScheduler's traceback and an "exception was never retrieved" one, a few a second. Each says so in one line;
    what was not stored is fetched again, and stored once there is room."""
    story = " ".join(f"Sentence {n} of a report on the envoys returning to Moscow after the talks." for n in range(4000))
    for number in range(5):
        local_web.route(f"/s/{number}", f"<html><head><title>Report {number}</title></head><body><article>"
                        f"<p>Report {number}. {story}</p></article></body></html>", content_type="text/html")
    local_web.route("/feed.xml", EMPTY_FEED, content_type="application/rss+xml")
    (tmp_path / "config.toml").write_text(
        "[fetch]\ndelay = 0\nrobots = false\n[schedule]\ninterval = 1\njitter = 0\nadaptive = false\nheartbeat = 1\n"
        f'[[sources]]\nname = "wire"\nkind = "feed"\nurl = "{local_web.url("/feed.xml")}"\n')
    run_cli("once")
    items = "".join(f"<item><title>Report {n}</title><link>{local_web.url(f'/s/{n}')}</link></item>" for n in range(5))
    local_web.route("/feed.xml", f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>',
                    content_type="application/rss+xml")
    limit = 40_000  # bytes of a file written at most: a few heartbeats in the -wal file, no article
    limited = [sys.executable, "-c", f"import os, resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, "
               f"{limit})); os.execv(sys.argv[1], sys.argv[1:])"]
    log = tmp_path / "daemon.log"
    with log.open("ab") as output:
        daemon = subprocess.Popen([*limited, sys.executable, "-m", "monitor", "run"], cwd=tmp_path, env=cli_env(),
                                  stdin=subprocess.DEVNULL, stdout=output, stderr=output)
    try:
        wait_for(lambda: [line for line in log.read_text().splitlines()
                          if "disk I/O error" in line and "could not be stored" not in line], 30, "a job to fail")
    finally:
        text = stop(daemon, log)
    assert "Traceback" not in text and "never retrieved" not in text, text
    run_cli("once")
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (5,)


def test_a_second_daemon_on_one_archive_is_refused_with_the_first_ones_pid(tmp_path: Path, local_web: LocalWeb) -> None:
    local_web.route("/feed.xml", EMPTY_FEED, content_type="application/rss+xml")
    local_config(tmp_path, local_web, ["/feed.xml"])
    first = start_daemon(tmp_path)
    try:
        wait_for(lambda: "daemon started" in (tmp_path / "daemon.log").read_text(), 30, "the first daemon")
        second = subprocess.run([sys.executable, "-m", "monitor", "run"], cwd=tmp_path, env=cli_env(),
                                capture_output=True, text=True, timeout=30)
        (tmp_path / "alias.db").symlink_to(tmp_path / "monitor.db")
        aliased = subprocess.run([sys.executable, "-m", "monitor", "--db", "alias.db", "run"], cwd=tmp_path,
                                 env=cli_env(), capture_output=True, text=True, timeout=30)
        assert first.poll() is None
    finally:
        stop(first, tmp_path / "daemon.log")
    assert second.returncode == 1 and len(second.stderr.splitlines()) == 1, second.stderr
    assert second.stderr.startswith(f"monitor: another monitor run (pid {first.pid}) is using ")
    # nor through a symbolic link to the archive, whose lock was beside the link
    assert aliased.returncode == 1 and f"(pid {first.pid})" in aliased.stderr, aliased.stderr
    # Once the first has stopped, the lock is free again.
    again = start_daemon(tmp_path)
    wait_for(lambda: (tmp_path / "daemon.log").read_text().count("daemon started") == 2, 30, "the next daemon")
    stop(again, tmp_path / "daemon.log")


def test_a_first_start_spreads_the_first_checks_over_the_jitter(tmp_path: Path, local_web: LocalWeb) -> None:
    paths = [f"/feed{n}.xml" for n in range(8)]
    for path in paths:
        local_web.route(path, EMPTY_FEED, content_type="application/rss+xml")
    local_config(tmp_path, local_web, paths, jitter=3)
    daemon = start_daemon(tmp_path)
    try:
        wait_for(lambda: all(local_web.hits(path) for path in paths), 30, "every first check")
    finally:
        stop(daemon, tmp_path / "daemon.log")
    arrivals = [request.at for request in local_web.requests if request.path in paths]
    assert max(arrivals) - min(arrivals) > 0.5  # eight uniform draws over 3 s all within 0.5 s: p < 1e-4


def follow_a_publishing_source(tmp_path: Path, local_web: LocalWeb, *, interval: int, answer_after: float) -> int:
    """Run the daemon on one adaptive feed that has a new link at every check and answers after ``answer_after``
    seconds, until it has been checked four times (30 s at most); the source's learned interval."""
    served = iter(range(1_000_000))

    def feed(_: object) -> Route:
        time.sleep(answer_after)
        item = f"<item><link>{local_web.url(f'/a/{next(served)}')}</link></item>"
        return Route(body=f'<rss version="2.0"><channel>{item}</channel></rss>'.encode(),
                     headers={"Content-Type": "application/rss+xml"})

    local_web.route("/feed.xml", handler=feed)
    (tmp_path / "config.toml").write_text(
        "[fetch]\ndelay = 0\nrobots = false\n"
        f"[schedule]\ninterval = {interval}\njitter = 0\nmin_interval = 1\nmax_interval = 3600\n"
        f'[[sources]]\nname = "busy"\nkind = "feed"\nurl = "{local_web.url("/feed.xml")}"\n'
    )
    daemon = start_daemon(tmp_path)
    try:
        wait_for(lambda: local_web.hits("/feed.xml") >= 4, 30, "four checks of the busy source")
    finally:
        stop(daemon, tmp_path / "daemon.log")
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        [(learned,)] = conn.execute("SELECT interval FROM sources").fetchall()
    return int(learned)


def test_an_adaptive_source_is_checked_when_its_last_check_said(tmp_path: Path, local_web: LocalWeb) -> None:
    """Each check finds a new link, a rate the learned interval keeps near the configured 2 s: the
    daemon follows it, not its trigger's fallback of max_interval (an hour)."""
    assert follow_a_publishing_source(tmp_path, local_web, interval=2, answer_after=0) <= 5


def test_a_check_that_outlasts_its_learned_interval_is_followed_by_the_next(tmp_path: Path, local_web: LocalWeb) -> None:
    """A slow source (each check takes longer than the learned interval) is checked again at once, not after the
    trigger's fallback of max_interval: a due time that passes while the check still runs is not skipped."""
    assert follow_a_publishing_source(tmp_path, local_web, interval=1, answer_after=1.5) <= 5


@pytest.mark.parametrize("replaced", [False, True])
def test_an_archive_deleted_or_replaced_under_the_daemon_stops_it_in_one_line(tmp_path: Path, local_web: LocalWeb,
                                                                              replaced: bool) -> None:
    """The daemon went on writing to the file it had open, deleted (or moved aside for another): every article,
    alert and heartbeat from then on was lost with it, without a word. Its heartbeat now sees it and stops."""
    local_web.route("/feed.xml", EMPTY_FEED, content_type="application/rss+xml")
    local_config(tmp_path, local_web, ["/feed.xml"])
    archive = tmp_path / "monitor.db"
    daemon = start_daemon(tmp_path)
    try:
        wait_for(lambda: status_check(tmp_path).returncode == 0, 30, "a healthy daemon")
        if replaced:  # a copy restored from a backup, moved into place
            with sqlite3.connect(archive) as live, sqlite3.connect(tmp_path / "restored.db") as restored:
                live.backup(restored)
            (tmp_path / "restored.db").replace(archive)
        else:
            archive.unlink()
        daemon.wait(timeout=15)  # heartbeat = 1 s
    finally:
        if daemon.poll() is None:
            daemon.kill()
    log = (tmp_path / "daemon.log").read_text()
    assert daemon.returncode == 1, log
    assert "Traceback" not in log and log.splitlines()[-1] == (
        f"monitor: {archive} was deleted or replaced while monitor had it open, and what it wrote since went to the"
        f" file that was there before: start monitor again to use (or create) the archive now at {archive}")
    if replaced:  # the old file's WAL, checkpointed into it as the daemon closed, left the copy whole
        with sqlite3.connect(archive) as conn:
            assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"


# ------------------------------------------------------------ the system clock stepped while the daemon runs


def test_a_clock_watch_tells_a_step_of_the_system_clock_from_time_passing() -> None:
    walls = iter([1000.0, 1010.0, 1015.0 - 3 * 3600, 1025.0 - 3 * 3600 + 5 * 3600])
    monotonics = iter([5.0, 15.0, 20.0, 30.0])
    watch = ClockWatch(wall=walls.__next__, monotonic=monotonics.__next__)
    assert [watch.step(), watch.step(), watch.step()] == [0.0, -3 * 3600.0, 5 * 3600.0]


def test_a_clock_set_back_moves_the_checks_back_and_the_digest_keeps_its_time() -> None:
    """The clock set back by three hours left every interval job due three hours ahead, as APScheduler keeps system
    times: nothing ran for three hours. Moved back, the check runs when it would have; the digest keeps 08:00."""

    async def main() -> None:
        ran = asyncio.Event()

        async def check() -> None:
            ran.set()

        async def digest() -> None:
            pass

        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(check, IntervalTrigger(seconds=900, timezone=UTC),
                          next_run_time=datetime.now(UTC) + timedelta(hours=3, seconds=0.5))
        scheduler.add_job(digest, CronTrigger.from_crontab("0 8 * * *", timezone=UTC), id="digest")
        scheduler.start()
        try:
            at_eight = scheduler.get_job("digest").next_run_time
            follow_clock(scheduler, timedelta(hours=-3))
            await asyncio.wait_for(ran.wait(), 5)
            assert scheduler.get_job("digest").next_run_time == at_eight
        finally:
            scheduler.shutdown(wait=False)

    asyncio.run(main())


def test_workers_that_cannot_start_cost_each_check_a_line_not_a_traceback(
    tmp_path: Path, local_web: LocalWeb, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Fault injection (the system refusing new processes cannot be staged here as root): every check of a daemon
    whose parsing workers could not start ended in APScheduler's traceback, for as long as the daemon ran."""
    local_web.route("/feed.xml", EMPTY_FEED, content_type="application/rss+xml")
    local_config(tmp_path, local_web, ["/feed.xml"])

    def refused(self: Workers) -> None:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(Workers, "_spawn", refused)
    settings = load_config(tmp_path / "config.toml").model_copy(update={"database": str(tmp_path / "monitor.db")})
    Archive.create(settings.database).close()

    async def main() -> None:
        daemon = Daemon(settings)
        running = asyncio.create_task(daemon.run())
        for _ in range(300):
            if "check of feed 0: not done" in caplog.text:
                break
            await asyncio.sleep(0.1)
        daemon.stop()
        await asyncio.wait_for(running, 15)

    with caplog.at_level(logging.INFO):
        asyncio.run(main())
    said = [record for record in caplog.records if "check of feed 0" in record.getMessage()]
    assert [record.getMessage() for record in said] == [
        "check of feed 0: not done, the parsing workers could not start: BlockingIOError: [Errno 11] Resource"
        " temporarily unavailable; the workers are started again 60 s after they failed"]
    assert said[0].levelname == "ERROR" and not any(record.exc_info for record in caplog.records)


def test_a_digest_time_missed_while_the_daemon_was_down_is_sent_at_the_next_start(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """The digest job fired at digest_cron only: a daemon stopped (or a machine suspended for over an hour) across
    that time held the day's alerts to the next day's digest, a day late. The start sends the missed digest, once."""
    database = run_demo(shipped_rules(), tmp_path / "demo").database  # one alert queued in it
    with sqlite3.connect(database) as conn:
        two_days_ago = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        conn.execute("UPDATE alerts SET created = ?", (two_days_ago,))  # a digest time came since, while down
    hour = (datetime.now(UTC).hour + 12) % 24  # the next digest time is hours away
    (tmp_path / "config.toml").write_text(
        f'database = "{database}"\n[schedule]\nheartbeat = 1\n'
        f'[email]\nhost = "127.0.0.1"\nport = {smtp_server.port}\ntimeout = 5\nmode = "digest"\n'
        f'digest_cron = "0 {hour} * * *"\nrecipients = ["analyst@example.org"]\n')
    daemon = start_daemon(tmp_path)
    try:
        wait_for(lambda: smtp_server.messages, 20, "the missed digest")
    finally:
        log = stop(daemon, tmp_path / "daemon.log")
    assert "Traceback" not in log, log
    assert len(smtp_server.messages) == 1
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM alerts WHERE sent IS NULL").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM digests").fetchone()[0] == 1


def test_a_check_that_outlasts_its_interval_is_told_once_in_words(tmp_path: Path, local_web: LocalWeb) -> None:
    """APScheduler warned at every interval while a check ran on ("Execution of job ... skipped: maximum number of
    running instances reached (1)"): a line a second, in its terms. The daemon now says it once per overrun, in the
    operator's terms, and how long the check took."""
    local_web.route("/feed.xml", EMPTY_FEED, content_type="application/rss+xml", delay=2.5)
    local_config(tmp_path, local_web, ["/feed.xml"])
    config = tmp_path / "config.toml"
    config.write_text(config.read_text().replace("interval = 3600", "interval = 1\nadaptive = false"))
    daemon = start_daemon(tmp_path)
    wait_for(lambda: local_web.hits("/feed.xml") == 2, 30, "the check after the long one to start")
    log = stop(daemon, tmp_path / "daemon.log")
    assert "maximum number of running instances" not in log, log
    told = [line for line in log.splitlines() if "still running" in line]
    assert len(told) == 1 and "check of feed 0" in told[0] and "WARNING" in told[0], log
    [took] = [line for line in log.splitlines() if "check of feed 0 took" in line]
    assert float(took.split(" took ", 1)[1].split(" s", 1)[0]) >= 2, took
