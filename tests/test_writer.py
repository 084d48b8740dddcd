"""The archive writer: grouped commits (in a thread, or on the loop when shared), each write isolated, durable first."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.store import Archive
from monitor.store.writer import LINGER, MAX_GROUP, QUIET, ArchiveWriter

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


@pytest.mark.parametrize("shared", [False, True], ids=["thread", "shared"])
def test_a_failing_write_is_rolled_back_alone_and_its_caller_gets_the_error(tmp_path: Path, shared: bool) -> None:
    path = tmp_path / "monitor.db"
    Archive.create(path).close()

    def half_then_fail(archive: Archive) -> None:
        archive.record_failed_url("https://a.example/half", source="wire", error="x", retry=True, when=WHEN)
        raise ValueError("bad article")

    async def scenario() -> list[object]:
        writer = ArchiveWriter(path, shared=shared)
        try:
            return await asyncio.gather(  # type: ignore[return-value]
                writer.run(failed_url("https://a.example/1")),
                writer.run(half_then_fail),
                writer.run(failed_url("https://a.example/2")),
                return_exceptions=True,
            )
        finally:
            await writer.close()

    first, failed, last = asyncio.run(scenario())
    assert isinstance(failed, ValueError) and str(failed) == "bad article"
    assert not isinstance(first, BaseException) and not isinstance(last, BaseException)
    assert stored_urls(path) == ["https://a.example/1", "https://a.example/2"]


@pytest.mark.parametrize("shared", [False, True], ids=["thread", "shared"])
def test_writes_queued_meanwhile_share_transactions_and_keep_their_order(tmp_path: Path, shared: bool) -> None:
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
        writer = ArchiveWriter(path, shared=shared)
        try:
            await asyncio.gather(*(writer.run(numbered(n)) for n in range(3 * MAX_GROUP)))
        finally:
            await writer.close()

    asyncio.run(scenario())
    assert order == list(range(3 * MAX_GROUP))
    assert len(stored_urls(path)) == 3 * MAX_GROUP
    assert statements.count("COMMIT") == 3  # all queued at once: three full groups


@pytest.mark.parametrize("shared", [False, True], ids=["thread", "shared"])
def test_close_commits_what_is_queued_even_when_the_callers_were_cancelled(tmp_path: Path, shared: bool) -> None:
    path = tmp_path / "monitor.db"
    Archive.create(path).close()

    async def scenario() -> None:
        writer = ArchiveWriter(path, shared=shared)
        callers = [asyncio.create_task(writer.run(failed_url(f"https://a.example/{n}"))) for n in range(5)]
        await asyncio.sleep(0)
        for caller in callers:
            caller.cancel()
        await asyncio.gather(*callers, return_exceptions=True)
        await writer.close()

    asyncio.run(scenario())
    assert len(stored_urls(path)) == 5


@pytest.mark.parametrize("shared", [False, True], ids=["thread", "shared"])
def test_an_archive_locked_past_the_busy_timeout_fails_each_write_with_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared: bool
) -> None:
    path = tmp_path / "monitor.db"
    Archive.create(path).close()
    monkeypatch.setattr("monitor.store.BUSY_TIMEOUT_MS", 50)
    blocker = sqlite3.connect(path, timeout=0)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock past the busy timeout

    async def scenario() -> list[object]:
        writer = ArchiveWriter(path, shared=shared)
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
    assert all(isinstance(outcome, sqlite3.OperationalError) for outcome in outcomes), outcomes
    assert stored_urls(path) == []


def test_a_shared_writer_commits_on_the_loop_and_waits_for_the_lock_without_blocking_it(tmp_path: Path) -> None:
    """Another process holds the write lock: the loop goes on, and the write lands once the lock is free."""
    path = tmp_path / "monitor.db"
    Archive.create(path).close()
    blocker = sqlite3.connect(path, timeout=0)
    blocker.execute("BEGIN IMMEDIATE")
    blocker.execute(
        "INSERT INTO failed_urls (url, source, error, retry, attempts, first_failed, last_failed)"
        " VALUES ('https://b.example/', 'b', 'x', 1, 1, '2026-11-28', '2026-11-28')"
    )

    async def scenario() -> tuple[str, int, list[str]]:
        writer = ArchiveWriter(path, shared=True)
        ticks = 0
        try:
            write = asyncio.create_task(writer.run(failed_url("https://a.example/1")))
            while ticks < 50:  # half a second of the loop's turns while the lock is held
                await asyncio.sleep(0.01)
                ticks += 1
            assert not write.done()
            blocker.commit()  # the other process is done
            thread = await write
            return thread, ticks, stored_urls(path)
        finally:
            await writer.close()

    thread, ticks, urls = asyncio.run(scenario())
    blocker.close()
    assert thread == threading.main_thread().name  # run on the loop, not in a thread
    assert ticks == 50
    assert urls == ["https://a.example/1", "https://b.example/"]


def test_a_shared_writer_lets_a_group_fill_while_writes_come_but_commits_a_full_one_or_the_last_at_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "monitor.db"
    Archive.create(path).close()
    statements: list[str] = []

    def traced(archive: Archive) -> None:
        archive.db.conn.set_trace_callback(statements.append)

    async def trickle() -> None:
        writer = ArchiveWriter(path, shared=True)
        try:
            await writer.run(traced)
            statements.clear()
            writes = []
            for n in range(5):  # arriving one by one, each soon after the last
                writes.append(asyncio.create_task(writer.run(failed_url(f"https://a.example/{n}"))))
                await asyncio.sleep(QUIET / 4)
            await asyncio.gather(*writes)
        finally:
            await writer.close()

    asyncio.run(trickle())
    assert statements.count("COMMIT") == 1
    assert len(stored_urls(path)) == 5

    async def burst() -> float:
        writer = ArchiveWriter(path, shared=True)
        try:
            started = asyncio.get_running_loop().time()
            await asyncio.gather(*(writer.run(failed_url(f"https://c.example/{n}")) for n in range(MAX_GROUP)))
            return asyncio.get_running_loop().time() - started
        finally:
            await writer.close()

    assert asyncio.run(burst()) < LINGER  # a full group does not linger
    assert len(stored_urls(path)) == 5 + MAX_GROUP

    async def lone() -> float:
        writer = ArchiveWriter(path, shared=True)
        try:
            started = asyncio.get_running_loop().time()
            await writer.run(failed_url("https://d.example/"))
            return asyncio.get_running_loop().time() - started
        finally:
            await writer.close()

    assert asyncio.run(lone()) < LINGER  # no write follows: committed once the writes stop
    assert len(stored_urls(path)) == 6 + MAX_GROUP
