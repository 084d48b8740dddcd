"""The outbox against a real SMTP server (aiosmtpd on 127.0.0.1): counts, outages, refusals, kills, digests."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from tests.alerts_data import (
    AMBASSADOR, AMBASSADOR_URLS, RETURN, SWAP, T0, article, deliver, flood, store, two_stories,
)
from tests.rawserver import RawServer
from tests.smtpserver import SmtpServer

from monitor.alerts import DeliveryReport, deliver_digest, deliver_due, outbox, render_message, render_text, retry_delay
from monitor.alerts.outbox import digest_due
from monitor.config import EmailSettings, RuleSettings
from monitor.models import AlertContent, Article, Mention
from monitor.pipeline import ingest
from monitor.rules import compile_rules
from monitor.store import Archive
from monitor.store.writer import ArchiveWriter

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def archive(tmp_path: Path) -> Any:
    with Archive.create(tmp_path / "monitor.db") as archive:
        yield archive


def run(archive: Archive, email: EmailSettings | None, now: datetime) -> DeliveryReport:
    return deliver(archive, lambda writer: deliver_due(writer, email, now))


def prose(text: str) -> str:
    """A text part as one line: quote marks, highlight stars and wrapping removed."""
    return " ".join(" ".join(line.removeprefix("> ") for line in text.splitlines()).replace("*", "").split())


def alert_row(archive: Archive, alert_id: int | None) -> dict[str, Any]:
    return dict(next(archive.db.query("SELECT * FROM alerts WHERE id = ?", [alert_id])))


# ------------------------------------------------------------------ instant mode


def test_instant_cycle_sends_one_message_per_story_with_every_copy(archive: Archive, smtp_server: SmtpServer) -> None:
    ambassador, swap = two_stories(archive)

    report = run(archive, smtp_server.settings(), T0)

    assert report.messages == 2 and sorted(report.sent) == [ambassador.alert_id, swap.alert_id]
    first, second = smtp_server.messages
    assert AMBASSADOR in prose(first.text())
    for url in AMBASSADOR_URLS:
        assert url in first.text() and f'href="{url}"' in first.html()
    assert "Also reported by" in first.text()
    assert SWAP in prose(second.text()) and "wire.example" not in second.text()
    assert alert_row(archive, ambassador.alert_id)["sent"] == "2024-03-01T06:00:00Z"
    assert run(archive, smtp_server.settings(), T0 + timedelta(hours=1)).messages == 0
    assert len(smtp_server.messages) == 2


def test_a_burst_of_alerts_goes_as_one_digest_and_a_few_go_one_each(archive: Archive, smtp_server: SmtpServer) -> None:
    """A source's flood of matching stories (a hostile feed, a template gone wrong, a first run's backlog) was one
    message each: a thousand messages buried the inbox and the sender's quota. Past ``burst`` they go as one digest."""
    settings = smtp_server.settings(burst=10)
    burst = flood(archive, range(11))
    report = run(archive, settings, T0)
    assert report.messages == 1 and sorted(report.sent) == burst
    [digest] = smtp_server.messages
    assert digest.message_id.startswith("<digest-") and "11 stories" in str(digest.message["Subject"])
    assert all(f"Report number {n}." in prose(digest.text()) for n in range(11))

    later = T0 + timedelta(hours=1)
    few = flood(archive, range(11, 14), now=later)
    report = run(archive, settings, later)
    assert report.messages == 3 and sorted(report.sent) == few
    assert not any(message.message_id.startswith("<digest-") for message in smtp_server.messages[1:])

    many = flood(archive, range(14, 26), now=later)
    assert run(archive, smtp_server.settings(burst=0), later).messages == len(many) == 12  # 0: a message each


@pytest.mark.parametrize(("mode", "refused_by"), [("instant", "filter"), ("digest", "filter"), ("instant", "renderer")])
def test_a_digest_refused_for_one_alerts_content_is_split_until_the_others_are_delivered(
    archive: Archive, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch, mode: str, refused_by: str
) -> None:
    """A mail server's content filter refuses a message that quotes a blocklisted link or a virus's signature, and a
    hostile page can hold either. A burst (or a digest) holding one such alert was refused whole, at every retry: the
    other sources' alerts in it never delivered, and a source making one such alert a check kept every digest out.
    A refused message of several alerts is now split in two, and the half refused again split again, until the
    alerts that can go have gone; the one alert the server refuses alone goes as a notice quoting none of it. A digest
    holding an alert the renderer fails on is split too, that alert left to wait alone."""
    settings = smtp_server.settings(burst=10, mode=mode)
    healthy = flood(archive, range(20))
    poison = store(archive, article("https://hostile.example/x", "Envoy story X"),
                   [("ambassadors", f"{RETURN} Listed at evil.example.", ("ambassador",), True)]).alert_id
    healthy += flood(archive, range(20, 30))
    if refused_by == "filter":
        smtp_server.refuse_content = b"evil.example"
    else:
        real = outbox.render_digest

        def broken_for_the_poison(contents: list[AlertContent], **kwargs: Any) -> EmailMessage:
            if any(content.alert_id == poison for content in contents):
                raise UnicodeError("a bug")
            return real(contents, **kwargs)

        monkeypatch.setattr(outbox, "render_digest", broken_for_the_poison)
    if mode == "digest":
        report = deliver(archive, lambda writer: deliver_digest(writer, settings, T0.replace(hour=7)))
    else:
        report = run(archive, settings, T0)
    delivered = " ".join(prose(message.text()) for message in smtp_server.messages)
    assert all(f"Report number {n}." in delivered for n in range(30))
    assert smtp_server.refused <= 6  # the whole, then one half of each halving: log2(31) of them
    if refused_by == "renderer":  # a bug: the alert waits alone, retried alone, nothing else sent again
        assert sorted(report.sent) == healthy and list(report.failed) == [poison]
        assert "a bug" in report.failed[poison] and report.messages <= 6
        again = run(archive, settings, T0 + timedelta(days=1))
        assert (again.sent, list(again.failed), again.messages) == ([], [poison], 0)
        return
    assert sorted(report.sent) == sorted([*healthy, poison]) and not report.failed
    assert report.messages <= 7  # the halves that went, and the notice
    notice = smtp_server.messages[-1]
    assert "refused by the mail server" in str(notice.message["Subject"]) and "hostile[.]example" in notice.text()
    assert "554 5.7.1" in alert_row(archive, poison)["last_error"]
    assert run(archive, settings, T0 + timedelta(days=1)).messages == 0


