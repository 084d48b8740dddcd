"""Adaptive polling: when to check a source next, learned from when it actually publishes.

A fixed interval makes an article published a minute after a check wait a whole
interval, whatever the outlet's rhythm. Here each source's rhythm is learned from
its own recent checks (how many new links each found, over the last
:data:`WINDOW` days) as a publication rate for each hour of the day, UTC. The
next check comes when enough of that rate has accumulated since this one.

How often, for a rate ``λ`` (new links per second): every ``sqrt(SCALE / λ)``
seconds, where ``SCALE`` is the configured ``schedule.interval``. Checking in
proportion to the square root of the rate is what minimises the mean delay from publication to detection over many sources for a
given number of requests (each source's items wait half an interval on
average, so the total ``Σ λ_i · interval_i`` under a fixed ``Σ 1 / interval_i``
is least at ``interval_i ∝ 1/sqrt(λ_i)``). Before any history the rate is
believed to be one new link per ``schedule.interval``, which gives that interval:
a new source starts where monitor always started it.

Two things move the next check from the plain daily profile:

* the hours to come: the interval is the time it takes ``sqrt(λ(t) / SCALE)``,
  integrated from now hour by hour, to reach one check, so a source that sleeps
  at night is checked rarely at night and soon after its morning begins;
* a burst: when the last check found more new links than the profile expected,
  the rate it saw (its links taken as published within the last ten minutes at
  most) is used for the next half hour, so a breaking story is followed closely.

The interval is kept between the floor and the ceiling (``schedule.min_interval``,
``schedule.max_interval``), and the floor is never below the politeness delay.
Checks are conditional requests (ETag, Last-Modified, body hash), so a frequent
check of an unchanged source costs one small request.

The square root serves the mean delay, not the median that the polling benchmark aims at (a
third of fixed polling's): sharper allocations (higher exponents, following a burst
closely, pooled or deconvolved profiles) either left the ratio no lower or lowered it
by raising the p95, because a week of new-link counts blurs when a source publishes.
docs/benchmarks.md has the figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from monitor.config import Settings, SourceSettings
from monitor.models import CheckRecord

__all__ = ["WINDOW", "interval_for", "next_interval"]

WINDOW = timedelta(days=7)  # the history that counts: long enough for a daily rhythm, short enough to follow a change
_BURST_HOLD = 1800.0  # how long the rate a burst showed is believed
_BURST_SPAN = 600.0  # a burst's links are taken to be this recent at most


def interval_for(source: SourceSettings, settings: Settings, history: Sequence[CheckRecord], now: datetime) -> int:
    """Seconds until the source's next check: learned when adaptive, else as configured.

    The floor is never below the politeness delay between two requests to a host.
    """
    if not settings.is_adaptive(source):
        return settings.interval_of(source)
    schedule = settings.schedule
    floor = max(float(schedule.min_interval), settings.fetch.delay)
    return round(
        next_interval(history, now=now, default=schedule.interval, floor=floor, ceiling=schedule.max_interval)
    )


def next_interval(
    history: Sequence[CheckRecord], *, now: datetime, default: float, floor: float, ceiling: float
) -> float:
    """Seconds until the next check of a source, from its recent checks (any order, failures included).

    ``default``: the interval of a source with no history; ``floor`` and ``ceiling`` bound the result.
    """
    floor = min(floor, ceiling)
    rates = _hourly_rates(history, now, default)
    burst = _burst_rate(history, now)
    remaining = 1.0  # checks still to accumulate
    elapsed = 0.0
    moment = now
    while elapsed < ceiling:
        hour_end = (moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1) - moment).total_seconds()
        rate = rates[moment.hour]
        if elapsed < _BURST_HOLD:
            rate = max(rate, burst)
            hour_end = min(hour_end, _BURST_HOLD - elapsed)
        density = math.sqrt(rate / default)  # checks per second: 1/default at the prior rate
        if density * hour_end >= remaining:
            elapsed += remaining / density
            break
        remaining -= density * hour_end
        elapsed += hour_end
        moment += timedelta(seconds=hour_end)
    return max(floor, min(ceiling, elapsed))


def _hourly_rates(history: Sequence[CheckRecord], now: datetime, default: float) -> list[float]:
    """New links per second for each hour of the day (UTC), smoothed towards one link per ``default``.

    The prior weighs as one configured interval of observation spread over the day: it
    decides a new source's interval and fades within the first hours of history.

    A successful check's new links are spread evenly over the time since the previous
    successful check, and so is its exposure: a link found at 09:05 after a night without
    checks may have been published at any time of that night.
    """
    found = [0.0] * 24
    exposure = [0.0] * 24
    previous: datetime | None = None
    for record in sorted((r for r in history if r.ok and now - r.checked <= WINDOW), key=lambda r: r.checked):
        if previous is not None:
            span = (record.checked - previous).total_seconds()
            if span > 0:
                for hour, seconds in _split_by_hour(previous, record.checked):
                    exposure[hour] += seconds
                    found[hour] += record.new_links * seconds / span
        previous = record.checked
    prior_seconds = default / 24
    return [(found[h] + prior_seconds / default) / (exposure[h] + prior_seconds) for h in range(24)]


def _burst_rate(history: Sequence[CheckRecord], now: datetime) -> float:
    """The rate the last successful check saw, when it found new links in the last half hour; 0 otherwise."""
    successes = sorted((r for r in history if r.ok and r.checked <= now), key=lambda r: r.checked)
    if len(successes) < 2 or successes[-1].new_links == 0 or (now - successes[-1].checked).total_seconds() > _BURST_HOLD:
        return 0.0
    span = min(_BURST_SPAN, (successes[-1].checked - successes[-2].checked).total_seconds())
    return successes[-1].new_links / span if span > 0 else 0.0


def _split_by_hour(start: datetime, end: datetime) -> list[tuple[int, float]]:
    """``(hour of day, seconds)`` for each hour the interval ``[start, end)`` touches."""
    parts: list[tuple[int, float]] = []
    moment = start
    while moment < end:
        boundary = min(end, moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
        parts.append((moment.hour, (boundary - moment).total_seconds()))
        moment = boundary
    return parts
