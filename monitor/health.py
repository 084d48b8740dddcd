"""Whether the daemon is healthy, decided from what it left in the archive (pure: no I/O).

``monitor status --check`` and the Docker HEALTHCHECK ask it. A daemon is unhealthy
when its scheduler has stopped ticking (no heartbeat for :data:`MISSED_BEATS`
intervals: a hung loop, a dead scheduler, a stuck archive writer), when every
configured source is failing (the network, DNS or a proxy is down for all of them), or
when a way of delivery (e-mail, a channel) has owed an alert for :data:`UNDELIVERED`:
an alerter whose alerts reach no one is not working, however well it checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from monitor.models import Heartbeat
from monitor.store import iso

MISSED_BEATS = 3  # heartbeats missed in a row before the scheduler counts as stopped
# How long a way of delivery may owe an alert: an alert goes within a minute, and a failed delivery is retried
# at least hourly (a backoff of at most an hour by default), so two hours are two failed retries at the longest wait.
UNDELIVERED = timedelta(hours=2)
# Free space below which a silent scheduler is blamed on the disk: a daemon that cannot write its archive cannot beat,
# though it runs on, and says so in its log, until space is freed.
DISK_FULL = 1024 * 1024


def problems(
    heartbeat: Heartbeat | None, sources: Iterable[str], rows: Mapping[str, Mapping[str, Any]], now: datetime,
    owed: Mapping[str, datetime | None], disk: tuple[str, int] | None = None,
) -> list[str]:
    """What is wrong, one line each; empty when healthy.

    ``sources``: the configured source names; ``rows``: the archive's ``sources`` rows by name; ``owed``: since when
    each configured way of delivery ("e-mail", "channel NAME") has owed its oldest alert (None: it owes none);
    ``disk``: the archive's path and the bytes free on its disk, when known.
    """
    found: list[str] = []
    if heartbeat is None:
        found.append("no daemon has run on this archive (no heartbeat)")
    else:
        silent = (now - heartbeat.beat).total_seconds()
        if silent > MISSED_BEATS * heartbeat.every:
            cause = "is monitor run still running?"
            if disk is not None and disk[1] < DISK_FULL:
                # Asked whether the daemon runs, an operator restarts it, which does not help.
                cause = (f"the disk holding {disk[0]} is full ({disk[1]:,} bytes free): free some space: the"
                         " daemon resumes by itself")
            found.append(
                f"the scheduler has not ticked for {silent:.0f} s (last heartbeat {iso(heartbeat.beat)} from pid"
                f" {heartbeat.pid}, expected every {heartbeat.every} s): {cause}"
            )
    names = list(sources)
    failing = [name for name in names if rows.get(name, {}).get("failures", 0) > 0]
    if names and len(failing) == len(names):
        found.append(f"every source is failing ({len(names)}): see last_error in monitor status")
    for way, since in owed.items():
        if since is not None and now - since > UNDELIVERED:
            hours = (now - since).total_seconds() / 3600
            found.append(f"{way} has not delivered an alert owed for {hours:.1f} h (since {iso(since)}): see monitor"
                         " status")
    return found
