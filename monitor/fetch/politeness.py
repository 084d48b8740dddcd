"""Per-host manners: at most ``per_host`` requests in flight and ``delay`` between starts.

A slot is taken in this order: the host's semaphore, then the host's start
time, then the global semaphore - so a request waiting out a host's delay does
not hold one of the ``concurrency`` slots other hosts could use.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

__all__ = ["HostGate"]


class HostGate:
    """Concurrency limits overall and per host, and a minimum delay between two starts to one host."""

    def __init__(
        self, concurrency: int, per_host: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._global = asyncio.Semaphore(concurrency)
        self._per_host = per_host
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._next_start: dict[str, float] = {}
        self._clock = clock

    @asynccontextmanager
    async def slot(self, host: str, delay: float) -> AsyncIterator[None]:
        """Hold one request slot for ``host``, started at least ``delay`` s after the previous one."""
        semaphore = self._hosts.setdefault(host, asyncio.Semaphore(self._per_host))
        async with semaphore:
            now = self._clock()
            start = max(now, self._next_start.get(host, now))
            self._next_start[host] = start + delay  # claimed before sleeping: no two share a start
            if start > now:
                await asyncio.sleep(start - now)
            async with self._global:
                yield
