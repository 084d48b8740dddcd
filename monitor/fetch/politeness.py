"""Per-host manners: at most ``per_host`` requests in flight and ``delay`` between starts.

A slot is taken in this order: the host's semaphore, then the host's start
time, then the caller's own admission (if any), then the global semaphore - so a
request waiting out a host's delay does not hold one of the ``concurrency``
slots other hosts could use, nor one of the caller's. Both semaphores serve their
waiters source by source in turn (:mod:`monitor.fetch.fairness`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from monitor.fetch.fairness import FairSlots

__all__ = ["HostGate"]

_PRUNE_AT = 4096  # hosts remembered before idle ones are forgotten (a daemon runs for months)


@dataclass
class _Host:
    semaphore: FairSlots
    next_start: float = 0.0
    users: int = 0  # requests holding or waiting for a slot


class HostGate:
    """Concurrency limits overall and per host, and a minimum delay between two starts to one host."""

    def __init__(self, concurrency: int, per_host: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._global = FairSlots(concurrency)
        self._per_host = per_host
        self._hosts: dict[str, _Host] = {}
        self._clock = clock

    @asynccontextmanager
    async def slot(
        self, host: str, delay: float, admit: Callable[[], Awaitable[None]] | None = None
    ) -> AsyncIterator[None]:
        """Hold one request slot for ``host``, started at least ``delay`` s after the previous one.

        ``admit`` is awaited once the host's delay is over, before the global slot is taken.
        """
        state = self._hosts.get(host)
        if state is None:
            if len(self._hosts) >= _PRUNE_AT:
                self._forget_idle_hosts()
            state = self._hosts[host] = _Host(FairSlots(self._per_host), next_start=self._clock())
        state.users += 1
        try:
            async with state.semaphore.slot():
                now = self._clock()
                start = max(now, state.next_start)
                state.next_start = start + delay  # claimed before sleeping: no two share a start
                if start > now:
                    await asyncio.sleep(start - now)
                if admit is not None:
                    await admit()
                async with self._global.slot():
                    yield
        finally:
            state.users -= 1

    def _forget_idle_hosts(self) -> None:
        """Drop hosts nobody is using whose delay has passed: they would start afresh anyway."""
        now = self._clock()
        for host, state in list(self._hosts.items()):
            if state.users == 0 and state.next_start <= now:
                del self._hosts[host]
