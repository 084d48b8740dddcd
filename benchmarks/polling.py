"""Adaptive polling against fixed-interval polling with the same number of requests.

Simulated outlets publish on a fake clock at different rhythms, for a warm-up week
(adaptive polling learns; nothing is measured) and then a measured week:

* bursty: a breaking story brings 3 to 8 articles within half an hour, a few times a
  day at random moments, mostly in daytime;
* wire: a steady flow of about three articles an hour in the working day, few at night;
* daily: a morning edition, one to three articles around a fixed hour;
* weekly: one article a week, on a fixed weekday around a fixed hour.

Adaptive polling checks each source when :func:`monitor.polling.next_interval` says,
fed with that source's own check history (new links per check, no publication times). Fixed polling checks every source at one
interval, from a random phase, chosen so that it makes at least as many requests in the
measured week as adaptive polling did (the "same request budget", rounded up to a whole
number of checks per source); today's default of 900 s is shown too. The delay of an
article is the time from its publication to the first check after it. Everything is
deterministic for a seed.

    python benchmarks/polling.py [--seed 1] [--outlets 4]
"""

from __future__ import annotations

import argparse
import bisect
import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitor.models import CheckRecord
from monitor.polling import next_interval

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
WEEK = 7 * 86400.0
DEFAULT, FLOOR, CEILING = 900.0, 120.0, 6 * 3600.0


@dataclass
class Outlet:
    name: str
    published: list[float]  # seconds since START, sorted


def _bursty(rng: random.Random) -> list[float]:
    times: list[float] = []
    for day in range(14):
        for _ in range(rng.randint(2, 5)):
            start = day * 86400 + rng.uniform(6, 23) * 3600
            times += [start + rng.uniform(0, 1800) for _ in range(rng.randint(3, 8))]
    return times


def _wire(rng: random.Random) -> list[float]:
    times: list[float] = []
    moment = 0.0
    while moment < 2 * WEEK:
        hour = (moment / 3600) % 24
        rate = 3.0 if 8 <= hour < 20 else 0.3  # articles per hour
        moment += rng.expovariate(rate / 3600)
        times.append(moment)
    return times


def _daily(rng: random.Random) -> list[float]:
    hour = rng.uniform(5, 9)
    return [day * 86400 + (hour + rng.gauss(0, 0.3)) * 3600 for day in range(14) for _ in range(rng.randint(1, 3))]


def _weekly(rng: random.Random) -> list[float]:
    weekday, hour = rng.randrange(7), rng.uniform(9, 17)
    return [week * WEEK + weekday * 86400 + (hour + rng.gauss(0, 0.5)) * 3600 for week in range(2)]


RHYTHMS: dict[str, Callable[[random.Random], list[float]]] = {
    "bursty": _bursty, "wire": _wire, "daily": _daily, "weekly": _weekly,
}


def outlets(seed: int, per_rhythm: int) -> list[Outlet]:
    rng = random.Random(seed)
    return [
        Outlet(f"{rhythm}-{i}", sorted(t for t in make(rng) if 0 <= t < 2 * WEEK))
        for rhythm, make in RHYTHMS.items()
        for i in range(per_rhythm)
    ]


def _new_since(published: list[float], after: float, upto: float) -> int:
    return bisect.bisect_right(published, upto) - bisect.bisect_right(published, after)


def adaptive_checks(outlet: Outlet, rng: random.Random) -> list[float]:
    """Check times of one outlet over both weeks, each next check from next_interval()."""
    history: list[CheckRecord] = []
    checks: list[float] = []
    moment, previous = rng.uniform(0, DEFAULT), 0.0
    while moment < 2 * WEEK:
        now = START + timedelta(seconds=moment)
        history.append(CheckRecord(checked=now, ok=True, new_links=_new_since(outlet.published, previous, moment)))
        history = [r for r in history if now - r.checked <= timedelta(days=7)]
        checks.append(moment)
        previous = moment
        moment += next_interval(history, now=now, default=DEFAULT, floor=FLOOR, ceiling=CEILING)
    return checks


def fixed_checks(interval: float, rng: random.Random) -> list[float]:
    moment, checks = rng.uniform(0, interval), []
    while moment < 2 * WEEK:
        checks.append(moment)
        moment += interval
    return checks


def delays(outlet: Outlet, checks: list[float]) -> list[float]:
    """Publication to the first check after it, for the articles of the measured week."""
    found = []
    for moment in outlet.published:
        if moment < WEEK:
            continue
        index = bisect.bisect_left(checks, moment)
        if index < len(checks):
            found.append(checks[index] - moment)
    return found


def measured(checks: list[float]) -> int:
    return sum(1 for moment in checks if WEEK <= moment < 2 * WEEK)


def summary(name: str, all_delays: list[float], requests: int) -> str:
    ordered = sorted(all_delays)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"| {name} | {statistics.median(ordered) / 60:.1f} | {p95 / 60:.1f} | {requests} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--outlets", type=int, default=4, help="outlets of each rhythm")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    sources = outlets(args.seed, args.outlets)
    adaptive = {o.name: adaptive_checks(o, rng) for o in sources}
    budget = sum(measured(checks) for checks in adaptive.values())
    # Exactly ceil(budget / sources) checks of each source in the measured week: never fewer than adaptive's.
    same_budget = WEEK / math.ceil(budget / len(sources))
    fixed = {o.name: fixed_checks(same_budget, rng) for o in sources}
    default = {o.name: fixed_checks(DEFAULT, rng) for o in sources}
    articles = sum(len(delays(o, adaptive[o.name])) for o in sources)
    print(f"{len(sources)} outlets, {articles} articles in the measured week (after a week of warm-up)\n")
    print("| polling | median delay (min) | p95 delay (min) | requests in the week |")
    print("| --- | ---: | ---: | ---: |")
    rows = [("adaptive", adaptive), (f"fixed, same budget ({same_budget:.0f} s)", fixed), ("fixed, 900 s", default)]
    for name, plan in rows:
        print(summary(name, [d for o in sources for d in delays(o, plan[o.name])], sum(map(measured, plan.values()))))
    ratio = statistics.median(d for o in sources for d in delays(o, adaptive[o.name])) / statistics.median(
        d for o in sources for d in delays(o, fixed[o.name])
    )
    print(f"\nmedian delay, adaptive / fixed at the same budget: {ratio:.3f} (target: at most 0.333)")
    print("\nby rhythm, median delay in minutes (adaptive / fixed same budget), requests (adaptive / fixed):")
    for rhythm in RHYTHMS:
        group = [o for o in sources if o.name.startswith(rhythm)]
        a = [d for o in group for d in delays(o, adaptive[o.name])]
        f = [d for o in group for d in delays(o, fixed[o.name])]
        print(f"  {rhythm:7} {statistics.median(a) / 60:6.1f} / {statistics.median(f) / 60:6.1f}   "
              f"{sum(measured(adaptive[o.name]) for o in group):5} / {sum(measured(fixed[o.name]) for o in group):5}")


if __name__ == "__main__":
    main()
