"""Adaptive polling: when to check a source next, learned from when it actually publishes.

A fixed interval makes an article published a minute after a check wait a whole
interval, whatever the outlet's rhythm. Here each source's rhythm is learned from
its own recent checks (how many new links each found, over the last
:data:`WINDOW` days) as a publication rate for each hour of the day, UTC. The
next check comes when enough checks have accumulated since this one, at the
interval each hour's rate calls for.

Which interval for a rate ``λ`` (new links per second), with ``D`` the configured
``schedule.interval``: what is worth lowering is the *median* delay from
publication to detection, which the busiest hours of the busiest sources decide,
while no hour that publishes may be left to wait much longer than fixed polling
would make it. So each article costs its delay (the mean: in proportion to the
interval) plus a fixed penalty if it is not found within a prompt delay
``τ = D / 3``, and each check costs a price. For an hour checked every ``T`` (its
articles wait ``T / 2`` on average, ``1 - τ / T`` of them longer than ``τ``), the
least cost is at ``T² = 2·price / λ - 2·penalty·τ``; with the square-root rule's
price (``T² = D / λ``, the best for the mean delay alone) and a penalty that makes
an hour expecting a new link per ``D`` checked every ``τ``, that is
``T² = D / λ - (D² - τ²)``: the square-root rule pulled down ever harder as the
rate grows, reaching ``τ`` for an hour that expects a new link per ``D``, and
staying there up to nine links per ``D`` (beyond, the square-root rule is shorter). Quiet hours
keep about the square-root rule's interval, so the p95 stays near fixed
polling's. Before any history the rate is believed to be the one that gives
``D``: a new source starts where monitor always started it.

Three things move the next check from what the plain hourly rates would say:

* evidence: an hour whose checks found links fewer than :data:`_EVIDENCE` times
  in the window borrows the counts of the hours around it, the nearest first, until
  it has that many, so one burst does not make an hour look busy, and one quiet week
  for an hour of a source that publishes all day does not make it look silent;
* the hours to come: the interval is the time it takes ``1 / T(λ(t))``, integrated
  from now hour by hour, to reach one check, so a source that sleeps at night is
  checked rarely at night and soon after its morning begins;
* what was just published: new links found within the last ``D`` give a recent
  rate (one link per ``D`` at least), and the next check comes at that rate's
  interval if it is sooner (``τ`` or less), so a source that has just published,
  which news sources tend to do in bursts, is followed closely while it goes on.

The interval is kept between the floor and the ceiling (``schedule.min_interval``,
``schedule.max_interval``), and the floor is never below the politeness delay.
Checks are conditional requests (ETag, Last-Modified, body hash), so a frequent
check of an unchanged source costs one small request. docs/benchmarks.md has the
figures.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

from monitor.config import Settings, SourceSettings
from monitor.models import CheckRecord

__all__ = ["WINDOW", "interval_for", "next_interval"]

WINDOW = timedelta(days=7)  # the history that counts: long enough for a daily rhythm, short enough to follow a change
_EVIDENCE = 4.0  # checks that found links an hour's rate must rest on, borrowed from the hours around it
_PROMPT = 1 / 3  # the prompt delay τ, as a fraction of the configured interval
_HOUR = 3600.0


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
    end = now.timestamp()
    checks = sorted(
        (r.checked.timestamp(), r.new_links) for r in history if r.ok and now - WINDOW <= r.checked <= now
    )
    rates = _hourly_rates(checks, default)
    interval = _ahead(rates, end, default, ceiling)
    # A first check's links are the backlog, not news: only checks after another count.
    recent = sum(links for moment, links in checks[1:] if moment > end - default)
    if recent:
        interval = min(interval, _interval_at(recent / default, default))
    return max(floor, min(ceiling, interval))


def _interval_at(rate: float, default: float) -> float:
    """The interval for a rate of new links per second (see the module docstring)."""
    if rate <= 0:
        return math.inf
    prompt = default * _PROMPT
    squared = default / rate - (default**2 - prompt**2)
    if squared > prompt**2:
        return math.sqrt(squared)
    return min(prompt, math.sqrt(default / rate))


def _ahead(rates: list[float], start: float, default: float, ceiling: float) -> float:
    """Seconds from ``start`` until the hourly rates ahead have called for one check (at most ``ceiling``)."""
    remaining = 1.0  # checks still to accumulate
    elapsed = 0.0
    while elapsed < ceiling:
        moment = start + elapsed
        hour_end = _next_hour(moment) - moment
        density = 1 / _interval_at(rates[_hour_of(moment)], default)  # checks per second
        if density * hour_end >= remaining:
            return elapsed + remaining / density
        remaining -= density * hour_end
        elapsed += hour_end
    return elapsed


def _hourly_rates(checks: list[tuple[float, int]], default: float) -> list[float]:
    """New links per second for each hour of the day (UTC), from ``(time, new links)`` of successful checks in
    time order, each hour's counts pooled with the nearest hours' until they rest on :data:`_EVIDENCE` finds.

    A check's new links are spread evenly over the time since the previous check, and so
    are its exposure and its find: a link found at 09:05 after a night without checks may
    have been published at any time of that night. A prior weighs as one configured
    interval of observation spread over the day, at the rate that gives that interval: it
    decides a new source's interval and fades within the first hours of history.
    """
    found = [0.0] * 24
    exposure = [0.0] * 24
    finds = [0.0] * 24
    for (previous, _), (moment, new_links) in zip(checks, checks[1:], strict=False):
        span = moment - previous
        for hour, seconds in _by_hour(previous, moment):
            exposure[hour] += seconds
            if new_links:
                found[hour] += new_links * seconds / span
                finds[hour] += seconds / span
    prior_seconds = default / 24
    prior_rate = 1 / (default * (2 - _PROMPT**2))  # _interval_at gives ``default`` for it
    rates = []
    for hour in range(24):
        links, seconds, evidence = 0.0, prior_seconds, 0.0
        for ring in _rings(hour):
            if evidence >= _EVIDENCE:
                break
            links += sum(found[other] for other in ring)
            seconds += sum(exposure[other] for other in ring)
            evidence += sum(finds[other] for other in ring)
        rates.append((links + prior_seconds * prior_rate) / seconds)
    return rates


def _rings(hour: int) -> Iterator[tuple[int, ...]]:
    """The 24 hours of the day by distance from ``hour`` around the clock: itself, the two next to it, and so on."""
    yield (hour,)
    for distance in range(1, 12):
        yield (hour - distance) % 24, (hour + distance) % 24
    yield ((hour + 12) % 24,)


def _hour_of(moment: float) -> int:
    return int(moment // _HOUR) % 24


def _next_hour(moment: float) -> float:
    """The start of the hour after the one ``moment`` (epoch seconds) falls in."""
    return (math.floor(moment / _HOUR) + 1) * _HOUR


def _by_hour(start: float, end: float) -> Iterator[tuple[int, float]]:
    """``(hour of day, seconds)`` for each hour the interval ``[start, end)`` (epoch seconds) touches."""
    moment = start
    while moment < end:
        boundary = min(end, _next_hour(moment))
        yield _hour_of(moment), boundary - moment
        moment = boundary
