"""The archive writer: grouped commits in its thread, each write isolated, durable first."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.errors import ArchiveError, ArchiveLockedError
from monitor.store import Archive
from monitor.store.writer import MAX_GROUP, ArchiveWriter

WHEN = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def failed_url(url: str) -> Callable[[Archive], str]:
    def write(archive: Archive) -> str:
        archive.record_failed_url(url, source="wire", error="503", retry=True, when=WHEN)
        return threading.current_thread().name

    return write


def stored_urls(path: Path) -> list[str]:
    """Read with a connection of our own: only what was committed is seen."""
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT url FROM failed_urls ORDER BY url")]


def around(path: Path, middle: Callable[[Archive], object], last: str) -> list[object]:
    """Three writes queued at once, ``middle`` between two failed URLs' records: what each caller got."""

    async def scenario() -> list[object]:
        writer = ArchiveWriter(path)
        try:
            return await asyncio.gather(
                writer.run(failed_url("https://a.example/1")), writer.run(middle), writer.run(failed_url(last)),
                return_exceptions=True,
            )
        finally:
            await writer.close()

    return asyncio.run(scenario())


def test_a_write_is_committed_by_the_writer_thread_before_its_caller_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    Archive.create(path).close()

    async def scenario() -> str:
        writer = ArchiveWriter(path)
        try:
            thread = await writer.run(failed_url("https://a.example/1"))
            assert stored_urls(path) == ["https://a.example/1"]
            return thread
        finally:
            await writer.close()

    assert asyncio.run(scenario()).startswith("archive-writer")


def test_a_failing_write_is_rolled_back_alone_and_its_caller_gets_the_error(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    Archive.create(path).close()

    def half_then_fail(archive: Archive) -> None:
        archive.record_failed_url("https://a.example/half", source="wire", error="x", retry=True, when=WHEN)
        raise ValueError("bad article")

    first, failed, last = around(path, half_then_fail, "https://a.example/2")
    assert isinstance(failed, ValueError) and str(failed) == "bad article"
    assert not isinstance(first, BaseException) and not isinstance(last, BaseException)
    assert stored_urls(path) == ["https://a.example/1", "https://a.example/2"]


def test_writes_queued_meanwhile_share_transactions_and_keep_their_order(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    Archive.create(path).close()
    order: list[int] = []
    statements: list[str] = []

    def numbered(n: int) -> Callable[[Archive], None]:
        def write(archive: Archive) -> None:
            if n == 0:  # the writer's connection: count its commits from here on
                archive.db.conn.set_trace_callback(statements.append)
            order.append(n)
            archive.record_failed_url(f"https://a.example/{n:04d}", source="wire", error="x", retry=True, when=WHEN)

        return write

    async def scenario() -> None:
        writer = ArchiveWriter(path)
        try:
            await asyncio.gather(*(writer.run(numbered(n)) for n in range(3 * MAX_GROUP)))
        finally:
            await writer.close()

    asyncio.run(scenario())
    assert order == list(range(3 * MAX_GROUP))
    assert len(stored_urls(path)) == 3 * MAX_GROUP
    assert statements.count("COMMIT") == 3  # all queued at once: three full groups


def test_close_commits_what_is_queued_even_when_the_callers_were_cancelled(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    Archive.create(path).close()

    async def scenario() -> None:
        writer = ArchiveWriter(path)
        callers = [asyncio.create_task(writer.run(failed_url(f"https://a.example/{n}"))) for n in range(5)]
        await asyncio.sleep(0)
        for caller in callers:
            caller.cancel()
        await asyncio.gather(*callers, return_exceptions=True)
        await writer.close()

    asyncio.run(scenario())
    assert len(stored_urls(path)) == 5


def test_a_stop_drops_the_droppable_writes_of_cancelled_callers_not_yet_begun(tmp_path: Path) -> None:
    """A hostile feed's backlog of queued articles held SIGTERM for 30 s: the stop waited for every store the checks had
    queued. Queued articles not begun are dropped, in the group under way too (the next check fetches them again);
    other writes, and the one under way, stand."""
    path = tmp_path / "monitor.db"
    Archive.create(path).close()
    begun = threading.Event()
    release = threading.Event()

    def slow(archive: Archive) -> None:
        begun.set()
        release.wait(10)
        failed_url("https://a.example/under-way")(archive)

    async def scenario() -> None:
        writer = ArchiveWriter(path)
        # Queued at once, so one group: the first under way, the others behind it in the same transaction.
        first = asyncio.create_task(writer.run(slow, droppable=True))
        grouped = [asyncio.create_task(writer.run(failed_url(f"https://a.example/grouped-{n}"), droppable=True))
                   for n in range(3)]
        await asyncio.to_thread(begun.wait, 10)
        later = [asyncio.create_task(writer.run(failed_url(f"https://a.example/later-{n}"), droppable=True))
                 for n in range(3)]
        mark = asyncio.create_task(writer.run(failed_url("https://a.example/mark")))
        await asyncio.sleep(0)
        for caller in (first, *grouped, *later, mark):
            caller.cancel()
        release.set()
        await asyncio.gather(first, *grouped, *later, mark, return_exceptions=True)
        await writer.close()

    asyncio.run(scenario())
    assert stored_urls(path) == ["https://a.example/mark", "https://a.example/under-way"]


def test_an_archive_locked_past_the_busy_timeout_fails_each_write_with_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "monitor.db"
    Archive.create(path).close()
    monkeypatch.setattr("monitor.store.connection.BUSY_TIMEOUT_MS", 50)
    blocker = sqlite3.connect(path, timeout=0)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock past the busy timeout

    async def scenario() -> list[object]:
        writer = ArchiveWriter(path)
        try:
            return await asyncio.gather(
                *(writer.run(failed_url(f"https://a.example/{n}")) for n in range(3)),
                return_exceptions=True,
            )
        finally:
            blocker.rollback()
            await writer.close()

    outcomes = asyncio.run(scenario())
    blocker.close()
    assert all(isinstance(outcome, ArchiveLockedError) and "stayed locked by another process" in str(outcome)
               for outcome in outcomes), outcomes
    assert stored_urls(path) == []


def test_a_write_whose_error_ends_the_transaction_fails_its_group_with_that_error(tmp_path: Path) -> None:
    """An error that makes SQLite roll back the whole transaction (an I/O error: no folder for its temporary files;
    an interrupted INSERT) was hidden by the group's COMMIT, "cannot commit - no transaction is active", given to
    every write, and the writes after it ran in a transaction of their own, committed though their callers were told
    they failed. Every write of the group now fails with the cause, and none of them is committed."""
    path = tmp_path / "monitor.db"
    Archive.create(path).close()

    def interrupted(archive: Archive) -> None:
        conn = archive.db.conn
        conn.create_function("cut", 1, lambda value: (conn.interrupt(), value)[1])
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS scratch (value)")
        conn.execute("INSERT INTO scratch SELECT cut(value) FROM json_each('[1, 2, 3]')")

    outcomes = around(path, interrupted, "https://a.example/3")
    assert all(isinstance(outcome, ArchiveError) and "interrupted" in str(outcome) for outcome in outcomes), outcomes
    assert stored_urls(path) == []
