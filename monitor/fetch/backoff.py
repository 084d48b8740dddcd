"""When to check a failing source again (pure: no clock, no I/O).

A source that fails is never dropped - the daemon keeps trying - but it is asked
less often: the interval doubles with each consecutive failure up to a ceiling,
and a server's ``Retry-After`` (429, 503) is honoured when it asks for longer.
A hostile ``Retry-After`` of a year is capped so that no answer can stop a
source for good.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["MAX_BACKOFF", "MAX_RETRY_AFTER", "next_delay", "parse_retry_after"]

MAX_BACKOFF = 6 * 3600.0  # the slowest a failing source is checked, unless its interval is slower
MAX_RETRY_AFTER = 24 * 3600.0  # the longest wait a server can impose


def next_delay(failures: int, interval: float, retry_after: float | None) -> float:
    """Seconds until the next check after ``failures`` consecutive failures (0 = healthy)."""
    if failures <= 0:
        delay = interval
    else:
        ceiling = max(interval, MAX_BACKOFF)
        delay = min(interval * 2.0 ** min(failures - 1, 30), ceiling)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    Returns None when absent or unparseable, 0.0 for a date already past.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit() also takes "²", which float() refuses
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):  # a year or zone of twenty digits overflows
        return None
    if when.tzinfo is None:  # "-0000" or a date without zone: HTTP dates are GMT
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
