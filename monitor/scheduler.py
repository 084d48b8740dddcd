"""The daemon: APScheduler 3 wiring around the pipeline and the outbox.

One job per source (its interval, jitter, ``max_instances=1``, coalescing), one
job that delivers alerts (woken by a check that queued some, and every 30 s for
the retries: a check never waits on a mail server), the digest job in digest mode, and a heartbeat
that ``monitor status --check`` reads. APScheduler swallows job exceptions and
silently skips late jobs, so each job records its own failure and the
grace time is as long as the interval. On the first start the sources' first
checks are spread over the jitter, so that they do not all fire at once.

On SIGINT/SIGTERM/SIGHUP the scheduler is paused (no new job starts), the jobs in flight
get :data:`STOP_GRACE_SECONDS` to finish, the rest are cancelled, and only then is
the scheduler shut down: APScheduler 3's asyncio executor cancels what still runs
in ``shutdown()``, and a job that ends in a cancellation is logged as an error with
its traceback. A job cut short by the stop ends quietly instead. Cancelling is
safe: every archive write of a check is one savepoint in the archive writer's
thread, all or nothing, and the writes a cancelled check had queued are still
committed when the pipeline closes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial

from apscheduler.events import (EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES, JobExecutionEvent,
                                JobSubmissionEvent)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.alerts.delivery import deliver_all, start_delivering
from monitor.config import Settings, SourceSettings, crontab_trigger
from monitor.errors import ArchiveError, ArchiveMovedError
from monitor.fetch.client import Fetcher
from monitor.pipeline import Pipeline, utcnow
from monitor.store import Archive
from monitor.store.writer import ArchiveWriter
from monitor.workers import RESTART_AFTER, Workers, WorkersError

log = logging.getLogger(__name__)

ALERT_RETRY_SECONDS = 30
DELIVERY_JOB = "alerts:retry"
DIGEST_JOB = "alerts:digest"
HEARTBEAT_JOB = "heartbeat"
CLOCK_WATCH_SECONDS = 5.0  # how often the system clock is compared with the monotonic one
CLOCK_STEP_SECONDS = 60.0  # a step of the system clock at least this large moves the schedule
STOP_GRACE_SECONDS = 6.0


def _job_title(job_id: str) -> str:
    """What a job does, as the log calls it: "check of Reuters", "alert delivery"."""
    if job_id.startswith("source:"):
        return f"check of {job_id.removeprefix('source:')}"
    return {DELIVERY_JOB: "alert delivery", DIGEST_JOB: "digest", HEARTBEAT_JOB: "heartbeat"}.get(job_id, job_id)


def trusted_origins(settings: Settings) -> list[str]:
    """The configured source URLs: their origins may be on private addresses.

    The fetcher's address policy reduces each to its origin (``fetch.urls.origin_of``).
    """
    return [source.url for source in settings.sources]


@asynccontextmanager
async def open_pipeline(settings: Settings, writer: ArchiveWriter, workers: Workers) -> AsyncIterator[Pipeline]:
    """A pipeline over ``writer`` and ``workers``, with its fetcher; on exit its connections are closed (their owners
    close the writer and stop the workers, which may start before the archive is opened)."""
    async with (
        Fetcher(settings.fetch, trusted_origins(settings)) as fetcher,
        Pipeline(settings, writer, fetcher, workers) as pipeline,
    ):
        yield pipeline


class ClockWatch:
    """How far the system clock was stepped between two readings, told apart from time passing by the monotonic clock.

    APScheduler keeps its next run times in system time and sleeps on the monotonic clock until the first: the clock
    set back by hours (an NTP correction, a VM resumed from a snapshot) left every job due hours ahead, and the daemon
    did nothing for those hours, its last heartbeat, dated in the future, reading as healthy.
    """

    def __init__(self, wall: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._wall, self._monotonic = wall, monotonic
        self._offset = wall() - monotonic()

    def step(self) -> float:
        """Seconds the system clock was moved since the last reading (negative: back), slewing included."""
        offset = self._wall() - self._monotonic()
        step, self._offset = offset - self._offset, offset
        return step


def follow_clock(scheduler: AsyncIOScheduler, step: timedelta) -> None:
    """Move the interval jobs' next runs by a step of the system clock, so that each comes when it would have; a cron
    job (the digest) keeps its time of day. Forward, what came due meanwhile runs now, once (the jobs coalesce)."""
    if step < timedelta(0):
        for job in scheduler.get_jobs():
            if isinstance(job.trigger, IntervalTrigger) and job.next_run_time is not None:
                job.modify(next_run_time=job.next_run_time + step)
        log.warning("the system clock was set back by %s: the checks are moved back with it", -step)
    else:
        log.warning("the system clock was set forward by %s: what came due meanwhile runs now, once", step)
        scheduler.wakeup()


def _beat_in_place(archive: Archive, *, pid: int, now: datetime, every: int) -> None:
    archive.ensure_in_place()
    archive.beat(pid=pid, now=now, every=every)


class Daemon:
    """The scheduled checks and deliveries over the archive of ``settings``, which must exist (see
    :meth:`Archive.create`); every read and write goes through one :class:`ArchiveWriter`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.writer = ArchiveWriter(settings.database)
        self._stop = asyncio.Event()
        self._running: set[asyncio.Task[object]] = set()
        self._scheduler: AsyncIOScheduler | None = None
        self._next_due: dict[str, datetime] = {}  # job id -> when its check said to check next
        self._moved: ArchiveMovedError | None = None  # the archive's file deleted or replaced: the daemon stops
        self._delivering = False  # the delivery job is running
        self._delivery_asked = False  # a check queued alerts or a notice since the delivery job last looked
        self._overran: set[str] = set()  # jobs whose run in flight outlasted their interval (said once a run)

    def stop(self) -> None:
        self._stop.set()

    @contextmanager
    def _tracked(self, what: str) -> Iterator[None]:
        """Register the running job's task so that a stop can wait for it, and end it quietly if the stop cancels it.

        The cancellation is the job's own end, at the top of its task: APScheduler would
        log one that escapes as an error with a traceback. So is an archive that could not be
        written: held past the busy timeout by another process (a user's long write), or on a
        full disk, where every job failed with two tracebacks a second. The condition passes (or
        needs a person, whom the one line tells what to do), the job's next run does the work,
        and nothing could record the failure meanwhile. So are parsing workers that could not start
        (the system's limit on processes reached): they are started again a while later.
        """
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        try:
            yield
        except asyncio.CancelledError:
            if not self._stop.is_set():
                raise
            log.info("%s: cut short by the stop (what it committed stands)", what)
        except ArchiveError as exc:
            log.error("%s: not done, %s; tried again at its next run", what, exc)
        except WorkersError as exc:  # nothing can be parsed: no source's fault, and a traceback at every check
            log.error("%s: not done, %s; the workers are started again %.0f s after they failed", what, exc,
                      RESTART_AFTER)
        finally:
            self._running.discard(task)

    # Jobs are coroutine functions (not lambdas) so APScheduler awaits them on the loop.
    async def _check(self, pipeline: Pipeline, source: SourceSettings) -> None:
        with self._tracked(f"check of {source.name}"):
            report = await pipeline.check(source)
            if report.next_due and self.settings.is_adaptive(source):
                # The trigger's own interval (the ceiling) is only the fallback; the check said when. Set once
                # the job has ended (see _on_job_done): a due time that passes while it still runs is skipped.
                self._next_due[f"source:{source.name}"] = report.next_due
            if report.alerts or report.notice:
                self._deliver_soon()

    def _deliver_soon(self) -> None:
        """Have the delivery job send what a check queued: now, or once its run in flight is over.

        A check that delivered its alerts itself waited on the mail server: one answering each line just within
        email.timeout held the check for minutes a message, and its source went unchecked meanwhile.
        """
        self._delivery_asked = True
        if not self._delivering and self._scheduler is not None:
            self._scheduler.modify_job(DELIVERY_JOB, next_run_time=datetime.now(UTC))

    async def _deliver(self) -> None:
        """Send what is due: instant alerts (and retries), in digest mode a digest whose time has passed (one missed
        while the daemon was down or the machine suspended would otherwise wait a day for the next digest_cron time)
        and digests that failed, every channel's, notices; again while checks queued more meanwhile."""
        with self._tracked("alert delivery"):
            self._delivering = True
            try:
                while True:
                    self._delivery_asked = False
                    await deliver_all(self.writer, self.settings.email, self.settings.channels, utcnow())
                    if not self._delivery_asked:
                        break
            finally:
                self._delivering = False

    async def _digest(self) -> None:
        """The digest's time: the delivery job gathers and sends it (:func:`deliver_pending`), now. It is the one path
        that does, at start and every 30 s too: a digest job of its own gathered beside it."""
        self._deliver_soon()

    async def _beat(self) -> None:
        """The heartbeat: proof that the loop, the scheduler and the archive writer all still work, on the file at
        the archive's path. Deleted or replaced there, it stops the daemon: every write would be lost with the old
        file, and a supervisor's restart opens (or creates) the one now there."""
        with self._tracked("heartbeat"):
            beat = partial(_beat_in_place, pid=os.getpid(), now=utcnow(), every=self.settings.schedule.heartbeat)
            try:
                await self.writer.run(beat)
            except ArchiveMovedError as exc:
                self._moved = exc
                self.stop()

    async def _watch_clock(self) -> None:
        """Follow the steps of the system clock for as long as the daemon runs (on loop time, which no step moves)."""
        watch = ClockWatch()
        while True:
            await asyncio.sleep(CLOCK_WATCH_SECONDS)
            step = watch.step()
            if abs(step) >= CLOCK_STEP_SECONDS and self._scheduler is not None:
                follow_clock(self._scheduler, timedelta(seconds=round(step)))

    def _on_job_skipped(self, event: JobSubmissionEvent) -> None:
        """A run due while the job's last run goes on is skipped. APScheduler says so at every interval, in its own
        terms ("maximum number of running instances reached"): a line a second for a check of a source checked every
        second. Said here once a run, in the operator's; how long the run took is said as it ends."""
        if event.job_id in self._overran:
            return
        self._overran.add(event.job_id)
        if event.job_id.startswith("source:"):
            log.warning("%s still running at its next due time: the checks due meanwhile are skipped (a check"
                        " longer than its interval)", _job_title(event.job_id))
        else:
            log.info("%s still running at its next due time: its runs due meanwhile are skipped",
                     _job_title(event.job_id))

    def _on_job_done(self, event: JobExecutionEvent) -> None:
        """An adaptive source's next check, set when its check's job has ended: a job still running when its next
        run comes is skipped by the scheduler, which then waits for the trigger's fallback (the ceiling), so a
        check that outlasted its learned interval would wait hours."""
        if event.job_id in self._overran:
            self._overran.discard(event.job_id)
            took = (datetime.now(UTC) - event.scheduled_run_time).total_seconds()
            log.info("%s took %.1f s", _job_title(event.job_id), took)
        due = self._next_due.pop(event.job_id, None)
        if due is not None and self._scheduler is not None and self._scheduler.get_job(event.job_id) is not None:
            self._scheduler.modify_job(event.job_id, next_run_time=due)

    def _on_job_error(self, event: JobExecutionEvent) -> None:
        if isinstance(event.exception, asyncio.CancelledError):
            return  # a check cut short by a stop is not the source's failure
        log.error("job %s failed: %r", event.job_id, event.exception)
        if event.job_id.startswith("source:"):
            name = event.job_id.removeprefix("source:")
            recording = asyncio.get_running_loop().create_task(self._record_job_failure(name, event.exception))
            self._running.add(recording)  # a stop waits for it like for a job
            recording.add_done_callback(self._running.discard)

    async def _record_job_failure(self, name: str, error: BaseException) -> None:
        with self._tracked(f"recording the failure of the check of {name}"):
            await self._record_check_failure(name, error)

    async def _record_check_failure(self, name: str, error: BaseException) -> None:
        now = utcnow()
        next_due = now + timedelta(seconds=self.settings.interval_of(self.settings.source(name)))

        def record(archive: Archive) -> None:
            archive.record_failure(name, checked=now, next_due=next_due, error=f"internal error: {error!r}",
                                   health=archive.source_state(name).health)

        await self.writer.run(record)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        # SIGHUP too: a terminal closed under the daemon killed it mid-write, an e-mail sent but not marked sent
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, self.stop)
        scheduler = self._scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_listener(self._on_job_error, EVENT_JOB_ERROR)
        scheduler.add_listener(self._on_job_done, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        scheduler.add_listener(self._on_job_skipped, EVENT_JOB_MAX_INSTANCES)
        async with self.writer, Workers(self.settings) as workers, \
                open_pipeline(self.settings, self.writer, workers) as pipeline:
            now = datetime.now(UTC)
            await start_delivering(self.writer, self.settings.channels, now)
            states = await self.writer.run(
                lambda archive: {source.name: archive.source_state(source.name) for source in self.settings.sources}
            )
            jitter = self.settings.schedule.jitter
            for source in self.settings.sources:
                adaptive = self.settings.is_adaptive(source)
                # An adaptive source's next check is set after each check; its trigger is the fallback.
                interval = self.settings.schedule.max_interval if adaptive else self.settings.interval_of(source)
                state = states[source.name]
                # Never checked: a first check somewhere in the jitter, so that a first start spreads its load.
                spread = timedelta(seconds=random.uniform(0, min(jitter, self.settings.interval_of(source))))
                first = max(now, state.next_due) if state.next_due else now + spread
                scheduler.add_job(
                    self._check,
                    IntervalTrigger(seconds=interval, jitter=jitter, timezone=UTC),
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
                id=DELIVERY_JOB,
                next_run_time=now,  # alerts left queued by a stop or a crash go out at once
                max_instances=1,
                coalesce=True,
                misfire_grace_time=ALERT_RETRY_SECONDS,
            )
            heartbeat = self.settings.schedule.heartbeat
            scheduler.add_job(
                self._beat,
                IntervalTrigger(seconds=heartbeat, timezone=UTC),
                id=HEARTBEAT_JOB,
                next_run_time=now,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=heartbeat,
            )
            if self.settings.email and self.settings.email.mode == "digest":
                scheduler.add_job(
                    self._digest,
                    crontab_trigger(self.settings.email.digest_cron),
                    id=DIGEST_JOB,
                    max_instances=1,
                    coalesce=True,
                    misfire_grace_time=3600,
                )
            scheduler.start()
            clock = asyncio.create_task(self._watch_clock())
            log.info("daemon started: %d sources", len(self.settings.sources))
            await self._stop.wait()
            clock.cancel()
            scheduler.pause()
            await self._finish_running()
            scheduler.shutdown(wait=False)  # nothing runs now: its executor has nothing to cancel
        log.info("daemon stopped")
        if self._moved is not None:
            raise self._moved

    async def _finish_running(self) -> None:
        """Give the jobs in flight the grace period, then cancel the rest and wait for them to end."""
        if not self._running:
            return
        log.info("stopping: waiting up to %g s for %d jobs in flight", STOP_GRACE_SECONDS, len(self._running))
        _, pending = await asyncio.wait(set(self._running), timeout=STOP_GRACE_SECONDS)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
