"""Alert channels through Apprise: a real webhook receiver on 127.0.0.1, a real archive.

The receiver takes what Apprise's ``json://`` service posts. The archive holds the demo's
one alert (the Geneva story), made by a real offline cycle.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.alerts.channels import ANSWER_MEMORY, apprise_send, deliver_channels, lease, notify
from monitor.app import health_problems
from monitor.alerts.render import render_text
from monitor.config import ChannelSettings, EmailSettings, parse_config, shipped_rules
from monitor.demo import run_demo
from monitor.demo_site import DemoWeb
from monitor.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError
from monitor.threads import DELIVERIES
from monitor.store import Archive, iso
from tests.alerts_data import AMBASSADOR, RETURN, SWAP, article, deliver, flood, store
from tests.conftest import cli_env
from tests.rawserver import RawServer
from tests.smtpserver import SmtpServer, smtp_server  # noqa: F401 - the fixture
from tests.webhook import Receiver

ROOT = Path(__file__).resolve().parent.parent

EARLY = datetime(2000, 1, 1, tzinfo=UTC)  # channels registered before the demo's alert was queued


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    database = run_demo(shipped_rules(), tmp_path).database
    with Archive.create(database) as opened:
        opened.register_channels(["phone", "chat"], EARLY)
        yield opened


def _deliver(archive: Archive, channels: list[ChannelSettings], now: datetime) -> dict[str, list[int]]:
    reports = deliver(archive, lambda writer: deliver_channels(writer, channels, now))
    return {name: report.sent for name, report in reports.items()}


def test_an_alert_reaches_the_webhook_once(archive: Archive, receiver: Receiver) -> None:
    phone = ChannelSettings(name="phone", url=receiver.url)
    now = datetime.now(UTC)
    assert _deliver(archive, [phone], now) == {"phone": [1]}
    assert _deliver(archive, [phone], now + timedelta(hours=1)) == {"phone": []}  # never twice
    assert len(receiver.posts) == 1
    assert "Geneva" in str(receiver.posts[0]["title"]) and "ambassadors back" in " ".join(
        str(receiver.posts[0]["message"]).split())


@pytest.mark.parametrize(("url_format", "kept", "gone"), [("", "<a href=", None), ("?format=html", "&lt;a", "<a href="),
                                                         ("?format=markdown", r"\[Reuters\]", "[Reuters](")])
def test_page_text_reaches_a_service_as_text_never_as_its_markup(
    receiver: Receiver, url_format: str, kept: str, gone: str | None
) -> None:
    """An alert is plain text, and Apprise makes it each service's format only when told so: handed over as it was,
    a page's "<a href=...>" or "[Reuters](...)" became a link in a service that reads HTML or Markdown (Telegram's
    default is HTML, which also refuses a message with a lone "<" or "&" that is no markup, every retry)."""
    body = "Talks went on < 3 days & <a href='http://evil.example/'>more</a> [Reuters](http://evil.example/)"
    apprise_send(receiver.url + url_format, "Envoys", body, 5)
    message = str(receiver.posts[0]["message"])
    assert kept in message
    assert gone is None or gone not in message


def test_a_burst_goes_to_a_channel_as_one_notification_and_a_few_one_each(archive: Archive, receiver: Receiver) -> None:
    """A flood of matching stories was a notification each: hundreds of pushes to an analyst's phone. Past the
    channel's ``burst`` they go as one listing them, and each alert is marked with its outcome on the channel."""
    phone = ChannelSettings(name="phone", url=receiver.url, burst=3)
    now = datetime.now(UTC)
    burst = [1, *flood(archive, range(4), now)]  # the demo's alert, and four more
    receiver.status = 503
    assert _deliver(archive, [phone], now) == {"phone": []}
    failed = archive.db.execute("SELECT count(*) FROM channel_deliveries WHERE channel = 'phone' AND sent IS NULL"
                                " AND next_attempt > ?", [now.isoformat()]).fetchone()
    assert failed == (5,)  # each waits out the backoff
    receiver.status = 200
    assert sorted(_deliver(archive, [phone], now + timedelta(minutes=2))["phone"]) == burst
    [post] = receiver.posts
    message = str(post["message"])
    assert "5 stories at once" in str(post["title"]) and all(f"Envoy story {n}" in message for n in range(4))
    assert "https://flood.example/3" in message

    few = flood(archive, range(4, 6), now)
    assert _deliver(archive, [phone], now + timedelta(minutes=3)) == {"phone": few}
    assert [str(post["title"]).endswith(f"Envoy story {n}") for post, n in zip(receiver.posts[1:], (4, 5))] == [True] * 2


