"""Crash safety: SIGKILL the daemon at random moments of its cycles, restart it, lose nothing.

A kill can land anywhere: while a feed is read, between an article's fetch and
its transaction, inside SQLite's commit, between the SMTP server's "250" and the
``sent`` mark. The README promises that none of these loses an article or an
alert, stores anything twice, or sends an alert twice under different
Message-IDs (one repeat of the message in flight is allowed: it carries the same
Message-ID, so it is recognisable). The same holds on an alert channel (a webhook
on 127.0.0.1), delivery by delivery: each alert arrives, and only a notification in
flight at a kill may arrive twice.

The web publishes a new edition before each restart, with a prisoner swap told
afresh in every other new article, so every round has articles to store and an
alert to send. After the last kill ``monitor once`` finishes the work (it checks
every source and delivers every due alert, as the restarted daemon would).
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.alerts.channels import lease
from monitor.config import ChannelSettings
from tests.newsweb import NewsWeb, monitor_env, start_daemon, wait_for
from tests.smtpserver import SmtpServer, smtp_server  # noqa: F401 - the fixture
from tests.webhook import Receiver

KILLS = 12  # each pays a daemon's start-up (its imports, rules and workers): at 20 this was the suite's longest test
SMTP_TIMEOUT = 0.3  # the outbox holds a claimed alert for about eleven of these before retrying it
SEED = 20240304
DELIVERY_TIMEOUT = 10.0  # seconds, for the run after the kills


def _config(web: NewsWeb, smtp_server: SmtpServer, hook: Receiver, timeout: float) -> str:
    """The web's outlets, mail to the test's SMTP server and a webhook channel, each delivery given ``timeout``."""
    return (web.config_toml(smtp_server.port, smtp_timeout=timeout, burst=0)
            + f'\n[[channels]]\nname = "hook"\nurl = "{hook.url}"\ntimeout = {timeout}\nburst = 0\n')


def assert_consistent(db: Path) -> None:
    """What must hold after any kill: a sound file, each article once, each alert with its mentions."""
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        articles, texts = conn.execute("SELECT count(*), count(DISTINCT text_hash) FROM articles").fetchone()
        assert articles == texts, "an article was stored twice"
        assert conn.execute("SELECT count(*) FROM articles WHERE id NOT IN (SELECT article_id FROM article_urls)"
                            ).fetchone()[0] == 0
        repeated = conn.execute("SELECT article_id, rule, passage FROM mentions GROUP BY 1, 2, 3 HAVING count(*) > 1")
        assert repeated.fetchall() == [], "a mention was stored twice"
        assert conn.execute("SELECT count(*) FROM alerts WHERE id NOT IN (SELECT alert_id FROM alert_mentions)"
                            ).fetchone()[0] == 0


@pytest.fixture
def killed_daemons_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temporary folder for the daemons, removed after the test.

    A daemon killed so leaves its workers' fork-server folder behind (multiprocessing removes it at exit): twenty a
    run would stay in the machine's /tmp. Not under ``tmp_path``: the fork server's socket lives there, and a Unix
    socket's path may not pass 107 bytes, which pytest's numbered folders did once their count reached 100.
    """
    with tempfile.TemporaryDirectory(prefix="monitor-crash-") as folder:
        monkeypatch.setenv("TMPDIR", folder)
        yield Path(folder)