def test_a_stop_while_a_refused_digest_goes_in_halves_gives_every_unsent_claim_back(archive: Archive) -> None:
    """The claims were given back on a stop in the first send only: one during the halves of a digest refused for its
    content left its alerts claimed for their lease, and a restart sent nothing and said nothing."""
    alerts = flood(archive, range(12))
    datas, halves_started = 0, threading.Event()

    def serve(connection: socket.socket) -> None:  # the whole refused, the first half accepted, the second kept waiting
        nonlocal datas
        reader = connection.makefile("rb")
        connection.sendall(b"220 ready\r\n")
        while line := reader.readline():
            if line.upper().startswith(b"DATA"):
                connection.sendall(b"354 go on\r\n")
                while reader.readline() not in (b".\r\n", b""):
                    pass
                datas += 1
                if datas == 3:
                    halves_started.set()
                    time.sleep(30)
                connection.sendall(b"554 5.7.1 content rejected\r\n" if datas == 1 else b"250 queued\r\n")
            else:
                connection.sendall(b"221 bye\r\n" if line.upper().startswith(b"QUIT") else b"250 ok\r\n")

    server = RawServer(serve)
    settings = EmailSettings(host="127.0.0.1", port=server.port, recipients=["a@example.org"], burst=10, timeout=60)

    async def stopped_in_the_second_half(writer: ArchiveWriter) -> None:
        delivering = asyncio.create_task(deliver_due(writer, settings, T0))
        await asyncio.to_thread(halves_started.wait, 20)
        delivering.cancel()
        with pytest.raises(asyncio.CancelledError):
            await delivering

    try:
        deliver(archive, stopped_in_the_second_half)
    finally:
        server.close()
    rows = [alert_row(archive, alert_id) for alert_id in alerts]
    sent = [row for row in rows if row["sent"]]
    waiting = [row for row in rows if not row["sent"]]
    assert len(sent) == 6 and all(row["last_error"] is None for row in sent)  # the first half went
    assert len(waiting) == 6 and all(row["last_error"] == outbox.INTERRUPTED for row in waiting)
    assert all(datetime.fromisoformat(row["next_attempt"]) <= T0 for row in waiting)  # due at once, not held


def test_an_alert_a_hostile_copy_put_a_refused_link_in_reaches_the_analyst_as_a_notice(
    archive: Archive, smtp_server: SmtpServer
) -> None:
    """A hostile site's near copy of a real story joins it, and the story's alert lists the copy's link: a mail
    server whose filter refuses that link (a blocklisted domain) refused the real story's alert at every retry, and
    the analyst never heard of the story. An alert refused alone now goes as a notice of it that quotes nothing of
    the pages: its rules, its counts and its sites, defanged."""
    real = store(archive, article("https://wire.example/recall", "Russia recalls ambassador"),
                 [("ambassadors", AMBASSADOR, ("ambassador",), True)])
    store(archive, article("https://listed.example/copy", "Russia recalls ambassador"),
          [("ambassadors", AMBASSADOR, ("ambassador",), False)], story_id=real.story_id)
    smtp_server.refuse_content = b"listed.example"
    report = run(archive, smtp_server.settings(), T0)
    assert report.sent == [real.alert_id] and not report.failed and smtp_server.refused == 1
    [notice] = smtp_server.messages
    assert str(notice.message["Subject"]) == "[monitor] ambassadors: an alert refused by the mail server"
    assert "wire[.]example, listed[.]example" in notice.text() and AMBASSADOR not in prose(notice.text())
    assert notice.message_id == alert_row(archive, real.alert_id)["message_id"]


def test_a_sources_flood_of_long_alerts_leaves_a_digest_a_mail_server_accepts_with_another_sources_alert_quoted(
    tmp_path: Path,
) -> None:
    """A digest quoted every alert in full: a hostile source's 300 matching stories of ten long passages each made a
    12 MB message (41 MB for the thousand one check may take), which a mail server refuses (Postfix's limit is 10 MB)
    on every retry, with the other sources' alerts that shared the digest; its rendering held the event loop for
    seconds. The digest now quotes within a budget, the sources in turn, then lists, then counts."""
    from dataclasses import replace

    smtp = SmtpServer(size_limit=10_240_000)
    smtp.up()
    try:
        with Archive.create(tmp_path / "monitor.db") as archive:
            filler = " ".join(f"word{k}" for k in range(250))
            flooded = [
                store(archive, replace(article(f"https://flood.example/{n}", f"Envoy story {n}"), source="flood"),
                      [("ambassadors", f"{RETURN} Report {n} part {m}. {filler}", ("ambassador",), True)
                       for m in range(10)]).alert_id
                for n in range(300)
            ]
            healthy = store(archive, replace(article(AMBASSADOR_URLS[0], "Russia recalls ambassador"), source="wire"),
                            [("ambassadors", AMBASSADOR, ("ambassador",), True)]).alert_id
            report = run(archive, smtp.settings(burst=10), T0)
    finally:
        smtp.down()
    assert report.messages == 1 and sorted(report.sent) == sorted([*flooded, healthy])
    [digest] = smtp.messages
    assert len(digest.data) < 2_000_000
    text = prose(digest.text())
    assert AMBASSADOR in text and "Russia recalls ambassador" in text  # its turn came second
    assert "Envoy story 299" in text or "more alerts in the archive" in text


