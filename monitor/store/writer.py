"""The pipeline's writes to the archive, committed in groups, in one of two ways.

**In a thread** (the default: one process writes). SQLite does its work with the GIL
released, so a thread that owns a second connection commits articles (WAL writes, index
updates, the occasional checkpoint) on another core while the event loop goes on fetching
and extracting. Writes queued while one group commits go into the next group's
transaction, which spreads the cost of a commit over every article that arrived
meanwhile: the busier the pipeline, the larger the groups.

**On the event loop** (``shared``: other processes write to the archive as busily, as those
of ``monitor once --processes`` do). The write lock is then shared, and a writer thread
holds it far longer than its work takes: every statement gives up the GIL, and taking it
back from a busy event loop can wait a switch interval (5 ms). Measured with two
processes: a writer thread held the lock for twice its work, the lock was held 85% of
the cycle, and each process ended with 1.2-1.5 s of writing left after its last fetch.
On the loop, a group holds the lock only for its work. The lock is taken without
waiting (the connection's busy timeout is 0): while another process holds it, the loop
goes on and tries again a moment later, for up to the archive's busy timeout. A group
waits to fill while writes keep coming, up to :data:`LINGER`, since each commit writes every
page it touched and the LSH band index's pages are all over the file; when they stop
(the last articles of a check), it is committed at once.

Each write runs in a savepoint of its group's transaction, so a write that fails is
rolled back alone and its caller gets the error. A caller's ``await`` returns only
once its group is committed: whatever it does next (record a check's success, deliver
an alert the write queued) follows rows that are on disk. A crash loses at most the
group being written, which is all or nothing like any transaction: its articles were
not stored, so the next check fetches them again.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from monitor import store
from monitor.store import Archive

T = TypeVar("T")
Write = Callable[[Archive], Any]

# Writes per transaction at most: a larger group holds the write lock longer, and every
# caller in it waits for the whole group.
MAX_GROUP = 64
LINGER = 0.1  # seconds a shared writer's group may wait to fill, at most
QUIET = 0.02  # ... while writes keep coming: no new one for this long, and it is committed
LOCK_RETRY = 0.002  # seconds between a shared writer's tries for the write lock


@dataclass(frozen=True)
class _Outcome:
    value: Any = None
    error: Exception | None = None


class ArchiveWriter:
    """Runs writes against the archive at ``path`` in committed groups, in order.

    ``shared``: other processes write to it as busily; write on the event loop (see above).
    """

    def __init__(self, path: str | Path, *, shared: bool = False) -> None:
        self._path = Path(path)
        self._thread = None if shared else ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive-writer")
        self._archive: Archive | None = None  # opened where it is used: in the thread, or on the loop
        self._queue: list[tuple[Write, asyncio.Future[Any]]] = []
        self._committer: asyncio.Task[None] | None = None
        self._closing = False

    async def run(self, write: Callable[[Archive], T]) -> T:
        """Queue ``write(archive)`` for the next group; return its result once the group is committed."""
        loop = asyncio.get_running_loop()
        committed: asyncio.Future[T] = loop.create_future()
        self._queue.append((write, committed))
        if self._committer is None or self._committer.done():
            self._committer = loop.create_task(self._commit_queued())
        return await committed

    async def close(self) -> None:
        """Commit what is queued, then close the connection (and end the thread, if there is one)."""
        self._closing = True
        if self._committer is not None:
            await asyncio.shield(self._committer)
        if self._thread is None:
            self._close_archive()
            return
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close_archive)
        self._thread.shutdown()

    async def _commit_queued(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            if self._thread is None:
                await self._let_group_fill()
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
            writes = [write for write, _ in group]
            try:
                if self._thread is None:
                    outcomes = await self._commit_on_loop(writes)
                else:
                    outcomes = await loop.run_in_executor(self._thread, self._commit, writes)
            except Exception as exc:  # noqa: BLE001 - the commit failed: every write of the group did
                outcomes = [_Outcome(error=exc)] * len(group)
            for (_, committed), outcome in zip(group, outcomes, strict=True):
                if committed.done():
                    continue  # its caller was cancelled; the write stands
                if outcome.error is not None:
                    committed.set_exception(outcome.error)
                else:
                    committed.set_result(outcome.value)

    async def _let_group_fill(self) -> None:
        """Wait while writes keep coming, until the group is full or LINGER has passed."""
        loop = asyncio.get_running_loop()
        until = loop.time() + LINGER
        while len(self._queue) < MAX_GROUP and not self._closing and loop.time() < until:
            queued = len(self._queue)
            await asyncio.sleep(QUIET)
            if len(self._queue) == queued:
                return

    async def _commit_on_loop(self, writes: list[Write]) -> list[_Outcome]:
        """Commit on the loop, trying for the write lock without blocking it, up to the busy timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + store.BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                return self._commit(writes)  # a busy lock fails its BEGIN, or rolls the group back
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or loop.time() >= deadline:
                    raise
            await asyncio.sleep(LOCK_RETRY)

    def _commit(self, writes: list[Write]) -> list[_Outcome]:
        """One transaction, a savepoint per write."""
        if self._archive is None:
            self._archive = Archive.open(self._path, busy_timeout_ms=0 if self._thread is None else None)
        archive = self._archive
        outcomes: list[_Outcome] = []
        with archive.transaction():
            for write in writes:
                try:
                    with archive.transaction():
                        outcomes.append(_Outcome(write(archive)))
                except Exception as exc:  # noqa: BLE001 - handed to the write's caller
                    outcomes.append(_Outcome(error=exc))
        return outcomes

    def _close_archive(self) -> None:
        if self._archive is not None:
            self._archive.close()
            self._archive = None
