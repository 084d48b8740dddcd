"""Source health and drift: is a source still yielding what it used to? (pure: no I/O)

A source can break without failing: a redesign breaks a listing's selector (the
page still answers 200, with no links), a feed moves, extraction starts returning
a consent wall. :func:`judge` reads the source's recent checks and names what is
wrong, in the order that matters most:

* failing for a day: no successful check in :data:`FAILING_FOR`;
* no more links: its last :data:`MIN_CHECKS` changed checks in the last day listed
  none, while it listed some in the days before; over once that many in a row list
  some again (one listing among empty ones would announce a recovery, and the next
  three empty ones the problem again: a source flapping so sent a notice an hour);
* no links at all: its first :data:`MIN_CHECKS` changed checks, and every one since, listed none
  (a mistyped URL, or a listing's ``links`` selector that matches nothing on the page);
* far less text: the mean text of its extractions in the last day is under
  :data:`TEXT_DROP` of the mean before (at least :data:`MIN_CHECKS` extractions now
  and :data:`MIN_BASELINE` before).

:func:`notice_for` turns a change of verdict into one notice: when a problem begins
and when it is over, not at every check in between.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from monitor.models import CheckRecord, SourceNotice

__all__ = ["FAILING_FOR", "MIN_BASELINE", "MIN_CHECKS", "RECENT", "TEXT_DROP", "judge", "notice_for"]

RECENT = timedelta(days=1)  # "now", against the rest of the history (7 days) as "before"
FAILING_FOR = timedelta(days=1)
MIN_CHECKS = 3  # recent changed checks, or extractions, before a fall is believed
MIN_BASELINE = 5  # extractions before, for a mean to compare with
TEXT_DROP = 1 / 3
_NO_LINKS = "no more links"


def judge(history: Sequence[CheckRecord], now: datetime, previous: str | None = None) -> str | None:
    """What is wrong with a source, in one line, or None when it is healthy; ``previous`` is the verdict before."""
    checks = sorted(history, key=lambda r: r.checked)
    lacking = previous is not None and _kind(previous) == _NO_LINKS
    return _failing(checks, now) or _no_links(checks, now, lacking) or _never_listed(checks) or _less_text(checks, now)


def notice_for(source: str, previous: str | None, current: str | None, now: datetime) -> SourceNotice | None:
    """The notice a change of verdict calls for: a problem begins (or is another one), or is over."""
    if current == previous or (previous is not None and current is not None and _kind(current) == _kind(previous)):
        return None
    return SourceNotice(source=source, problem=current, previous=previous, when=now)


def _kind(problem: str) -> str:
    """A problem's kind, its words before the colon: the figures after it change from check to check."""
    return problem.split(":", 1)[0]


def _failing(checks: list[CheckRecord], now: datetime) -> str | None:
    successes = [r for r in checks if r.ok]
    since = successes[-1].checked if successes else None
    failures = [r for r in checks if not r.ok and (since is None or r.checked > since)]
    if not failures or now - failures[0].checked < FAILING_FOR:
        return None
    hours = (now - failures[0].checked).total_seconds() / 3600
    return f"failing for a day: every check for {hours:.0f} h has failed ({len(failures)} checks)"


def _no_links(checks: list[CheckRecord], now: datetime, lacking: bool) -> str | None:
    """``lacking``: the source was found listing no more links; it is over once its recent checks all list some."""
    changed = [r for r in checks if r.ok and r.changed]
    recent = [r for r in changed if now - r.checked <= RECENT][-MIN_CHECKS:]
    before = [r for r in changed if now - r.checked > RECENT]
    empty = sum(not r.links for r in recent)
    if len(recent) < MIN_CHECKS or not (empty if lacking else empty == len(recent)) or not any(r.links for r in before):
        return None
    usual = sum(r.links for r in before) / len(before)
    return (f"{_NO_LINKS}: {empty} of its last {len(recent)} changed checks listed none"
            f" (about {usual:.0f} per check before)")


def _never_listed(checks: list[CheckRecord]) -> str | None:
    changed = [r for r in checks if r.ok and r.changed]
    if len(changed) < MIN_CHECKS or any(r.links for r in changed):
        return None
    return (f"no links at all: none of its {len(changed)} checks listed one (is the URL right, and for a page,"
            " does its links selector match the page?)")


def _less_text(checks: list[CheckRecord], now: datetime) -> str | None:
    recent = [r for r in checks if r.extracted and now - r.checked <= RECENT]
    before = [r for r in checks if r.extracted and now - r.checked > RECENT]
    extracted_now, extracted_before = sum(r.extracted for r in recent), sum(r.extracted for r in before)
    if extracted_now < MIN_CHECKS or extracted_before < MIN_BASELINE:
        return None
    mean_now = sum(r.text_chars for r in recent) / extracted_now
    mean_before = sum(r.text_chars for r in before) / extracted_before
    if mean_now >= TEXT_DROP * mean_before:
        return None
    return f"far less text: extraction gave {mean_now:.0f} characters an article in the last day, {mean_before:.0f} before"
