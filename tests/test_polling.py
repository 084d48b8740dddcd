"""Adaptive polling: the pure decision (history in, next interval out) and its use by a check."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.conftest import RunCLI
from tests.httpserver import LocalWeb

from monitor.config import Settings, SourceSettings
from monitor.models import CheckRecord
from monitor.polling import interval_for, next_interval

NOON = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
BOUNDS = {"default": 900.0, "floor": 120.0, "ceiling": 6 * 3600.0}


def checks(every: timedelta, days: float, new_links: Callable[[datetime], int], end: datetime = NOON) -> list[CheckRecord]:
    """A regular history of successful checks up to ``end``, each finding ``new_links(time)``."""
    count = int(timedelta(days=days) / every)
    times = [end - every * i for i in range(count, -1, -1)]
    return [CheckRecord(checked=t, ok=True, new_links=new_links(t)) for t in times]


def test_without_history_a_source_is_checked_at_the_configured_interval() -> None:
    assert next_interval([], now=NOON, **BOUNDS) == pytest.approx(900)
    assert next_interval([CheckRecord(NOON, True, 40)], now=NOON, **BOUNDS) == pytest.approx(900)  # a first check's links are the backlog


def test_a_busy_source_is_checked_more_often_than_a_quiet_one() -> None:
    busy = next_interval(checks(timedelta(minutes=15), 7, lambda t: 3), now=NOON, **BOUNDS)
    quiet = next_interval(checks(timedelta(minutes=15), 7, lambda t: int(t.minute == 0 and t.hour == 3)), now=NOON, **BOUNDS)
    silent = next_interval(checks(timedelta(minutes=15), 7, lambda t: 0), now=NOON, **BOUNDS)
    assert BOUNDS["floor"] <= busy < 900 < quiet <= silent == BOUNDS["ceiling"]


def every(hours: float) -> Callable[[datetime], int]:
    """One new link at each check on a multiple of ``hours`` since the epoch."""
    return lambda t: int(t.timestamp() % (hours * 3600) == 0)


def test_quiet_hours_keep_the_square_root_rule_and_busy_hours_are_pulled_down_to_a_third_of_the_interval() -> None:
    """The median, not the mean: the busier an hour, the further below the square-root rule its interval goes."""
    later = NOON + timedelta(minutes=20)  # the last link is older than one interval: no following

    def learned(hours: float) -> float:
        return next_interval(checks(timedelta(minutes=5), 7, every(hours), end=later), now=later, **BOUNDS)

    def square_root_rule(hours: float) -> float:
        return math.sqrt(900 * hours * 3600)

    def pulled_down(hours: float) -> float:  # T² = D / rate - (D² - (D/3)²)
        return math.sqrt(900 * hours * 3600 - (900**2 - 300**2))

    assert learned(8) > 0.8 * square_root_rule(8)  # links at 00, 08 and 16 h only: not quite an even rate
    assert learned(1) == pytest.approx(pulled_down(1), rel=0.02)
    assert learned(0.5) == pytest.approx(pulled_down(0.5), rel=0.02)
    assert learned(1) / square_root_rule(1) > learned(0.5) / square_root_rule(0.5)
    assert learned(0.25) == pytest.approx(300)  # a link per configured interval: every third of it
    assert learned(1 / 12) == pytest.approx(300)


def test_one_burst_in_a_week_is_not_a_habit() -> None:
    """An hour with fewer than a few finds borrows from the hours around it: one burst does not make it busy."""
    before_three = NOON.replace(hour=2, minute=50)

    def at_three(days: set[int]) -> Callable[[datetime], int]:
        return lambda t: 10 if t.hour == 3 and t.minute == 0 and t.weekday() in days else 0

    once = next_interval(checks(timedelta(minutes=10), 7, at_three({0}), end=before_three), now=before_three, **BOUNDS)
    daily = next_interval(checks(timedelta(minutes=10), 7, at_three(set(range(7))), end=before_three),
                          now=before_three, **BOUNDS)
    assert daily < 1200 < 3600 < once


def test_an_hour_found_empty_this_week_is_still_checked_when_the_hours_around_it_publish() -> None:
    def all_day_but_two_pm(t: datetime) -> int:
        return int(t.minute in (0, 30) and t.hour != 14)

    before_two = NOON.replace(hour=13, minute=55)
    interval = next_interval(checks(timedelta(minutes=5), 7, all_day_but_two_pm, end=before_two), now=before_two,
                             **BOUNDS)
    assert interval < 1800


def daytime(t: datetime) -> int:
    return 2 if 8 <= t.hour < 20 else 0


def test_a_source_that_sleeps_at_night_is_checked_rarely_at_night_and_soon_after_its_morning() -> None:
    history = checks(timedelta(minutes=20), 7, daytime, end=NOON)
    by_day = next_interval(history, now=NOON, **BOUNDS)
    night = NOON.replace(hour=23)
    at_night = next_interval(checks(timedelta(minutes=20), 7, daytime, end=night), now=night, **BOUNDS)
    before_dawn = NOON.replace(hour=7, minute=30)
    waking = next_interval(checks(timedelta(minutes=20), 7, daytime, end=before_dawn), now=before_dawn, **BOUNDS)
    assert by_day < 900 < at_night
    assert at_night > 3 * by_day
    assert waking < 1800 + by_day  # the check comes within the first minutes of its day, not hours later


def test_a_source_that_just_published_is_followed_until_it_stops() -> None:
    calm = checks(timedelta(minutes=30), 7, lambda t: int(t.hour == 10 and t.minute == 0))
    before = next_interval(calm, now=NOON, **BOUNDS)
    burst = [*calm, CheckRecord(NOON + timedelta(minutes=20), True, 6)]
    during = next_interval(burst, now=NOON + timedelta(minutes=20), **BOUNDS)
    quiet = [*burst, CheckRecord(NOON + timedelta(minutes=25), True, 0)]
    still = next_interval(quiet, now=NOON + timedelta(minutes=25), **BOUNDS)
    over = [*quiet, CheckRecord(NOON + timedelta(minutes=40), True, 0)]
    after = next_interval(over, now=NOON + timedelta(minutes=40), **BOUNDS)
    assert during <= 300 < before / 4
    assert still == during  # one empty check does not end it: links came within the last interval
    assert after > 2 * during  # an interval without links does


def test_failed_checks_and_checks_older_than_the_window_do_not_count() -> None:
    busy_long_ago = checks(timedelta(minutes=15), 7, lambda t: 5, end=NOON - timedelta(days=8))
    failures = [CheckRecord(NOON - timedelta(minutes=m), False, 0) for m in range(0, 600, 15)]
    assert next_interval(busy_long_ago + failures, now=NOON, **BOUNDS) == pytest.approx(900)


@pytest.mark.parametrize("links", [0, 10_000])
def test_the_interval_stays_between_the_floor_and_the_ceiling(links: int) -> None:
    interval = next_interval(checks(timedelta(minutes=5), 7, lambda t: links), now=NOON, **BOUNDS)
    assert interval == (BOUNDS["ceiling"] if links == 0 else BOUNDS["floor"])


def test_a_source_with_its_own_interval_or_adaptive_off_keeps_the_configured_interval() -> None:
    busy = checks(timedelta(minutes=5), 7, lambda t: 50)
    fixed = SourceSettings(name="f", kind="feed", url="https://example.org/rss", interval=600)
    learned = SourceSettings(name="a", kind="feed", url="https://example.org/rss")
    settings = Settings(sources=[fixed, learned])
    assert interval_for(fixed, settings, busy, NOON) == 600
    assert interval_for(learned, settings, busy, NOON) == settings.schedule.min_interval
    off = Settings.model_validate({"schedule": {"adaptive": False}, "sources": [learned.model_dump(exclude_none=True)]})
    assert interval_for(learned, off, busy, NOON) == 900


def test_the_floor_is_never_below_the_politeness_delay() -> None:
    settings = Settings.model_validate({"schedule": {"min_interval": 1}, "fetch": {"delay": 30}})
    source = SourceSettings(name="a", kind="feed", url="https://example.org/rss")
    assert interval_for(source, settings, checks(timedelta(minutes=1), 1, lambda t: 100), NOON) == 30


# ---------------------------------------------------------------- through a check and `monitor status`

EMPTY_FEED = '<rss version="2.0"><channel><title>Desk</title></channel></rss>'


def test_each_check_is_recorded_and_the_learned_interval_shown_in_status(
    run_cli: RunCLI, tmp_path: Path, local_web: LocalWeb
) -> None:
    local_web.route("/rss", EMPTY_FEED, content_type="application/rss+xml")
    (tmp_path / "config.toml").write_text(
        f'[fetch]\ndelay = 0\n[schedule]\ninterval = 600\n'
        f'[[sources]]\nname = "learned"\nkind = "feed"\nurl = "{local_web.url("/rss")}"\n'
        f'[[sources]]\nname = "fixed"\nkind = "feed"\nurl = "{local_web.url("/rss")}"\ninterval = 300\n'
    )
    run_cli("once")
    run_cli("once")
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        checks = conn.execute("SELECT source, ok, new_links FROM source_checks ORDER BY id").fetchall()
        intervals = dict(conn.execute("SELECT name, interval FROM sources").fetchall())
    assert sorted(checks) == [("fixed", 1, 0)] * 2 + [("learned", 1, 0)] * 2
    assert intervals["fixed"] == 300
    # A second check that found nothing new: less often than the start (whatever the hour: with no finds yet,
    # every hour of the day rests on the same pooled counts).
    assert intervals["learned"] > 600
    status = run_cli("status").stdout
    assert "5m00s fixed" in status and "learned" in status
