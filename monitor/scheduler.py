"""The daemon: APScheduler 3 wiring around the pipeline and the outbox.

One job per source (its interval, jitter, ``max_instances=1``, coalescing), one
job that retries queued alerts, and the digest job in digest mode. APScheduler
swallows job exceptions and silently skips late jobs (NOTES.md), so each job
records its own failure and the grace time is as long as the interval.

On SIGINT/SIGTERM no new job starts, the checks in flight get a few seconds to
finish, and the rest are cancelled. Cancelling is safe: every archive write of a
check is one savepoint in the archive writer's thread, all or nothing, and the
writes a cancelled check had queued are still committed when the pipeline closes.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.alerts import deliver_digest, deliver_due
from monitor.config import Settings, SourceSettings
from monitor.fetch import Fetcher
from monitor.pipeline import Pipeline, utcnow
from monitor.rules import Ruleset
from monitor.store import Archive

log = logging.getLogger(__name__)

ALERT_RETRY_SECONDS = 30
STOP_GRACE_SECONDS = 6.0


def trusted_origins(settings: Settings) -> list[str]:
    """The configured source URLs: their origins may be on private addresses.

    The fetcher's address policy reduces each to its origin (``fetch.urls.origin_of``).
    """
    return [source.url for source in settings.sources]


@asynccontextmanager
async def open_pipeline(
    settings: Settings, archive: Archive, ruleset: Ruleset | None = None, *, shared_archive: bool = False
) -> AsyncIterator[Pipeline]:
    """A pipeline and its fetcher; on exit the writes it queued are committed and its connections closed.

    ``ruleset``: the settings' rules compiled already (compiling them takes a quarter of a second).
    ``shared_archive``: other processes write to the archive as busily.
    """
    async with (
        Fetcher(settings.fetch, trusted_origins(settings)) as fetcher,
        Pipeline(settings, archive, fetcher, ruleset=ruleset, shared_archive=shared_archive) as pipeline,
    ):
        yield pipeline


class Daemon:
    def __init__(self, settings: Settings, archive: Archive) -> None:
        self.settings = settings
        self.archive = archive
        self._stop = asyncio.Event()
        self._running: set[asyncio.Task[object]] = set()

    def stop(self) -> None:
        self._stop.set()

    @contextmanager
    def _tracked(self) -> Iterator[None]:
        """Register the running job's task so that a stop can wait for it."""
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        try:
            yield
        finally:
            self._running.discard(task)

    # Jobs are coroutine functions (not lambdas) so APScheduler awaits them on the loop.
    async def _check(self, pipeline: Pipeline, source: SourceSettings) -> None:
        with self._tracked():
            report = await pipeline.check(source)
            if report.alerts and self.settings.email and self.settings.email.mode == "instant":
                await deliver_due(self.archive, self.settings.email, utcnow())

    async def _deliver(self) -> None:
        """Retry what failed: instant alerts, and in digest mode digests that failed."""
        if self.settings.email:
            with self._tracked():
                await deliver_due(self.archive, self.settings.email, utcnow())

    async def _digest(self) -> None:
        assert self.settings.email is not None
        with self._tracked():
            await deliver_digest(self.archive, self.settings.email, utcnow())

    def _on_job_error(self, event: JobExecutionEvent) -> None:
        if isinstance(event.exception, asyncio.CancelledError):
            return  # a check cut short by a stop is not the source's failure
        log.error("job %s failed: %r", event.job_id, event.exception)
        if event.job_id.startswith("source:"):
            name = event.job_id.removeprefix("source:")
            now = utcnow()
            self.archive.record_failure(
                name,
                checked=now,
                next_due=now + timedelta(seconds=self.settings.interval_of(self.settings.source(name))),
                error=f"internal error: {event.exception!r}",
            )

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stop)
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_listener(self._on_job_error, EVENT_JOB_ERROR)
        async with open_pipeline(self.settings, self.archive) as pipeline:
            now = datetime.now(UTC)
            for source in self.settings.sources:
                interval = self.settings.interval_of(source)
                state = self.archive.source_state(source.name)
                first = max(now, state.next_due) if state.next_due else now
                scheduler.add_job(
                    self._check,
                    IntervalTrigger(seconds=interval, jitter=self.settings.schedule.jitter, timezone=UTC),
                    args=[pipeline, source],
                    id=f"source:{source.name}",
                    name=source.name,
                    next_run_time=first,
                    max_instances=1,
                    coalesce=True,
                    misfire_grace_time=interval,
                )
            scheduler.add_job(
                self._deliver,
                IntervalTrigger(seconds=ALERT_RETRY_SECONDS, timezone=UTC),
                id="alerts:retry",
                next_run_time=now,  # alerts left queued by a stop or a crash go out at once
                max_instances=1,
                coalesce=True,
                misfire_grace_time=ALERT_RETRY_SECONDS,
            )
            if self.settings.email and self.settings.email.mode == "digest":
                scheduler.add_job(
                    self._digest,
                    CronTrigger.from_crontab(self.settings.email.digest_cron, timezone=UTC),
                    id="alerts:digest",
                    max_instances=1,
                    coalesce=True,
                    misfire_grace_time=3600,
                )
            scheduler.start()
            log.info("daemon started: %d sources", len(self.settings.sources))
            await self._stop.wait()
            log.info("stopping: waiting for %d checks in flight", len(self._running))
            scheduler.shutdown(wait=False)
            if self._running:
                _, pending = await asyncio.wait(set(self._running), timeout=STOP_GRACE_SECONDS)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        log.info("daemon stopped")
