"""One check of many sources split over several processes: ``monitor once --processes N``.

A check's work (HTTP, parsing, extraction, fingerprints) is Python holding the GIL, so
one process uses one core however many requests are in flight. A first crawl of many
sources is the one time that matters, so ``monitor once`` can split the sources over
processes, each a whole :class:`~monitor.pipeline.Pipeline` with its own fetcher and
archive writer, which writes on its event loop rather than in a thread when there are
several (see :mod:`monitor.store.writer`). The daemon stays one process: its cycles are
mostly 304s.

What still holds across processes:

* every archive write is one ``BEGIN IMMEDIATE`` transaction, so the writers take turns
  and an article's duplicate checks and its insert see one state of the archive: the same
  story found by two processes is still one story, a passage still alerts once;
* the sources of one host go to one process, so its ``per_host`` and ``delay`` hold as
  configured; an article link to a host that sources of two processes both link to
  (a wire service, say) may get a request in flight from each;
* ``concurrency`` is shared out: each process gets its part of the requests in flight.

Processes are forked where the platform can (started in milliseconds, sharing the
parent's loaded modules), and spawned elsewhere; either way before the parent opens any
database connection or starts a thread.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.sharedctypes import Synchronized
from typing import TYPE_CHECKING, Self

from monitor.config import Settings, SourceSettings
from monitor.errors import MonitorError
from monitor.fetch.urls import site_of
from monitor.pipeline import CheckReport
from monitor.rules import Ruleset, rules_of
from monitor.scheduler import open_pipeline
from monitor.store import Archive

if TYPE_CHECKING:
    from multiprocessing.context import ForkContext, SpawnContext

log = logging.getLogger(__name__)

OnProgress = Callable[[int], None]  # told how many sources are done so far, in all processes
Worker = tuple[BaseProcess, Connection]
PROGRESS_EVERY = 0.25  # seconds between two readings of the other processes' count


class WorkerError(MonitorError):
    """A worker process died before it reported: its committed articles stand, the rest come next time."""


def split_by_host(sources: list[SourceSettings], parts: int) -> list[list[SourceSettings]]:
    """At most ``parts`` non-empty groups of sources, a host's sources all in one, sizes balanced.

    Hosts with the most sources are placed first, each on the group with the fewest so far.
    """
    by_host: dict[str, list[SourceSettings]] = defaultdict(list)
    for source in sources:
        by_host[site_of(source.url)].append(source)
    groups: list[list[SourceSettings]] = [[] for _ in range(max(1, parts))]
    for host_sources in sorted(by_host.values(), key=len, reverse=True):
        min(groups, key=len).extend(host_sources)
    return [group for group in groups if group]


def share_of(settings: Settings, parts: int) -> Settings:
    """Settings for one of ``parts`` processes (at most ``concurrency``): its share of the requests in flight."""
    fetch = settings.fetch.model_copy(update={"concurrency": max(1, settings.fetch.concurrency // parts)})
    return settings.model_copy(update={"fetch": fetch})


@dataclass(frozen=True)
class Share:
    """One process's part of a check: its sources, with the settings and rules they are checked by."""

    settings: Settings
    sources: list[SourceSettings]
    force: bool = False
    ruleset: Ruleset | None = None  # compiled once before forking; None: compile here
    shared_archive: bool = False  # other processes write to the archive too


async def check_sources(share: Share, on_checked: Callable[[], None] | None = None) -> list[CheckReport]:
    """Check a share's sources once in this process; the archive's writes are committed on return."""
    with Archive.open(share.settings.database) as archive:
        async with open_pipeline(share.settings, archive, share.ruleset, shared_archive=share.shared_archive) as pipeline:
            return await pipeline.check_all(share.sources, force=share.force, on_checked=on_checked)