@pytest.mark.parametrize(("url", "said"), [("nosuch://token@host", "nosuch://..."),
                                          ("1234567:AAHsecret", "it has no scheme://")])
def test_a_url_apprise_cannot_notify_shows_its_scheme_and_never_its_token(url: str, said: str) -> None:
    """A channel's url_env holding no scheme at all was shown as "1234567://...", a scheme the value does not have."""
    with pytest.raises(PermanentDeliveryError) as caught:
        apprise_send(url, "Envoys", "body", 5)
    assert said in str(caught.value) and url.split("://")[-1] not in str(caught.value), caught.value


def test_a_refused_notification_records_the_services_answer(archive: Archive, receiver: Receiver) -> None:
    """Apprise returns only False: last_error, `status` and `once` said "see the apprise log", the cause in the log
    alone (and not there at all under a log level above WARNING, or in a log long rotated away)."""
    receiver.status = 401
    assert _deliver(archive, [ChannelSettings(name="phone", url=receiver.url)], datetime.now(UTC)) == {"phone": []}
    [(error,)] = archive.db.execute("SELECT last_error FROM channel_deliveries").fetchall()
    assert error.startswith("the service did not accept the notification: ") and "error=401" in error, error


def test_a_channel_that_cannot_be_reached_says_so(archive: Archive) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    assert _deliver(archive, [ChannelSettings(name="phone", url=f"json://127.0.0.1:{port}/", timeout=5)],
                    datetime.now(UTC)) == {"phone": []}
    [(error,)] = archive.db.execute("SELECT last_error FROM channel_deliveries").fetchall()
    assert "connection error" in error.lower() and "127.0.0.1" in error, error


def test_a_channel_that_is_down_delays_only_itself(archive: Archive, receiver: Receiver) -> None:
    working = Receiver()
    try:
        phone, chat = ChannelSettings(name="phone", url=receiver.url), ChannelSettings(name="chat", url=working.url)
        receiver.status = 503
        now = datetime.now(UTC)
        assert _deliver(archive, [phone, chat], now) == {"phone": [], "chat": [1]}
        row = archive.db.execute(
            "SELECT attempts, next_attempt, last_error FROM channel_deliveries WHERE channel = 'phone'").fetchone()
        assert row[0] == 1 and row[1] > now.isoformat() and "did not accept" in row[2]
        assert _deliver(archive, [phone], now + timedelta(seconds=10)) == {"phone": []}  # waits out its backoff
        receiver.status = 200
        assert _deliver(archive, [phone, chat], now + timedelta(minutes=2)) == {"phone": [1], "chat": []}
        assert len(receiver.posts) == 1 and len(working.posts) == 1
    finally:
        working.server.shutdown()


def test_a_service_slower_than_apprises_default_but_within_the_channels_timeout_gets_the_alert_once(
    archive: Archive, receiver: Receiver
) -> None:
    """Apprise waits 4 s for an answer unless told: a service answering in 5 s, within the channel's 10, was
    marked failed and sent the same alert again at every retry."""
    phone = ChannelSettings(name="phone", url=receiver.url, timeout=10)
    receiver.delay = 5.0
    now = datetime.now(UTC)
    assert _deliver(archive, [phone], now) == {"phone": [1]}
    assert _deliver(archive, [phone], now + timedelta(hours=1)) == {"phone": []}
    assert len(receiver.posts) == 1


def test_a_claim_left_by_a_dead_deliverer_runs_out_and_is_sent_once(archive: Archive, receiver: Receiver) -> None:
    """Killed between the service's acceptance and the mark: the claim holds, then runs out, then one repeat."""
    phone = ChannelSettings(name="phone", url=receiver.url)
    now = datetime.now(UTC)
    assert archive.claim_on_channel("phone", 1, now, now + lease(phone)) == 1  # the dead deliverer's claim
    assert _deliver(archive, [phone], now + timedelta(seconds=30)) == {"phone": []}
    assert _deliver(archive, [phone], now + lease(phone) + timedelta(seconds=1)) == {"phone": [1]}
    assert len(receiver.posts) == 1


def test_a_channel_delivers_what_was_queued_after_it_was_configured(tmp_path: Path, receiver: Receiver) -> None:
    database = run_demo(shipped_rules(), tmp_path).database
    with Archive.create(database) as archive:
        archive.register_channels(["late"], datetime.now(UTC) + timedelta(minutes=1))
        late = ChannelSettings(name="late", url=receiver.url)
        assert _deliver(archive, [late], datetime.now(UTC) + timedelta(minutes=2)) == {"late": []}
    assert receiver.posts == []


