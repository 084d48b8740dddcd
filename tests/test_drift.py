"""Source health: the pure judgement of a source's recent checks, and the notices a check sends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.alerts_data import deliver
from tests.httpserver import LocalWeb, Recorded, Route
from tests.smtpserver import SmtpServer
from tests.webhook import Receiver

from monitor import app
from monitor.alerts.notices import deliver_notices
from monitor.config import ChannelSettings, EmailSettings, FetchSettings, Settings, SourceSettings
from monitor.drift import judge, notice_for
from monitor.fetch.client import Fetcher
from monitor.models import CheckRecord
from monitor.pipeline import CheckReport, Pipeline
from monitor.store import Archive
from monitor.store.writer import ArchiveWriter
from monitor.workers import Workers

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
HOURS = timedelta(hours=1)


def ok(hours_ago: float, links: int = 20, extracted: int = 0, text_chars: int = 0, changed: bool = True) -> CheckRecord:
    return CheckRecord(checked=NOW - hours_ago * HOURS, ok=True, changed=changed, links=links,
                       extracted=extracted, text_chars=text_chars)


def failed(hours_ago: float) -> CheckRecord:
    return CheckRecord(checked=NOW - hours_ago * HOURS, ok=False, changed=False)


HEALTHY = [ok(h) for h in range(72, 29, -6)]  # three days, up to 30 hours ago


def test_a_source_that_yields_as_before_is_healthy() -> None:
    assert judge([*HEALTHY, ok(20), ok(10), ok(1)], NOW) is None


def test_a_source_whose_changed_checks_list_no_links_any_more_is_unhealthy() -> None:
    broken = [*HEALTHY, ok(20, links=0), ok(10, links=0), ok(1, links=0)]
    assert judge(broken, NOW) == "no more links: 3 of its last 3 changed checks listed none (about 20 per check before)"


def test_a_source_listing_no_more_links_recovers_only_when_it_lists_some_again_and_again() -> None:
    """One listing among empty ones announced a recovery, and the next three empty ones the problem again: a
    source flapping so sent the operators a notice an hour."""
    broken = [*HEALTHY, ok(20, links=0), ok(10, links=0), ok(8, links=0)]
    problem = judge(broken, NOW)
    assert problem is not None
    flapping = [*broken, ok(6, links=2), ok(5, links=0), ok(4, links=0), ok(3, links=0), ok(2, links=2)]
    assert judge(flapping, NOW, problem) == (
        "no more links: 2 of its last 3 changed checks listed none (about 20 per check before)")
    assert notice_for("wire", problem, judge(flapping, NOW, problem), NOW) is None
    assert judge([*flapping, ok(1.5), ok(1)], NOW, problem) is None  # three listings in a row: over


@pytest.mark.parametrize(
    "recent",
    [
        [ok(10, links=0), ok(1, links=0)],  # two are not enough to believe it
        [ok(20, links=0), ok(10, links=0), ok(5, links=0, changed=False), ok(1, links=3)],  # it listed some again
        [ok(20, links=0, changed=False), ok(10, links=0, changed=False), ok(1, links=0, changed=False)],  # unchanged
    ],
    ids=["too_few", "recovered", "only_unchanged_checks"],
)
def test_no_false_alarm_on_too_few_or_unchanged_checks(recent: list[CheckRecord]) -> None:
    assert judge([*HEALTHY, *recent], NOW) is None


def test_a_source_that_never_listed_a_link_is_told_apart_from_one_that_stopped() -> None:
    """A listing whose links selector matches nothing reported "ok" at every check, for good."""
    assert judge([ok(h, links=0) for h in range(72, 0, -6)], NOW) == (
        "no links at all: none of its 12 checks listed one (is the URL right, and for a page, does its links selector"
        " match the page?)")
    assert judge([ok(2, links=0), ok(1, links=0)], NOW) is None  # two are not enough
    assert judge([ok(3, links=0), ok(2, links=0), ok(1, links=1)], NOW) is None


def test_a_source_failing_for_a_day_is_unhealthy_and_a_success_ends_it() -> None:
    failing = [*HEALTHY, failed(25), failed(12), failed(1)]
    assert judge(failing, NOW) == "failing for a day: every check for 25 h has failed (3 checks)"
    assert judge([*HEALTHY, failed(23), failed(1)], NOW) is None  # not a day yet
    assert judge([*failing, ok(0)], NOW) is None


def test_extraction_returning_far_less_text_is_unhealthy() -> None:
    before = [ok(h, extracted=2, text_chars=2 * 4000) for h in range(72, 24, -6)]
    consent_walls = [ok(h, extracted=1, text_chars=300) for h in (20, 10, 2)]
    assert judge([*before, *consent_walls], NOW) == (
        "far less text: extraction gave 300 characters an article in the last day, 4000 before"
    )
    shorter = [ok(h, extracted=1, text_chars=2000) for h in (20, 10, 2)]  # half as long: news, not breakage
    assert judge([*before, *shorter], NOW) is None


def test_a_failure_outranks_the_other_problems() -> None:
    history = [*HEALTHY, ok(23, links=0), ok(22, links=0), ok(21, links=0), *[failed(h) for h in (20, 10, 0)]]
    assert (judge(history, NOW) or "").startswith("no more links")
    history = [*HEALTHY, ok(29, links=0), ok(28, links=0), ok(27, links=0), failed(26), failed(0)]
    assert (judge(history, NOW) or "").startswith("failing for a day")


def test_one_notice_when_a_problem_begins_or_changes_kind_and_one_when_it_is_over() -> None:
    problem = "no more links: its last 3 changed checks listed none (about 20 per check before)"
    begins = notice_for("wire", None, problem, NOW)
    assert begins is not None and begins.problem == problem
    assert notice_for("wire", problem, problem.replace("3", "4"), NOW) is None  # the same problem, new figures
    assert notice_for("wire", problem, None, NOW) == type(begins)(source="wire", problem=None, previous=problem, when=NOW)
    assert notice_for("wire", problem, "failing for a day: ...", NOW) is not None
    assert notice_for("wire", None, None, NOW) is None


# ---------------------------------------------------------------- through checks on a fake clock


class Listing:
    """A listing page on the loopback server whose body changes at every request; ``links`` toggles its links."""

    def __init__(self, web: LocalWeb) -> None:
        self.links = True
        self.served = 0
        web.route("/list", handler=self.answer)

    def answer(self, _: Recorded) -> Route:
        self.served += 1
        links = '<a href="/a/1">A</a><a href="/a/2">B</a>' if self.links else "<p>New design!</p>"
        return Route(body=f"<html><body>{links}<p>visit {self.served}</p></body></html>".encode(),
                     headers={"Content-Type": "text/html"})


def checks_every_6_hours(
    web: LocalWeb, tmp_path: Path, listing: Listing, plan: list[bool], email: EmailSettings | None = None,
    channels: Sequence[ChannelSettings] = (),
) -> list[CheckReport]:
    """One check per entry of ``plan`` (whether the listing has links then), 6 hours apart on a fake clock, each
    followed by a delivery of the operator notices, as the daemon does."""
    source = SourceSettings(name="desk", kind="page", url=web.url("/list"), links="a")
    settings = Settings(database=str(tmp_path / "m.db"), fetch=FetchSettings(delay=0, robots=False, timeout=2),
                        sources=[source], email=email)
    now = [NOW]

    async def go() -> list[CheckReport]:
        reports = []
        async with ArchiveWriter(settings.database) as writer, Fetcher(settings.fetch, [web.origin]) as fetcher, \
                Workers(settings) as workers, Pipeline(settings, writer, fetcher, workers, clock=lambda: now[0]) as pipeline:
            for has_links in plan:
                listing.links = has_links
                reports.append(await pipeline.check(source, force=True))
                await deliver_notices(writer, email, channels, now[0])
                now[0] += 6 * HOURS
        return reports

    Archive.create(settings.database).close()
    return asyncio.run(go())


def test_a_broken_listing_is_told_once_and_its_recovery_once(
    local_web: LocalWeb, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    listing = Listing(local_web)
    plan = [True] * 6 + [False] * 5 + [True] * 3
    with caplog.at_level(logging.INFO, logger="monitor.alerts.notices"):
        reports = checks_every_6_hours(local_web, tmp_path, listing, plan)
    told = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "monitor.alerts.notices"]
    assert told == [
        ("WARNING", "source 'desk': no more links: 3 of its last 3 changed checks listed none"
                    " (about 2 per check before)"),
        ("INFO", "source 'desk' recovered (it was: no more links: 1 of its last 3 changed checks listed none"
                 " (about 2 per check before))"),
    ]
    assert [i for i, r in enumerate(reports) if r.notice] == [8, 13]  # over once three checks in a row list links
    with Archive.create(tmp_path / "m.db") as archive:
        assert archive.source_state("desk").health is None
        assert [c.links for c in archive.check_history("desk", since=NOW)] == [2] * 6 + [0] * 5 + [2] * 3


def test_operators_are_told_by_e_mail_when_they_are_configured(
    local_web: LocalWeb, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    listing = Listing(local_web)
    email = smtp_server.settings(operators=["ops@example.org"])
    checks_every_6_hours(local_web, tmp_path, listing, [True] * 6 + [False] * 3, email=email)
    [message] = smtp_server.messages
    assert message.rcpt_tos == ("ops@example.org",)
    assert "no more links" in str(message.message["Subject"]) and "monitor status" in message.text()


def test_a_notice_waits_in_the_archive_while_the_mail_server_is_down_and_is_delivered_once_it_is_up(
    local_web: LocalWeb, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    listing = Listing(local_web)
    email = smtp_server.settings(operators=["ops@example.org"])
    smtp_server.down()
    reports = checks_every_6_hours(local_web, tmp_path, listing, [True] * 6 + [False] * 3, email=email)
    assert reports[-1].notice is not None and not smtp_server.messages
    assert app.status(Settings(database=str(tmp_path / "m.db"))).counts["notices"] == 1  # `monitor status` shows it
    with Archive.create(tmp_path / "m.db") as archive:
        smtp_server.up()
        later = NOW + 3 * 24 * HOURS
        assert deliver(archive, lambda writer: deliver_notices(writer, email, [], later)) == {"email": [1]}
        assert deliver(archive, lambda writer: deliver_notices(writer, email, [], later + HOURS)) == {"email": []}
        assert archive.queued_notice_count() == 0
    [message] = smtp_server.messages
    assert message.rcpt_tos == ("ops@example.org",) and "no more links" in str(message.message["Subject"])
    assert message.message_id == f"<notice-1.{NOW + 8 * 6 * HOURS:%Y%m%d%H%M%S}@{email.message_domain}>"


def test_a_notice_goes_to_the_operators_and_every_channel_and_a_channel_that_is_down_gets_it_later(
    local_web: LocalWeb, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    listing, hook = Listing(local_web), Receiver()
    try:
        email = smtp_server.settings(operators=["ops@example.org"])
        chat = [ChannelSettings(name="chat", url=hook.url)]
        hook.status = 503
        checks_every_6_hours(local_web, tmp_path, listing, [True] * 6 + [False] * 3, email=email, channels=chat)
        assert len(smtp_server.messages) == 1 and not hook.posts
        with Archive.create(tmp_path / "m.db") as archive:
            assert archive.queued_notice_count() == 1  # open until the channel has it too
            hook.status = 200
            later = NOW + 3 * 24 * HOURS
            assert deliver(archive, lambda writer: deliver_notices(writer, email, chat, later + HOURS)) == {
                "email": [], "channel:chat": [1]}
            assert archive.queued_notice_count() == 0
        assert len(smtp_server.messages) == 1
        [post] = hook.posts
        assert "no more links" in str(post["title"]) and "monitor status" in str(post["message"])
    finally:
        hook.server.shutdown()