@pytest.mark.timeout(300)  # about 25 s on an idle machine; each restart pays the daemon's start-up
@pytest.mark.usefixtures("killed_daemons_tmp")
def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path, smtp_server: SmtpServer) -> None:  # noqa: F811
    chance = random.Random(SEED)
    db = tmp_path / "monitor.db"
    log = tmp_path / "daemon.log"
    hook = Receiver()
    with NewsWeb(outlets=4, articles=2, fresh=2, alerting_every=2, scripted=False, faults=False) as web:
        # A message and a notification per alert however many are due (burst = 0): each alert can be followed.
        (tmp_path / "config.toml").write_text(_config(web, smtp_server, hook, SMTP_TIMEOUT))
        for kill in range(KILLS):
            web.advance()
            offset = log.stat().st_size if log.exists() else 0
            daemon = start_daemon(tmp_path)
            try:
                wait_for(lambda: "daemon started" in log.read_text()[offset:], 30, "the daemon to start")  # noqa: B023
                time.sleep(chance.uniform(0.0, 1.2))  # its first cycle: discover, fetch, store, deliver
            finally:
                daemon.send_signal(signal.SIGKILL)
                daemon.wait()
            assert db.exists(), log.read_text()[offset:]
            try:
                assert_consistent(db)
            except AssertionError as exc:
                raise AssertionError(f"after kill {kill + 1}: {exc}\n{log.read_text()[offset:]}") from exc

        # The leases on an alert claimed at the last kill run out: the mail's, and the channel's (its notification's
        # process's start counted).
        hook_lease = lease(ChannelSettings(name="hook", url=hook.url, timeout=SMTP_TIMEOUT)).total_seconds()
        time.sleep(max(SMTP_TIMEOUT * 12, hook_lease))
        # The last run delivers what is due, its deadlines wide: the kills' short ones failed it on a loaded machine
        # (a notification's process not answered within the second), which is no loss.
        (tmp_path / "config.toml").write_text(_config(web, smtp_server, hook, DELIVERY_TIMEOUT))
        done = subprocess.run([sys.executable, "-m", "monitor", "once"], cwd=tmp_path, env=monitor_env(),
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        published = {web.url(article): article for article in web.articles()}
    hook.server.shutdown()

    assert_consistent(db)
    with sqlite3.connect(db) as conn:
        stored = dict(conn.execute("SELECT url, article_id FROM article_urls").fetchall())
        assert set(published) <= set(stored), f"lost: {set(published) - set(stored)}"
        assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == len(published)
        alerts = dict(conn.execute("SELECT message_id, sent FROM alerts").fetchall())
        alerted_urls = {url for (url,) in conn.execute(
            "SELECT articles.url FROM articles JOIN alerts ON alerts.story_id = articles.story_id")}
    alerting = {url for url, article in published.items() if article.alerting}
    assert len(alerting) >= KILLS and alerting <= alerted_urls, "every new prisoner swap has its alert"
    assert all(alerts.values()), f"unsent: {[mid for mid, sent in alerts.items() if not sent]}"

    received: dict[str, set[str]] = defaultdict(set)  # subject -> Message-IDs it arrived under
    bodies: dict[str, set[str]] = defaultdict(set)  # Message-ID -> distinct texts under it
    for message in smtp_server.messages:
        received[str(message.message["Subject"])].add(message.message_id)
        bodies[message.message_id].add(message.text())
    assert set(alerts) == {mid for mids in received.values() for mid in mids}, "each alert arrived"
    assert all(len(mids) == 1 for mids in received.values()), "a repeat carries the same Message-ID"
    assert all(len(texts) == 1 for texts in bodies.values()), "a repeat is the same message"
    repeats = len(smtp_server.messages) - len(alerts)
    assert repeats <= KILLS, "at most the message in flight at each kill is repeated"

    with sqlite3.connect(db) as conn:  # the channel, delivery by delivery
        unsent = conn.execute("SELECT count(*) FROM alerts WHERE id NOT IN"
                              " (SELECT alert_id FROM channel_deliveries WHERE channel = 'hook' AND sent IS NOT NULL)")
        assert unsent.fetchone()[0] == 0, "each alert was delivered on the channel"
    titles = [" ".join(str(post["title"]).split()) for post in hook.posts]
    assert set(titles) == {" ".join(subject.split()) for subject in received}, "the channel got the mailbox's alerts"
    assert len(titles) - len(set(titles)) <= KILLS, "at most the notification in flight at each kill is repeated"
