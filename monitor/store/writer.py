"""A process's one connection to the archive, in a thread of its own; reads and writes committed in groups.

Everything a running monitor (``run``, ``once``, ``demo``) asks of the archive goes
through here, in the order asked: the pipeline's lookups and articles, the sources'
states, the deliveries' claims and marks. One connection, one write path: no two
connections of one process contend for the write lock, and nothing blocks the event loop.

SQLite does its work with the GIL released, so the thread commits articles (WAL writes,
index updates, the occasional checkpoint) on another core while the event loop goes on
fetching. Calls queued while one group commits go into the next group's transaction, which
spreads the cost of a commit over every article that arrived meanwhile: the busier the
pipeline, the larger the groups.

Each write runs in a savepoint of its group's transaction, so a write that fails is
rolled back alone and its caller gets the error. A caller's ``await`` returns only
once its group is committed: whatever it does next (record a check's success, deliver
an alert the write queued) follows rows that are on disk. A crash loses at most the
group being written, which is all or nothing like any transaction: its articles were
not stored, so the next check fetches them again.

A write whose caller is cancelled still stands (a delivery's mark must land once its message
went), unless it was queued as droppable and has not begun: an article's store, which the next
check fetches again. A stop then waits for the write under way, not for every article the checks
had queued (a hostile feed's backlog held SIGTERM for 30 s).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from monitor.store import Archive, archive_error

T = TypeVar("T")
Write = Callable[[Archive], Any]

# Writes per transaction at most: a larger group holds the write lock longer, and every
# caller in it waits for the whole group.
MAX_GROUP = 64


def _never() -> bool:
    return False


@dataclass(frozen=True)
class _Outcome:
    value: Any = None
    error: Exception | None = None


class ArchiveWriter:
    """Runs calls against the archive at ``path`` in committed groups, in order; an async context manager.

    The archive must exist at the current schema (:meth:`Archive.create` makes it so).
    """

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive-writer")
        self._archive: Archive | None = None  # opened in the thread, where it is used
        self._queue: list[tuple[Write, asyncio.Future[Any], bool]] = []  # each write, its caller's future, droppable
        self._committer: asyncio.Task[None] | None = None

    async def run(self, write: Callable[[Archive], T], *, droppable: bool = False) -> T:
        """Queue ``write(archive)`` for the next group; return its result once the group is committed. A
        ``droppable`` write is skipped if its caller is cancelled before it begins."""
        loop = asyncio.get_running_loop()
        committed: asyncio.Future[T] = loop.create_future()
        self._queue.append((write, committed, droppable))
        if self._committer is None or self._committer.done():
            self._committer = loop.create_task(self._commit_queued())
        return await committed

    async def __aenter__(self) -> ArchiveWriter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Commit what is queued, then close the connection and end the thread."""
        if self._committer is not None:
            await asyncio.shield(self._committer)
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close_archive)
        self._thread.shutdown()

    async def _commit_queued(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
            # A droppable write is skipped in the thread if its caller was cancelled by then (reading a future's
            # state from another thread is one attribute read under the GIL; nothing of it is changed there).
            writes = [(write, committed.cancelled if droppable else _never) for write, committed, droppable in group]
            try:
                outcomes = await loop.run_in_executor(self._thread, self._commit, writes)
            except Exception as exc:  # noqa: BLE001 - the commit failed: every write of the group did
                outcomes = [_Outcome(error=self._operators_error(exc))] * len(group)
            for (_, committed, _), outcome in zip(group, outcomes, strict=True):
                if committed.done():
                    continue  # its caller was cancelled: the write stands, unless it was dropped
                if outcome.error is not None:
                    committed.set_exception(outcome.error)
                else:
                    committed.set_result(outcome.value)

    def _commit(self, writes: list[tuple[Write, Callable[[], bool]]]) -> list[_Outcome]:
        """One transaction, a savepoint per write; a write whose ``dropped()`` says so is skipped."""
        if self._archive is None:
            self._archive = Archive.open(self._path)
        archive = self._archive
        outcomes: list[_Outcome] = []
        with archive.transaction():
            for write, dropped in writes:
                if dropped():
                    outcomes.append(_Outcome())  # its caller is gone: nobody reads this
                    continue
                try:
                    with archive.transaction():
                        outcomes.append(_Outcome(write(archive)))
                except Exception as exc:  # noqa: BLE001 - handed to the write's caller
                    error = self._operators_error(exc)
                    if not archive.db.conn.in_transaction:
                        # SQLite ended the whole transaction (an I/O error, an interrupt): the group's writes before
                        # are undone too, and the outer COMMIT's "no transaction is active" would hide the cause.
                        raise error from exc
                    outcomes.append(_Outcome(error=error))
        return outcomes

    def _operators_error(self, exc: Exception) -> Exception:
        """An SQLite error as the one line an operator can act on (read-only file, full disk...); others as they are."""
        return archive_error(exc, self._path) if isinstance(exc, sqlite3.Error) else exc

    def _close_archive(self) -> None:
        if self._archive is not None:
            self._archive.close()
            self._archive = None