def test_an_alert_sent_on_a_channel_is_closed_to_later_passages(archive: Archive, receiver: Receiver) -> None:
    _deliver(archive, [ChannelSettings(name="phone", url=receiver.url)], datetime.now(UTC))
    story = archive.db.execute("SELECT story_id FROM alerts WHERE id = 1").fetchone()[0]
    mention = archive.db.execute("SELECT id FROM mentions LIMIT 1").fetchone()[0]
    assert archive.queue_alert(story, [mention], datetime.now(UTC)) != 1  # a follow-up, not the delivered one


def test_channel_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    def problems(channels: list[dict[str, str]]) -> list[str]:
        with pytest.raises(ConfigError) as caught:
            parse_config({"channels": channels}, Path.cwd())
        return caught.value.problems

    assert "not a URL Apprise can notify" in problems([{"name": "x", "url": "nonsense"}])[0]
    assert "exactly one of 'url' and 'url_env'" in problems([{"name": "x"}])[0]
    assert problems([{"name": "x", "url_env": "A"}, {"name": "x", "url_env": "B"}])[0].startswith(
        "channels[1].name: duplicate name 'x'")
    monkeypatch.setenv("MONITOR_TEST_HOOK", "json://127.0.0.1:9/hook")
    channel = parse_config({"channels": [{"name": "x", "url_env": "MONITOR_TEST_HOOK"}]}, Path.cwd()).channels[0]
    assert channel.resolved_url() == os.environ["MONITOR_TEST_HOOK"]


def _once_over_the_demo_web(tmp_path: Path, channel: str, more: str = "") -> subprocess.CompletedProcess[str]:
    """`monitor once` as a user runs it: over the demo's web, with a config holding one channel, "phone", whose
    ``channel`` line says where it goes (``url = "..."`` or ``url_env = "..."``), and ``more`` of it."""
    rules = (ROOT / "config.toml").read_text(encoding="utf-8").split("# BEGIN RULES", 1)[1].split("# END RULES", 1)[0]
    with DemoWeb() as web:
        sources = ""
        for outlet in web.outlets:
            url = web.bases[outlet.slug] + outlet.feed_path
            kind = 'kind = "page"\nlinks = "h2.headline a"' if outlet.discovery == "listing" else 'kind = "feed"'
            sources += f'[[sources]]\nname = "{outlet.name}"\n{kind}\nurl = "{url}"\n\n'
        config = tmp_path / "config.toml"
        config.write_text(f'database = "monitor.db"\n\n[fetch]\ndelay = 0\n\n{sources}'
                          f'[[channels]]\nname = "phone"\n{channel}\n\n{more}\n{rules}', encoding="utf-8")
        return subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), "once"],
                              capture_output=True, text=True, env=cli_env(), timeout=90, cwd=tmp_path)


def test_monitor_once_delivers_on_a_channel(tmp_path: Path, receiver: Receiver) -> None:
    done = _once_over_the_demo_web(tmp_path, f'url = "{receiver.url}"')
    assert done.returncode == 0, done.stderr
    assert len(receiver.posts) == 1 and "Geneva" in str(receiver.posts[0]["title"])
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        assert conn.execute("SELECT channel, attempts, sent IS NOT NULL FROM channel_deliveries").fetchall() == [
            ("phone", 1, 1)]


def test_monitor_once_exits_1_with_one_line_when_an_alert_is_not_delivered(tmp_path: Path, receiver: Receiver) -> None:
    """A cron job must be able to tell: the checks went well, but the alert waits in the queue."""
    receiver.status = 503
    done = _once_over_the_demo_web(tmp_path, f'url = "{receiver.url}"')
    assert done.returncode == 1
    [line] = [line for line in done.stderr.splitlines() if line.startswith("monitor:")]
    assert line.startswith("monitor: channel phone: 1 alert not delivered (the service did not accept")
    assert line.endswith("queued alerts are retried by a later run once their wait is over (monitor status shows when)")
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        assert conn.execute("SELECT channel, attempts, sent FROM channel_deliveries").fetchall() == [("phone", 1, None)]
    # The next run tries it again and says so; it once exited 0 and said nothing, while status showed it owed.
    again = subprocess.run([sys.executable, "-m", "monitor", "--config", str(tmp_path / "config.toml"), "once"],
                           capture_output=True, text=True, env=cli_env(), timeout=60, cwd=tmp_path)
    assert again.returncode == 1, again.stderr
    [line] = [line for line in again.stderr.splitlines() if line.startswith("monitor:")]
    # (the demo's web is gone, so its sources fail too)
    assert "; channel phone: 1 alert not delivered (the service did not accept" in line, line
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        assert conn.execute("SELECT channel, attempts, sent FROM channel_deliveries").fetchall() == [("phone", 2, None)]