def test_a_burst_on_a_channel_lists_each_source_in_turn() -> None:
    """A channel's burst notification lists stories while they fit in BURST_CHARS: a flood queued first filled it,
    and another source's alert was only counted. The sources now take turns."""
    from monitor.alerts.render import render_burst
    from monitor.models import AlertCopy

    def content(alert_id: int, source: str, headline: str) -> AlertContent:
        copy = AlertCopy(headline, f"{source}.example", f"https://{source}.example/{alert_id}", T0, source=source)
        return AlertContent(alert_id, alert_id, f"<alert-{alert_id}@x>", headline, T0, False, ("ambassadors",), (),
                            (copy,))

    burst = [content(n, "flood", f"Envoy story {n}") for n in range(200)] + [content(200, "wire", "Envoys recalled")]
    _, body = render_burst(burst)
    assert "Envoys recalled" in body.splitlines()[2]
    assert "… and" in body


def test_instant_cycle_through_the_real_ingest_step(archive: Archive, smtp_server: SmtpServer) -> None:
    """The same acceptance, with dedup and the rules deciding: three outlets fold into one message."""
    rules = compile_rules([
        RuleSettings(name="ambassadors", terms=["ambassador"], context=["Washington"]),
        RuleSettings(name="prisoner swap", terms=["prisoner swap"], context=["Russia"]),
    ])
    background = [f"Paragraph {n} of the wire story: " + " ".join(f"detail{n}w{k}" for k in range(30)) for n in range(8)]
    wire = [AMBASSADOR, *background]
    copies = [wire, [*wire[:-1], "A local paragraph about the council budget."], [*wire[:-2], "Our correspondent adds."]]
    for url, paragraphs in zip(AMBASSADOR_URLS, copies, strict=True):
        ingest(archive, article(url, f"Recall at {url}", text="\n\n".join(paragraphs)), rules, T0)
    swap = [SWAP, *(f"Swap paragraph {n}: " + " ".join(f"swap{n}w{k}" for k in range(30)) for n in range(6))]
    ingest(archive, article("https://news.example/swap", "Journalist freed", text="\n\n".join(swap)), rules, T0)

    assert run(archive, smtp_server.settings(), T0).messages == 2
    recall = next(m for m in smtp_server.messages if "ambassadors" in str(m.message["Subject"]))
    assert AMBASSADOR in prose(recall.text()) and all(url in recall.text() for url in AMBASSADOR_URLS)


def test_a_story_copied_hundreds_of_times_is_quoted_and_listed_in_part(archive: Archive, smtp_server: SmtpServer) -> None:
    """A site repeating one matching article with a new number each time built a 17 MB message, rendered twice on the
    event loop (20 s); the alert now quotes and lists the first ones and counts the rest."""
    from monitor.store.alerts import ALERT_COPIES, ALERT_MENTIONS

    copies = ALERT_COPIES + 10
    first = store(archive, article("https://spam.example/0", "Envoys return"),
                  [("ambassadors", f"{AMBASSADOR} Report 0.", ("ambassador",), True)])
    for n in range(1, copies):
        store(archive, article(f"https://spam.example/{n}", "Envoys return"),
              [("ambassadors", f"{AMBASSADOR} Report {n}.", ("ambassador",), True)], story_id=first.story_id)
    content = archive.alert_content(first.alert_id)
    assert (len(content.mentions), content.more_mentions) == (ALERT_MENTIONS, copies - ALERT_MENTIONS)
    assert (len(content.copies), content.more_copies) == (ALERT_COPIES, copies - ALERT_COPIES)

    assert run(archive, smtp_server.settings(), T0).messages == 1
    (message,) = smtp_server.messages
    text = message.text()
    assert f"… and {copies - ALERT_MENTIONS} more passages in the archive" in text
    assert f"… and {copies - ALERT_COPIES} more copies in the archive" in text
    assert f"Report {ALERT_MENTIONS - 1}." in prose(text) and f"Report {ALERT_MENTIONS}." not in prose(text)
    assert "more copies in the archive" in message.html()


def test_copies_before_delivery_fold_and_later_ones_follow_up(archive: Archive, smtp_server: SmtpServer) -> None:
    ambassador, _ = two_stories(archive)
    run(archive, smtp_server.settings(), T0)
    later = T0 + timedelta(hours=2)

    # A copy with nothing new: no alert, nothing sent.
    quiet = store(archive, article("https://late.example/1", "Same old", fetched=later),
                  [("ambassadors", AMBASSADOR, ("ambassador",), False)], story_id=ambassador.story_id, now=later)
    # A copy with a new passage: a follow-up that says so, threaded with the first message.
    news = store(archive, article("https://late.example/2", "Envoy to return", fetched=later),
                 [("ambassadors", RETURN, ("ambassador",), True)], story_id=ambassador.story_id, now=later)
    assert quiet.alert_id is None and news.alert_id is not None
    run(archive, smtp_server.settings(), later)

    assert len(smtp_server.messages) == 3
    original, follow_up = smtp_server.messages[0], smtp_server.messages[2]
    assert "Follow-up" in str(follow_up.message["Subject"]) and "Follow-up" in follow_up.text()
    assert RETURN in prose(follow_up.text()) and AMBASSADOR not in prose(follow_up.text())
    assert follow_up.message["References"] == original.message["References"]
    assert follow_up.message_id != original.message_id