class ProcessCrawl:
    """One check of ``sources`` split over up to ``processes`` processes, this one included.

    The workers start (forked) on entry: enter before this process opens the archive or
    starts a thread (a progress bar's refresh thread, say). The archive must exist already,
    opened once so that its schema is current.
    """

    def __init__(self, settings: Settings, sources: list[SourceSettings], processes: int, *, force: bool = False) -> None:
        self._sources = sources
        # No more processes than requests in flight: each needs one, and "in all" must hold.
        # No sources at all: this process checks none, and reports none.
        groups = split_by_host(sources, min(processes, settings.fetch.concurrency)) or [[]]
        self._context = _context()
        # Compiling the rules takes a quarter of a second: once here, and forked workers inherit
        # them. Spawned ones compile their own (a compiled rule holds functions, which do not pickle).
        ruleset = rules_of(settings)
        shared = share_of(settings, len(groups))
        inherited = self._context.get_start_method() == "fork"
        self._shares = [
            Share(shared, group, force, ruleset if index == 0 or inherited else None, shared_archive=len(groups) > 1)
            for index, group in enumerate(groups)
        ]
        self._done: Synchronized[int] = self._context.Value("i", 0)
        self._workers: list[Worker] = []

    @property
    def processes(self) -> int:
        """How many processes check: no more than there are hosts, nor than ``concurrency`` allows."""
        return len(self._shares)

    @property
    def worker_pids(self) -> list[int]:
        """The started workers' process ids (this process's not included)."""
        return [process.pid for process, _ in self._workers if process.pid is not None]

    def __enter__(self) -> Self:
        for share in self._shares[1:]:
            receiver, sender = self._context.Pipe(duplex=False)
            process = self._context.Process(target=_work, args=(share, sender, self._done), daemon=True)
            process.start()
            sender.close()
            self._workers.append((process, receiver))
        log.debug("checking %d sources in %d processes: workers %s", len(self._sources), self.processes,
                  self.worker_pids)
        return self

    def __exit__(self, *exc: object) -> None:
        for process, receiver in self._workers:
            receiver.close()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()

    def run(self, progress: OnProgress | None = None) -> list[CheckReport]:
        """This process's share, then the workers' reports: one per source, in the order given.

        Raises :class:`WorkerError` once every process is done if a worker died.
        """
        reports = asyncio.run(_check_and_collect(self._shares[0], self._done, self._workers, progress))
        by_name = {report.source: report for report in reports}
        return [by_name[source.name] for source in self._sources]


async def _check_and_collect(
    share: Share, done: Synchronized[int], workers: list[Worker], progress: OnProgress | None
) -> list[CheckReport]:
    loop = asyncio.get_running_loop()
    everyone = asyncio.gather(
        check_sources(share, on_checked=lambda: _add_one(done)),
        *(loop.run_in_executor(None, _receive, worker, receiver) for worker, receiver in workers),
        return_exceptions=True,
    )
    while progress and not everyone.done():
        progress(done.value)
        await asyncio.wait([everyone], timeout=PROGRESS_EVERY)
    results = await everyone
    if progress:
        progress(done.value)
    failed = [result for result in results if isinstance(result, BaseException)]
    if failed:
        raise failed[0]
    return [report for result in results if not isinstance(result, BaseException) for report in result]


def _add_one(done: Synchronized[int]) -> None:
    with done.get_lock():
        done.value += 1


def _receive(worker: BaseProcess, receiver: Connection) -> list[CheckReport]:
    try:
        reports: list[CheckReport] | WorkerError = receiver.recv()
    except EOFError:
        worker.join()
        raise WorkerError(f"a worker process died (exit code {worker.exitcode}): run again to finish") from None
    if isinstance(reports, WorkerError):
        raise reports
    return reports


def _work(share: Share, sender: Connection, done: Synchronized[int]) -> None:
    """Check a share and send its reports; an error of monitor's own goes to the parent, which prints it once."""
    try:
        try:
            sender.send(asyncio.run(check_sources(share, on_checked=lambda: _add_one(done))))
        except MonitorError as exc:  # sent as its message: the errors' own arguments do not all pickle
            sender.send(WorkerError(str(exc)))
    finally:
        sender.close()


def _context() -> ForkContext | SpawnContext:
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")