def test_monitor_once_exits_1_when_a_channels_url_variable_is_not_set(tmp_path: Path) -> None:
    """The alert waited in the queue, one WARNING said why, and `once` exited 0: a cron job took it for delivered."""
    done = _once_over_the_demo_web(tmp_path, 'url_env = "MONITOR_TEST_UNSET_HOOK"')
    assert done.returncode == 1, done.stderr
    [line] = [line for line in done.stderr.splitlines() if line.startswith("monitor:")]
    assert line == ("monitor: channel phone: 1 alert not delivered ($MONITOR_TEST_UNSET_HOOK is not set);"
                    " queued alerts are retried by a later run once their wait is over (monitor status shows when)")
    # Nothing was tried, so no error was stored: status said the alert waited, and not why.
    shown = subprocess.run([sys.executable, "-m", "monitor", "--config", str(tmp_path / "config.toml"), "status"],
                           capture_output=True, text=True, env=cli_env(), timeout=60, cwd=tmp_path)
    assert "channel phone: 1 alert not delivered, last error: $MONITOR_TEST_UNSET_HOOK is not set" in shown.stdout, (
        shown.stdout)


def _one_alert(tmp_path: Path, url: str, title: str, passages: list[str]) -> Archive:
    """A new archive with one story's alert (``passages`` new under "ambassadors"), its channel "chat" configured."""
    archive = Archive.create(tmp_path / "chat.db")
    archive.register_channels(["chat"], EARLY)
    store(archive, article(url, title), [("ambassadors", passage, ("ambassador",), True) for passage in passages])
    return archive


def test_page_text_reaches_a_chat_as_words_never_as_a_mention_or_a_link(tmp_path: Path, receiver: Receiver) -> None:
    """Discord, Mattermost and Zulip read what Apprise hands over as plain text as Markdown with mentions: a page's
    "@everyone" notified every member of the analysts' channel, its "[Read the statement](https://evil.example/)" was
    a link under a label of the page's choosing. They reach the channel as words; the story's own link, "@" in its
    path, stays whole."""
    url = "https://news.example/@desk/recall"
    hostile = f"@here {AMBASSADOR} [Read the statement](https://evil.example/) <@123> @room @channel"
    with _one_alert(tmp_path, url, "@everyone Russia recalls its ambassador <@&42>", [hostile]) as archive:
        assert _deliver(archive, [ChannelSettings(name="chat", url=receiver.url)], datetime.now(UTC)) == {"chat": [1]}
    [post] = receiver.posts
    said = f"{post['title']}\n{post['message']}"
    for markup in ("@everyone", "@here", "<@123>", "<@&42>", "@room", "@channel", "]("):
        assert markup not in said
    assert "everyone Russia recalls" in said.replace("\u200b", "") and url in str(post["message"]).split()


def test_an_alert_longer_than_its_service_takes_is_cut_to_it_with_its_link_first(
    tmp_path: Path, receiver: Receiver
) -> None:
    """Apprise hands a service the whole notification by default, and a service refuses one past its limit (Discord
    2,000 characters, Telegram 4,096): a page of many long matching passages, or a hostile site's near copies listed
    in another outlet's story, made an alert no retry could deliver there. It is cut to the service's length (here a
    webhook's 32,768), the story's link first."""
    receiver.max_chars = 32_768
    url = "https://news.example/world/recall"
    passages = [f"{AMBASSADOR} Paragraph {n}: " + " ".join(f"word{n}x{w}" for w in range(160)) for n in range(30)]
    with _one_alert(tmp_path, url, "Russia recalls its ambassador", passages) as archive:
        assert _deliver(archive, [ChannelSettings(name="chat", url=receiver.url)], datetime.now(UTC)) == {"chat": [1]}
        assert len(render_text(archive.alert_content(1))) > 40_000  # what e-mail still carries whole
    [post] = receiver.posts
    message = str(post["message"])
    assert len(message) <= 32_768 and message.split("\n", 1)[0] == url