def test_passages_found_after_a_failed_try_go_into_a_follow_up_held_behind_it(
    archive: Archive, smtp_server: SmtpServer
) -> None:
    """A retry repeats the very message that was tried: later passages must not slip into it."""
    ambassador, _ = two_stories(archive)
    smtp_server.down()
    run(archive, smtp_server.settings(), T0)
    later = T0 + timedelta(seconds=10)
    news = store(archive, article("https://late.example/2", "Envoy to return", fetched=later),
                 [("ambassadors", RETURN, ("ambassador",), True)], story_id=ambassador.story_id, now=later)

    assert news.alert_id != ambassador.alert_id
    assert archive.due_alerts(later) == []  # held as long as the alert before it
    smtp_server.up()
    run(archive, smtp_server.settings(), T0 + timedelta(minutes=2))
    subjects = [str(m.message["Subject"]) for m in smtp_server.messages]
    assert len(subjects) == 3 and "Follow-up" in subjects[-1]
    assert RETURN not in prose(smtp_server.messages[0].text())


# ------------------------------------------------------------------ failures


def test_a_failed_delivery_logs_its_retry_time_as_monitor_shows_times(
    archive: Archive, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The line said "retry at 2026-12-06T04:39:35.490297+00:00" beside the "...Z" of every other time shown."""
    two_stories(archive)
    smtp_server.down()
    with caplog.at_level(logging.WARNING, logger="monitor.alerts.outbox"):
        run(archive, smtp_server.settings(), T0)
    lines = [record.getMessage() for record in caplog.records if "not delivered" in record.getMessage()]
    assert lines and all(re.search(r"\(retry at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)", line) for line in lines), lines


def test_outage_then_recovery_delivers_everything_once(archive: Archive, smtp_server: SmtpServer) -> None:
    ambassador, swap = two_stories(archive)
    settings = smtp_server.settings()
    smtp_server.down()

    down = run(archive, settings, T0)

    assert down.messages == 0 and set(down.failed) == {ambassador.alert_id, swap.alert_id}
    for alert_id in down.failed:
        row = alert_row(archive, alert_id)
        assert row["sent"] is None and row["attempts"] == 1
        # The server the config named: "Connection refused" alone did not say which.
        assert f"cannot reach SMTP server {settings.host}:{settings.port}: " in row["last_error"]
        assert row["next_attempt"] == "2024-03-01T06:01:00Z"
    assert down.queued == 2

    smtp_server.up()
    assert run(archive, settings, T0 + timedelta(seconds=30)).messages == 0  # backing off
    up = run(archive, settings, T0 + timedelta(seconds=60))
    assert up.messages == 2 and up.queued == 0
    run(archive, settings, T0 + timedelta(hours=5))
    ids = Counter(m.message_id for m in smtp_server.messages)
    assert len(ids) == 2 and set(ids.values()) == {1}
    assert alert_row(archive, ambassador.alert_id)["last_error"] is None


def test_after_an_outage_the_first_accepted_message_brings_every_held_alert(
    archive: Archive, smtp_server: SmtpServer
) -> None:
    """An hour-long outage leaves alerts with backoffs of many minutes: the server's return ends them all."""
    ambassador, swap = two_stories(archive)
    settings = smtp_server.settings()
    smtp_server.down()
    run(archive, settings, T0)
    run(archive, settings, T0 + timedelta(seconds=60))  # the second try: next one at T0 + 3 min
    assert alert_row(archive, swap.alert_id)["next_attempt"] == "2024-03-01T06:03:00Z"

    smtp_server.up()
    later = T0 + timedelta(seconds=70)
    news = store(archive, article("https://late.example/expelled", "Diplomats expelled", fetched=later),
                 [("ambassadors", RETURN, ("ambassador",), True)], now=later)
    report = run(archive, settings, later)

    assert sorted(report.sent) == sorted([news.alert_id, ambassador.alert_id, swap.alert_id])
    assert report.queued == 0 and len(smtp_server.messages) == 3


def test_a_server_that_goes_away_again_in_the_run_releases_nothing(archive: Archive, smtp_server: SmtpServer) -> None:
    """One message accepted, then the server leaves: what the outage held stays held, and is not tried in vain."""
    ambassador, swap = two_stories(archive)
    settings = smtp_server.settings()
    smtp_server.down()
    run(archive, settings, T0)
    smtp_server.up()
    smtp_server.accept_limit = 1
    later = T0 + timedelta(seconds=10)
    for n in range(2):
        store(archive, article(f"https://late.example/{n}", f"Diplomats expelled {n}", fetched=later),
              [("ambassadors", f"{RETURN} ({n})", ("ambassador",), True)], now=later)
    report = run(archive, settings, later)
    assert report.messages == 1
    for held in (ambassador, swap):
        assert alert_row(archive, held.alert_id)["attempts"] == 1
        assert alert_row(archive, held.alert_id)["next_attempt"] == "2024-03-01T06:01:00Z"


def test_a_refused_message_is_not_released_by_another_ones_success(archive: Archive, smtp_server: SmtpServer) -> None:
    """Only the server's absence is ended by its return; a message it refused keeps its backoff."""
    ambassador, _ = two_stories(archive)
    smtp_server.reject = "550 5.7.1 message refused"
    run(archive, smtp_server.settings(), T0)
    smtp_server.reject = None
    later = T0 + timedelta(seconds=10)
    news = store(archive, article("https://late.example/expelled", "Diplomats expelled", fetched=later),
                 [("ambassadors", RETURN, ("ambassador",), True)], now=later)
    assert run(archive, smtp_server.settings(), later).sent == [news.alert_id]
    assert alert_row(archive, ambassador.alert_id)["next_attempt"] == "2024-03-01T06:01:00Z"


@pytest.mark.parametrize(("reply", "kind"), [("550 5.7.1 relaying denied", "550"), ("451 4.3.0 try later", "451")])
def test_refusal_is_recorded_and_retried(archive: Archive, smtp_server: SmtpServer, reply: str, kind: str) -> None:
    ambassador, swap = two_stories(archive)
    smtp_server.reject = reply

    refused = run(archive, smtp_server.settings(), T0)

    assert refused.messages == 0 and len(refused.failed) == 2  # the session survives a refusal: both were tried
    assert f"SMTP {kind}" in alert_row(archive, swap.alert_id)["last_error"]
    smtp_server.reject = None
    run(archive, smtp_server.settings(), T0 + retry_delay(1, 3600))
    assert len(smtp_server.messages) == 2
    assert alert_row(archive, ambassador.alert_id)["attempts"] == 2


def test_a_retry_is_counted_from_the_failure_not_from_the_runs_start(archive: Archive) -> None:
    """Counted from the run's start, a send that failed at its deadline was retried seconds later, not a minute."""
    ambassador, swap = two_stories(archive)

    def serve(connection: socket.socket) -> None:  # every message refused, each after a wait
        reader = connection.makefile("rb")
        connection.sendall(b"220 ready\r\n")
        while line := reader.readline():
            if line.upper().startswith(b"DATA"):
                time.sleep(1.5)
                connection.sendall(b"451 4.3.0 try later\r\n")
            else:
                connection.sendall(b"221 bye\r\n" if line.upper().startswith(b"QUIT") else b"250 ok\r\n")

    server = RawServer(serve)
    try:
        started = time.monotonic()
        report = run(archive, EmailSettings(host="127.0.0.1", port=server.port, recipients=["a@example.org"]), T0)
        took = time.monotonic() - started
    finally:
        server.close()
    assert len(report.failed) == 2
    retries = sorted(datetime.fromisoformat(alert_row(archive, alert.alert_id)["next_attempt"]) - T0
                     for alert in (ambassador, swap))
    assert timedelta(seconds=61) <= retries[0] and timedelta(seconds=63) <= retries[1] <= timedelta(seconds=61 + took)


def test_backoff_doubles_up_to_the_cap(archive: Archive, smtp_server: SmtpServer) -> None:
    assert [retry_delay(n, 3600).total_seconds() for n in (1, 2, 3, 7, 8, 50)] == [60, 120, 240, 3600, 3600, 3600]
    assert retry_delay(1, 10) == timedelta(seconds=10)
    first, _ = two_stories(archive)
    settings, now = smtp_server.settings(retry_max=300), T0
    smtp_server.reject = "554 5.0.0 no"
    waits = []
    for _ in range(5):
        run(archive, settings, now)
        due = datetime.fromisoformat(alert_row(archive, first.alert_id)["next_attempt"])
        waits.append((due - now).total_seconds())
        now = due
    assert waits == [60, 120, 240, 300, 300]
    assert alert_row(archive, first.alert_id)["attempts"] == 5


def test_partly_refused_recipients_still_count_as_sent(archive: Archive, smtp_server: SmtpServer,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """Resending would duplicate the message for those who got it; the refusal is kept in last_error, and warned of
    (it was said at INFO alone, which -q hides: a recipient gone never got an alert, and nobody knew)."""
    two_stories(archive)
    smtp_server.refuse_rcpt = {"gone@example.org"}
    with caplog.at_level(logging.WARNING, logger="monitor"):
        report = run(archive, smtp_server.settings(recipients=["analyst@example.org", "gone@example.org"]), T0)
    assert report.messages == 2 and report.queued == 0
    assert "refused gone@example.org: SMTP 550" in alert_row(archive, 1)["last_error"]
    assert all(m.rcpt_tos == ("analyst@example.org",) for m in smtp_server.messages)
    assert [r.getMessage().split(":")[0] for r in caplog.records if r.levelno == logging.WARNING] == [
        "alerts [1]", "alerts [2]"]
    assert all("the server refused gone@example.org" in r.getMessage() for r in caplog.records
               if r.levelno == logging.WARNING)


def test_an_alert_that_cannot_be_rendered_is_kept_and_holds_up_no_other(
    archive: Archive, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ambassador, swap = two_stories(archive)
    real = render_message

    def broken_for_the_first(content: AlertContent, **kwargs: Any) -> EmailMessage:
        if content.alert_id == ambassador.alert_id:
            raise UnicodeError("a bug")
        return real(content, **kwargs)

    monkeypatch.setattr(outbox, "render_message", broken_for_the_first)
    report = run(archive, smtp_server.settings(), T0)
    assert report.sent == [swap.alert_id] and report.queued == 1
    assert "cannot render the message: UnicodeError('a bug')" in alert_row(archive, ambassador.alert_id)["last_error"]


def test_without_email_alerts_stay_queued_until_it_is_configured(archive: Archive, smtp_server: SmtpServer) -> None:
    two_stories(archive)
    report = run(archive, None, T0)
    assert report == DeliveryReport(queued=2)
    assert alert_row(archive, 1)["attempts"] == 0
    # [email] added days later: the backlog goes out, oldest first, its Message-IDs in the sender's domain.
    later = run(archive, smtp_server.settings(), T0 + timedelta(days=3))
    assert later.sent == [1, 2]
    for received, alert_id in zip(smtp_server.messages, [1, 2], strict=True):
        assert received.message["Message-ID"] == alert_row(archive, alert_id)["message_id"]
        assert received.message["Message-ID"].endswith("@example.org>")
        assert received.message["References"].endswith("@example.org>")


def test_a_header_injection_in_a_headline_adds_no_header_and_no_recipient(
    archive: Archive, smtp_server: SmtpServer
) -> None:
    hostile = "Envoy recalled\r\nBcc: victim@example.org\r\nX-Injected: yes\n\nbody"
    store(archive, article("https://evil.example/1", hostile), [("ambassadors", AMBASSADOR, ("ambassador",), True)])

    run(archive, smtp_server.settings(), T0)

    [received] = smtp_server.messages
    assert received.rcpt_tos == ("analyst@example.org",)
    header_block = received.data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    names = [line.split(":", 1)[0].lower() for line in header_block.split("\r\n") if line and not line[0].isspace()]
    assert "bcc" not in names and "x-injected" not in names
    assert set(names) == {"subject", "from", "to", "date", "message-id", "references", "list-id",
                          "auto-submitted", "mime-version", "content-type"}
    assert received.message["Subject"] == "[monitor] ambassadors: Envoy recalled Bcc: victim@example.org X-Injected: yes body"



def test_an_encoded_word_in_a_headline_smuggles_no_header(archive: Archive, smtp_server: SmtpServer) -> None:
    """The e-mail package decodes RFC 2047 encoded-words in a header it is given: an encoded CR LF became a
    real Reply-To header, past the cleaning of raw controls."""
    hostile = "Envoy recalled =?utf-8?q?=0D=0AReply-To:_attacker@evil.example=0D=0AX-Injected:_1?="
    store(archive, article("https://evil.example/1", hostile), [("ambassadors", AMBASSADOR, ("ambassador",), True)])

    run(archive, smtp_server.settings(), T0)

    [received] = smtp_server.messages
    header_block = received.data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    names = [line.split(":", 1)[0].lower() for line in header_block.split("\r\n") if line and not line[0].isspace()]
    assert "reply-to" not in names and "x-injected" not in names
    assert received.message["Reply-To"] is None
    assert received.message["Subject"].startswith("[monitor] ambassadors: Envoy recalled = ?utf-8?q?=0D=0AReply-To:")

# ------------------------------------------------------------------ at-least-once


_KILLED_AFTER_ACCEPT = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from datetime import datetime
    from monitor.alerts import deliver_due
    from monitor.config import EmailSettings
    from monitor.store import Archive
    from monitor.store.writer import ArchiveWriter

    def die(*args, **kwargs):  # the server has accepted; the mark never happens
        os.kill(os.getpid(), signal.SIGKILL)

    Archive.mark_sent = die
    email = EmailSettings(host="127.0.0.1", port=int(sys.argv[2]), recipients=["analyst@example.org"], timeout=5.0)

    async def main():
        async with ArchiveWriter(sys.argv[1]) as writer:
            await deliver_due(writer, email, datetime.fromisoformat(sys.argv[3]))

    asyncio.run(main())
    """
)


def test_a_kill_between_acceptance_and_mark_repeats_one_message_with_the_same_message_id(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    database = tmp_path / "monitor.db"
    with Archive.create(database) as archive:
        two_stories(archive)
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_AFTER_ACCEPT, str(database), str(smtp_server.port), T0.isoformat()],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, timeout=30, check=False,
    )
    assert killed.returncode == -9, killed.stderr.decode()
    assert len(smtp_server.messages) == 1  # accepted, then the process died

    settings = smtp_server.settings()
    with Archive.create(database) as archive:
        assert alert_row(archive, 1)["sent"] is None
        # The restarted daemon sends what was never tried; the dead claim holds alert 1 for a while...
        assert run(archive, settings, T0 + timedelta(seconds=1)).sent == [2]
        # ...then sends it again: the one repeat.
        report = run(archive, settings, T0 + timedelta(hours=1))
        assert report.sent == [1] and report.queued == 0
        run(archive, settings, T0 + timedelta(days=1))

    # The killed deliverer's sender (the default, at localhost) named alert 1 at its first try; the repeat keeps it.
    first, second = "<alert-1.story-1.20240301060000@localhost>", "<alert-2.story-2.20240301060000@example.org>"
    assert [m.message_id for m in smtp_server.messages] == [first, second, first]


def test_two_deliverers_at_once_send_each_alert_once(archive: Archive, smtp_server: SmtpServer, tmp_path: Path) -> None:
    """``monitor once`` beside the daemon: the claim lets only one of them send an alert."""
    two_stories(archive)
    settings = smtp_server.settings()

    async def both() -> list[DeliveryReport]:
        async with ArchiveWriter(archive.path) as one, ArchiveWriter(archive.path) as other:
            return list(await asyncio.gather(deliver_due(one, settings, T0), deliver_due(other, settings, T0)))

    reports = asyncio.run(both())
    assert sum(r.messages for r in reports) == 2
    assert sorted(m.message_id for m in smtp_server.messages) == sorted({m.message_id for m in smtp_server.messages})


def test_an_alert_another_deliverer_holds_is_no_failed_one_waiting(archive: Archive) -> None:
    """``monitor once`` beside another deliverer that had claimed an alert and was sending it exited 1, "1 alert not
    delivered, waiting to be tried again": nothing had failed. An alert waits for a retry once a try has failed."""
    two_stories(archive)
    claimed = archive.claim_alerts([1, 2], T0, T0 + timedelta(minutes=5))
    assert claimed == {1: 1, 2: 1}
    assert archive.retries_waiting(None, T0) == {}  # held by a deliverer at work: no failure
    archive.mark_failed([2], "421 try later", T0 + timedelta(minutes=10))
    assert archive.retries_waiting(None, T0) == {2: (T0 + timedelta(minutes=10), "421 try later")}


# ------------------------------------------------------------------ digest mode


def test_digest_goes_out_only_at_cron_times_and_never_empty(archive: Archive, smtp_server: SmtpServer) -> None:
    settings = smtp_server.settings(mode="digest", digest_cron="0 7 * * *")
    day = T0.replace(hour=0)

    def digest(at: datetime) -> int:
        return deliver(archive, lambda writer: deliver_digest(writer, settings, at)).messages

    assert digest(day + timedelta(hours=7)) == 0  # nothing queued: nothing sent
    ambassador, swap = two_stories(archive, now=day + timedelta(hours=6))
    assert run(archive, settings, day + timedelta(hours=6, minutes=30)).messages == 0  # digest mode: no instant mail
    assert digest(day + timedelta(hours=6, minutes=59)) == 0
    assert digest(day + timedelta(hours=7)) == 1
    assert digest(day + timedelta(hours=7, minutes=1)) == 0

    [message] = smtp_server.messages
    text = prose(message.text())
    assert "2 stories" in str(message.message["Subject"])
    assert text.index("ambassadors") < text.index(AMBASSADOR) < text.index("prisoner swap") < text.index(SWAP)
    assert all(url in message.text() for url in AMBASSADOR_URLS)
    assert message.message_id.startswith("<digest-1.")

    late = store(archive, article("https://late.example/1", "Envoy back", fetched=day + timedelta(hours=9)),
                 [("ambassadors", RETURN, ("ambassador",), True)], now=day + timedelta(hours=9))
    assert digest(day + timedelta(hours=12)) == 0
    assert digest(day + timedelta(days=1, hours=7)) == 1
    assert RETURN in prose(smtp_server.messages[1].text())
    assert digest(day + timedelta(days=2, hours=7)) == 0
    assert alert_row(archive, late.alert_id)["sent"] is not None
    assert {ambassador.alert_id, swap.alert_id} == {1, 2}


@pytest.mark.parametrize(
    ("since", "now", "due"),
    [
        ("06:00:00", "06:59:59", False),
        ("06:00:00", "07:00:00", True),
        ("06:00:00", "09:30:00", True),  # the daemon was down at 07:00: caught up
        ("07:00:00", "07:00:30", False),  # queued in the digest's own second: the next one takes it
        ("07:00:01", "23:59:00", False),
    ],
)
def test_digest_due(since: str, now: str, due: bool) -> None:
    day = "2024-03-01T{}+00:00"
    assert digest_due("0 7 * * *", datetime.fromisoformat(day.format(since)), datetime.fromisoformat(day.format(now))) is due


@pytest.mark.parametrize(
    ("cron", "due_on"),
    [
        ("0 7 * * 1", "Monday"),  # APScheduler 3 reads 1 as Tuesday: Monday's digest went a day late
        ("0 7 * * 0", "Sunday"),
        ("0 7 * * 7", "Sunday"),  # crontab's other Sunday, which APScheduler 3 refuses
        ("0 7 * * 1-5", "Monday Tuesday Wednesday Thursday Friday"),
        ("0 7 * * */3", "Sunday Wednesday Saturday"),
        ("0 7 * * mon,thu", "Monday Thursday"),
    ],
)
def test_a_digest_cron_counts_weekdays_as_crontab_does(cron: str, due_on: str) -> None:
    sunday = datetime(2024, 3, 3, 8, 0, tzinfo=UTC)  # the week after: Sunday 3 to Saturday 9 March 2024, at 07:00
    days = [sunday + timedelta(days=n) for n in range(7)]
    due = [day.strftime("%A") for day in days if digest_due(cron, day - timedelta(hours=2), day)]
    assert due == due_on.split()


def test_a_failed_digest_is_retried_as_the_same_message(archive: Archive, smtp_server: SmtpServer) -> None:
    settings = smtp_server.settings(mode="digest", digest_cron="0 7 * * *")
    two_stories(archive, now=T0)
    smtp_server.down()
    at_seven = T0.replace(hour=7)
    failed = deliver(archive, lambda writer: deliver_digest(writer, settings, at_seven))
    assert failed.messages == 0 and len(failed.failed) == 2

    # A story found meanwhile waits for the next digest; the failed one keeps its content and Message-ID.
    store(archive, article("https://late.example/1", "Envoy back", fetched=at_seven),
          [("ambassadors", RETURN, ("ambassador",), True)], now=at_seven + timedelta(seconds=5))
    smtp_server.up()
    retried = run(archive, settings, at_seven + timedelta(minutes=1))
    assert retried.messages == 1 and sorted(retried.sent) == [1, 2]
    [message] = smtp_server.messages
    assert message.message_id.startswith("<digest-1.") and RETURN not in prose(message.text())
    assert retried.queued == 1


def test_the_alert_reads_right(tmp_path: Path, smtp_server: SmtpServer) -> None:
    """The copy stored first leads, with its headline in the subject, even when a copy stored later claims an
    earlier date; outlets by name; each passage attributed to the outlets that carried it; the Message-ID in the
    sender's domain."""
    with Archive.create(tmp_path / "monitor.db") as archive:
        daily = Article(url="https://copy.example/a", site="copy.example", title="Envoy called home", text="x",
                        source="Copy Daily", fetched=T0, published=T0 + timedelta(hours=3))
        first = store(archive, daily, [("ambassadors", AMBASSADOR, ("ambassador",), True)])
        wire = Article(url="https://wire.example/a", site="wire.example", title="Russia recalls ambassador",
                       text="y", source="The Wire", fetched=T0 + timedelta(hours=4), published=T0)
        store(archive, wire, [("ambassadors", AMBASSADOR, ("ambassador",), False),
                              ("ambassadors", RETURN, ("ambassador",), True)], story_id=first.story_id)
        settings = smtp_server.settings()
        with archive.transaction():  # an alert queued as the pipeline queues it, with the configured sender
            story = archive.new_story("Another story", T0)
            article_id = archive.insert_article(
                Article(url="https://wire.example/b", site="wire.example", title="Another story", text="z",
                        source="The Wire", fetched=T0), story_id=story, text_hash="b", word_count=1, signature=b"",
                shingles=0, band_keys=[])
            mention = archive.insert_mention(article_id, Mention("ambassadors", RETURN, (), True), T0, [])
            archive.queue_alert(story, [mention], T0, settings.message_domain)
        content = archive.alert_content(first.alert_id or 0)
        run(archive, settings, T0 + timedelta(minutes=1))
    assert content.headline == "Envoy called home" and [c.outlet for c in content.copies] == ["Copy Daily", "The Wire"]
    text = render_text(content)
    assert text.startswith("[monitor] ambassadors: Envoy called home")
    quoted = prose(text)
    # who carried each passage, and on which host: a page names itself
    assert f"{AMBASSADOR} (Copy Daily (copy.example))" in quoted and f"{RETURN} (The Wire (wire.example))" in quoted
    assert "Reported by:\n  * Envoy called home\n    Copy Daily (copy.example)," in text  # outlets by name
    domain = settings.sender.rpartition("@")[2]
    ids = [message.message_id for message in smtp_server.messages]
    assert ids[-1].endswith(f"@{domain}>") and ids[0].endswith(f"@{domain}>")  # the first queued before [email] knew


def test_a_later_copy_backdating_itself_does_not_lead_the_alert(archive: Archive, smtp_server: SmtpServer) -> None:
    """A page's published date is its own claim: a near copy stored after the story's first one, dated 1990 under
    its own headline and a borrowed outlet name, is listed among the others and never heads the alert."""
    genuine = Article(url="https://wire.example/geneva", site="wire.example", title="Envoys to return", text="x",
                      source="The Wire", fetched=T0, published=T0 - timedelta(minutes=5))
    first = store(archive, genuine, [("ambassadors", RETURN, ("ambassador",), True)])
    later = T0 + timedelta(seconds=2)
    forged = Article(url="https://copy.example/staged", site="copy.example", title="Kremlin denies any talks", text="x",
                     source="copy", outlet="Reuters", fetched=later, published=datetime(1990, 1, 1, tzinfo=UTC))
    store(archive, forged, [("ambassadors", RETURN, ("ambassador",), False)], story_id=first.story_id, now=later)

    run(archive, smtp_server.settings(), T0 + timedelta(minutes=1))

    [message] = smtp_server.messages
    assert message.message["Subject"] == "[monitor] ambassadors: Envoys to return"
    text = message.text().replace("\r\n", "\n")  # as received: CRLF line ends
    assert "Reported by:\n  * Envoys to return\n    The Wire (wire.example), 2024-03-01 05:55 UTC" in text
    assert "Also reported by:\n  * Kremlin denies any talks\n    Reuters (copy.example), 1990-01-01" in text
    reported = message.html().partition("Reported by:")[2]
    assert reported.index("https://wire.example/geneva") < reported.index("https://copy.example/staged")


# Headlines whose subjects the e-mail package folded into encoded-words that lost or doubled a space between them.
FOLDED_HEADLINES = [
    "Обмен заключенными между Россией и США состоялся в Анкаре, сообщили в Кремле",  # "СШАсостоялся"
    "Russland ruft Botschafter aus Washington zurück",  # "Washington  zurück"
    "Посол России Дарчиев вернулся в Москву после консультаций в МИД, сообщили в посольстве в Вашингтоне",
    "Envoy’s return: ‘a good sign’ says Ryabkov after talks in Istanbul on the work of the embassies",
]


def test_a_long_subject_in_any_script_reaches_the_analyst_word_for_word(archive: Archive, smtp_server: SmtpServer) -> None:
    """The mail client shows the subject decoded as RFC 2047 says: spaces between two encoded-words are dropped,
    so a space the folding put there glued two words of a Russian headline together."""
    for number, headline in enumerate(FOLDED_HEADLINES):
        store(archive, article(f"https://wire.example/{number}", headline), [("ambassadors", AMBASSADOR, (), True)])

    run(archive, smtp_server.settings(), T0)

    received = [str(message.message["Subject"]) for message in smtp_server.messages]
    assert received == [f"[monitor] ambassadors: {headline}" for headline in FOLDED_HEADLINES]
    for message in smtp_server.messages:
        head = message.data.partition(b"\r\n\r\n")[0]
        assert b"Subject: [monitor] ambassadors: " in head  # the plain words stay plain, for filters
        assert max(map(len, head.split(b"\r\n"))) <= 78
