"""Slots shared in turn among the parties that wait for them: one source's flood of requests cannot starve another's.

The fetcher's shared limits (requests in flight overall and to one host, pages held before parsing) were
first-come, first-served: a check queues all its links at once, so a hostile source listing a thousand links on a
thousand hosts, each answering just before ``fetch.timeout``, held every slot through its check, and a healthy
source's article waited behind all of them until its own check's time ran out (every check, in a daemon that
checks the hostile source again as soon as it is done). With :class:`FairSlots` a slot that frees up goes to the
next waiting party in turn, so each source waits for at most one request of each other source's.

The party is the context's :data:`PARTY` (the pipeline sets it to the source a check reads), so that robots.txt
reads and a sitemap's children count as their check's without every call naming it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

__all__ = ["PARTY", "FairSlots"]

# Who a request is made for: the name of the source whose check makes it (None: no check, as in `monitor extract`).
PARTY: ContextVar[str | None] = ContextVar("monitor_fetch_party", default=None)


class FairSlots:
    """``capacity`` slots, handed to waiters one party after another, each party's in the order they came.

    A semaphore whose waiters are queued per party: a freed slot goes to the first waiter of the party that has
    waited longest since it was last served, which then goes to the back of the round.
    """

    def __init__(self, capacity: int) -> None:
        self._free = capacity
        self._waiting: dict[str | None, deque[asyncio.Future[None]]] = {}  # the round's order: first is served next

    def locked(self) -> bool:
        """Whether an acquire would wait."""
        return self._free == 0 or bool(self._waiting)

    async def acquire(self) -> None:
        if not self.locked():
            self._free -= 1
            return
        party = PARTY.get()
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(party, deque()).append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release()  # the slot came with the cancellation: pass it on
            else:
                self._withdraw(party, turn)
            raise

    def release(self) -> None:
        """Give a slot back: to the next party's first waiter, or to the free ones."""
        while self._waiting:
            party = next(iter(self._waiting))
            queue = self._waiting.pop(party)
            turn = queue.popleft()
            if queue:
                self._waiting[party] = queue  # to the back of the round
            if not turn.done():
                turn.set_result(None)
                return
        self._free += 1

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self.acquire()
        try:
            yield
        finally:
            self.release()

    def _withdraw(self, party: str | None, turn: asyncio.Future[None]) -> None:
        queue = self._waiting.get(party)
        if queue is not None and turn in queue:
            queue.remove(turn)
            if not queue:
                del self._waiting[party]