@pytest.mark.parametrize("parameter", ["overflow", "Overflow"])
def test_an_overflow_the_channels_url_chooses_is_kept(receiver: Receiver, parameter: str) -> None:
    """``overflow=split`` (or ``upstream``) in a channel's URL is the operator's choice, not overridden; Apprise
    reads the parameter's name in any case, and ``Overflow=split`` was cut all the same."""
    receiver.max_chars = 32_768
    apprise_send(receiver.url + f"?{parameter}=split", "Envoys", "x " * 20_000, 5)
    assert len(receiver.posts) == 2


def test_status_shows_a_channel_that_has_not_delivered(tmp_path: Path, receiver: Receiver) -> None:
    """A channel down for a day showed nowhere in `monitor status`: its sources all "ok", "alerts queued: 0" (the
    e-mail's queue), the failures in channel_deliveries alone. Status now says how many wait and why."""
    receiver.status = 503
    assert _once_over_the_demo_web(tmp_path, f'url = "{receiver.url}"').returncode == 1
    shown = subprocess.run([sys.executable, "-m", "monitor", "--config", str(tmp_path / "config.toml"), "status"],
                           capture_output=True, text=True, env=cli_env(), timeout=60, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    [line] = [line for line in shown.stdout.splitlines() if line.startswith("channel phone:")]
    assert line.startswith("channel phone: 1 alert not delivered, last error: the service did not accept"), line


def test_status_says_what_e_mail_has_not_sent_and_why(tmp_path: Path, receiver: Receiver) -> None:
    """Status said "alerts queued: N" for e-mail: without [email] (a channel only) it grew for ever, as if failing;
    with [email] and the server down it gave no reason. Each way of delivery now has its line, as channels do."""
    with socket.socket() as probe:  # a port nothing listens on: the SMTP server is down
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    email = f'\n[email]\nhost = "127.0.0.1"\nport = {closed_port}\nrecipients = ["desk@example.org"]'
    assert _once_over_the_demo_web(tmp_path, f'url = "{receiver.url}"' + email).returncode == 1
    config = tmp_path / "config.toml"

    def shown() -> list[str]:
        done = subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), "status"],
                              capture_output=True, text=True, env=cli_env(), timeout=60, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    lines = shown()
    [line] = [line for line in lines if line.startswith("e-mail:")]
    assert line.startswith("e-mail: 1 alert not delivered, last error: "), line
    assert "channel phone: all delivered" in lines
    config.write_text(config.read_text(encoding="utf-8").replace(email, ""), encoding="utf-8")
    assert "e-mail: no [email] in the config (1 alert not sent)" in shown()


def test_status_check_fails_when_a_way_of_delivery_has_owed_an_alert_for_hours(tmp_path: Path) -> None:
    """``status --check`` (the Docker HEALTHCHECK) said healthy while no alert reached anyone: a mail server refusing
    every message, a channel down for a day. A way of delivery that has owed an alert for two hours makes the daemon
    unhealthy; an alert a digest has not gathered yet is owed by no one."""
    now = datetime.now(UTC)
    settings = shipped_rules().model_copy(update={
        "database": str(tmp_path / "monitor.db"),
        "email": EmailSettings(recipients=["desk@example.org"]),
        "channels": [ChannelSettings(name="phone", url="json://127.0.0.1:9/")]})
    with Archive.create(settings.database) as opened:
        opened.register_channels(["phone"], now - timedelta(hours=1))
        opened.beat(pid=os.getpid(), now=now, every=30)
        old = store(opened, article("https://wire.example/1", "Recall", fetched=now - timedelta(hours=3)),
                    [("ambassadors", AMBASSADOR, ("ambassador",), True)], now=now - timedelta(hours=3))
    assert health_problems(settings)[0] == [
        f"e-mail has not delivered an alert owed for 3.0 h (since {iso(now - timedelta(hours=3))}): see monitor status"]

    with Archive.create(settings.database) as opened:  # sent by e-mail; the phone's alert is recent
        opened.mark_sent([old.alert_id or 0], now)
        store(opened, article("https://wire.example/2", "Swap", fetched=now),
              [("prisoner swap", SWAP, ("swap",), True)],
              now=now - timedelta(minutes=10))
    assert health_problems(settings)[0] == []

    digest = settings.model_copy(update={"email": EmailSettings(recipients=["desk@example.org"], mode="digest")})
    with Archive.create(settings.database) as opened:  # the phone has owed its alert for three hours
        opened.register_channels(["late"], now - timedelta(hours=4))
        store(opened, article("https://wire.example/3", "Envoy", fetched=now),
              [("ambassadors", RETURN, ("envoy",), True)],
              now=now - timedelta(hours=3))
    late = digest.model_copy(update={"channels": [ChannelSettings(name="late", url="json://127.0.0.1:9/")]})
    [problem] = health_problems(late)[0]  # the digest has not gathered the alerts: e-mail owes nothing yet
    assert problem.startswith("channel late has not delivered an alert owed for 3.0 h")

    with Archive.create(settings.database) as opened:
        opened.gather_digest(now - timedelta(hours=2, minutes=30))
    assert [problem.split(" has not")[0] for problem in health_problems(late)[0]] == ["e-mail", "channel late"]

    (tmp_path / "config.toml").write_text('database = "monitor.db"\n[email]\nrecipients = ["desk@example.org"]\n'
                                          'mode = "digest"\n[[channels]]\nname = "late"\nurl = "json://127.0.0.1:9/"\n')
    result = subprocess.run([sys.executable, "-m", "monitor", "status", "--check"],
                            capture_output=True, text=True, env=cli_env(), timeout=60, cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.startswith("monitor: unhealthy: e-mail has not delivered")
    assert "; channel late has not delivered" in result.stderr and len(result.stderr.splitlines()) == 1



def pour(chunk: bytes, every: float, head: bytes = b"", *, limit: int = 2**40, request: bool = False
         ) -> Callable[[socket.socket], None]:
    """A peer that answers with ``head``, then ``chunk`` every ``every`` seconds while the client listens, up to
    ``limit`` bytes: a greeting or a body trickled within any socket timeout, or poured without end."""

    def serve(connection: socket.socket) -> None:
        if request:
            connection.recv(65536)
        connection.sendall(head)
        for _ in range(limit // len(chunk)):
            connection.sendall(chunk)
            time.sleep(every)

    return serve


def _email(port: int) -> str:
    return (f'[email]\nhost = "127.0.0.1"\nport = {port}\nsender = "monitor@example.org"\n'
            f'recipients = ["analyst@example.org"]\ntimeout = 1\n')


def test_an_smtp_server_that_trickles_its_greeting_holds_back_only_the_e_mail(tmp_path: Path, receiver: Receiver
                                                                               ) -> None:
    """Each line came within the socket's timeout, so no step timed out: `once` never ended, and the channel's
    alert, delivered after the e-mail, never went. A send has a deadline now, and the channels go beside it."""
    server = RawServer(pour(b"220-still here\r\n", every=0.3))
    try:
        started = time.monotonic()
        done = _once_over_the_demo_web(tmp_path, f'url = "{receiver.url}"', _email(server.port))
        took = time.monotonic() - started
    finally:
        server.close()
    assert len(receiver.posts) == 1
    assert done.returncode == 1
    assert "monitor: e-mail: 1 alert not delivered (the SMTP server did not finish within 11 s)" in done.stderr
    assert took < 60


def test_an_smtp_reply_without_end_is_read_up_to_a_bound(tmp_path: Path, receiver: Receiver) -> None:
    """smtplib keeps every line of a multi-line reply: a greeting of continuation lines without end took the
    monitor's process to 13 GB in a minute (this server stops at 50 MB)."""
    server = RawServer(pour(b"220-" + b"x" * 8000 + b"\r\n", every=0, limit=50 * 2**20))
    try:
        done = _once_over_the_demo_web(tmp_path, f'url = "{receiver.url}"', _email(server.port))
    finally:
        server.close()
    assert len(receiver.posts) == 1
    assert done.returncode == 1
    assert "e-mail: 1 alert not delivered (SMTP server disconnected: the server's reply ran past 65536 bytes)" in (
        done.stderr)


def test_a_trickling_service_holds_its_own_channel_s_threads_never_e_mail_s_or_another_channel_s(
        receiver: Receiver) -> None:
    """Each notification given up on left its thread with the trickling service: after 16 retries every thread of
    the deliveries was held, and e-mail, notices and the other channels waited for good."""
    server = RawServer(pour(b"x", every=0.1, head=b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", request=True))
    drip = ChannelSettings(name="drip", url=f"json://127.0.0.1:{server.port}/hook", timeout=0.5)  # a byte each 0.1 s
    desk = ChannelSettings(name="desk", url=receiver.url, timeout=5)

    async def go() -> None:
        tries = await asyncio.gather(*(notify(drip, apprise_send, drip.url or "", "Envoys", "x") for _ in range(20)),
                                     return_exceptions=True)
        assert all(isinstance(outcome, TransientDeliveryError) for outcome in tries)
        assert await asyncio.wait_for(DELIVERIES.run(lambda: "e-mail's turn"), 5) == "e-mail's turn"
        await notify(desk, apprise_send, receiver.url, "Envoys", "home")

    try:
        asyncio.run(go())
    finally:
        server.close()
    assert len(receiver.posts) == 1


def test_a_channel_that_trickles_its_answer_holds_back_only_itself(tmp_path: Path, receiver: Receiver,
                                                                   smtp_server: SmtpServer) -> None:  # noqa: F811
    """A service answering a byte at a time, each within the channel's timeout, held every channel after it."""
    server = RawServer(pour(b"x", every=0.5, head=b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", request=True))
    desk = f'[[channels]]\nname = "desk"\nurl = "{receiver.url}"\n'
    try:
        started = time.monotonic()
        done = _once_over_the_demo_web(tmp_path, f'url = "json://127.0.0.1:{server.port}/hook"\ntimeout = 1',
                                       desk + _email(smtp_server.port))
        took = time.monotonic() - started
    finally:
        server.close()
    assert len(receiver.posts) == 1 and len(smtp_server.messages) == 1
    assert done.returncode == 1
    assert "monitor: channel phone: 1 alert not delivered (the service did not answer within 2 s)" in done.stderr
    assert took < 60


def test_a_services_huge_answer_costs_its_notification_process_not_the_monitor(receiver: Receiver) -> None:
    """Apprise reads a service's whole answer into memory, in a thread that cannot be stopped: a hook answering 3 GB
    took the monitor's process to 2.7 GB, an endless answer on until the daemon was killed for its memory."""
    receiver.answer_bytes = 2 * 2**30
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    started = time.monotonic()
    with pytest.raises(TransientDeliveryError, match=f"took more than {ANSWER_MEMORY // 2**20} MB"):
        apprise_send(receiver.url, "Envoy recalled", "The ambassador left Moscow.", timeout=20)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    assert grown < 64 * 2**20, f"the monitor's process grew by {grown / 2**20:.0f} MB"
    assert time.monotonic() - started < 20  # stopped at the cap, not at the lease
    assert len(receiver.posts) == 1  # the service had it: the notification is tried again, at most once more


def test_a_channels_failure_says_what_went_wrong_on_the_socket(receiver: Receiver) -> None:
    """Apprise warns "A Connection error occurred" alike for a refused connection, a read timed out and a loop of
    redirects; the cause is its debug line, now in the error the log, status and ``once`` show."""
    receiver.delay = 3.0
    with pytest.raises(TransientDeliveryError, match="Read timed out"):
        apprise_send(receiver.url, "Envoy recalled", "The ambassador left Moscow.", timeout=1)


def test_a_short_timeout_is_the_services_and_not_apprises_start(receiver: Receiver) -> None:
    """Apprise loads its plugins at its first URL (0.2 s here, more on a busy machine): counted in the lease, a short
    timeout ran out before the service was asked, and the failure read as the service not answering."""
    receiver.delay = 3.0
    with pytest.raises(TransientDeliveryError, match="Read timed out"):
        apprise_send(receiver.url, "Envoy recalled", "The ambassador left Moscow.", timeout=0.15)


def test_a_lease_under_a_second_is_told_as_it_is() -> None:
    """A service trickling its answer outlasts the lease of twice its timeout, which was told rounded: "within 0 s"."""
    server = RawServer(pour(b"x", every=0.05, head=b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", request=True))
    try:
        with pytest.raises(TransientDeliveryError, match=r"did not answer within 0\.9 s"):
            apprise_send(f"json://127.0.0.1:{server.port}/hook", "Envoy recalled", "The ambassador left Moscow.",
                         timeout=0.45)
    finally:
        server.close()


def test_a_service_that_redirects_gets_the_alert_once_unless_its_address_allows_redirects(receiver: Receiver) -> None:
    """requests follows a 307 with the alert as its body, up to 30 times: a hook redirecting to itself took each
    attempt's alert 31 times, and a redirect elsewhere takes the alert, and a token in the address, where the config
    never named. Redirects are followed only where a channel's address says ``redirect=yes``."""
    receiver.redirect = "/hook"
    with pytest.raises(TransientDeliveryError, match=r"error=307.*\(a redirect: .* redirect=yes"):
        apprise_send(receiver.url, "Envoy recalled", "The ambassador left Moscow.", timeout=5)
    assert receiver.requests == 1
    receiver.redirect = "/moved"
    apprise_send(f"{receiver.url}?redirect=yes", "Envoy recalled", "The ambassador left Moscow.", timeout=5)
    assert receiver.requests == 3 and len(receiver.posts) == 1


def test_apprises_warnings_never_carry_a_channels_token(caplog: pytest.LogCaptureFixture) -> None:
    """``url_env`` keeps a channel's token out of files; Apprise's own warning about the URL quoted it ("An invalid
    Slack (third) Token (...) was specified") into monitor's log."""
    token = "secrettoken-but-typo"
    with caplog.at_level(logging.WARNING), pytest.raises(PermanentDeliveryError):
        apprise_send(f"slack://T000/B000/{token}", "title", "body", timeout=5)
    assert any("Slack" in record.getMessage() for record in caplog.records), caplog.text  # Apprise did warn
    assert token not in caplog.text


def test_status_says_alerts_wait_for_their_digest_not_that_they_failed(tmp_path: Path) -> None:
    """In digest mode an alert waits for the digest's time; status said "1 alert not delivered", as for a mail server
    refusing it."""
    database = run_demo(shipped_rules(), tmp_path / "demo").database  # one alert queued in it
    (tmp_path / "config.toml").write_text(
        f'database = "{database}"\n[email]\nhost = "127.0.0.1"\nrecipients = ["desk@example.org"]\n'
        'mode = "digest"\ndigest_cron = "0 7 * * *"\n', encoding="utf-8")
    shown = subprocess.run([sys.executable, "-m", "monitor", "status"],
                           capture_output=True, text=True, env=cli_env(), timeout=60, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    [line] = [line for line in shown.stdout.splitlines() if line.startswith("e-mail:")]
    assert line.startswith("e-mail: 1 alert waiting for the digest due "), line
    due = datetime.fromisoformat(line.rsplit(" ", 1)[1])
    assert (due.hour, due.minute) == (7, 0) and datetime.now(UTC) < due <= datetime.now(UTC) + timedelta(days=1)


def test_an_alert_held_back_by_a_wrong_password_goes_at_the_first_run_after_the_fix(tmp_path: Path) -> None:
    """A refusal of the session (a wrong password, TLS, an empty password variable) held every alert for its backoff,
    up to email.retry_max (an hour): fixing the password and running again sent nothing until then. Such alerts wait
    only for the next start of ``once`` or ``run``, or for the server to accept another message, as after an outage."""
    database = run_demo(shipped_rules(), tmp_path / "demo").database  # one alert queued in it
    server = SmtpServer(auth={"monitor": "s3cret"})
    server.up()
    try:
        (tmp_path / "config.toml").write_text(
            f'database = "{database}"\n[email]\nhost = "127.0.0.1"\nport = {server.port}\nusername = "monitor"\n'
            'password_env = "MONITOR_TEST_PASSWORD"\nrecipients = ["desk@example.org"]\n', encoding="utf-8")

        def once(password: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "monitor", "once"], capture_output=True, text=True,
                                  env={**cli_env(), "MONITOR_TEST_PASSWORD": password}, timeout=60, cwd=tmp_path)

        refused = once("wrong")
        assert refused.returncode == 1 and "SMTP 535" in refused.stderr, refused.stderr
        assert server.messages == []
        fixed = once("s3cret")
        assert fixed.returncode == 0, fixed.stderr
        assert len(server.messages) == 1
    finally:
        server.down()
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT attempts, sent IS NOT NULL FROM alerts").fetchall() == [(2, 1)]


def test_an_alert_the_mail_server_deferred_waits_out_its_backoff_and_the_next_run_says_so(
        tmp_path: Path, smtp_server: SmtpServer) -> None:
    """A message the server answered 4xx to (not the session's refusal) keeps its backoff across runs: the next run
    does not try it, exits 1 and says when it will be tried."""
    database = run_demo(shipped_rules(), tmp_path / "demo").database  # one alert queued in it
    smtp_server.reject = "451 4.3.0 try again later"
    (tmp_path / "config.toml").write_text(
        f'database = "{database}"\n[email]\nhost = "127.0.0.1"\nport = {smtp_server.port}\n'
        'recipients = ["desk@example.org"]\n', encoding="utf-8")

    def once() -> str:
        done = subprocess.run([sys.executable, "-m", "monitor", "once"], capture_output=True, text=True,
                              env=cli_env(), timeout=60, cwd=tmp_path)
        assert done.returncode == 1, done.stderr
        [line] = [line for line in done.stderr.splitlines() if line.startswith("monitor:")]
        return line

    assert once().startswith("monitor: e-mail: 1 alert not delivered (SMTP 451")
    assert once().startswith("monitor: e-mail: 1 alert not delivered, waiting to be tried again from 20")
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT attempts, sent FROM alerts").fetchall() == [(1, None)]
