"""What the commands that check sources do: ``once``, ``run`` and ``demo``, with the workers, the fetcher and the
archive's writer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from monitor.alerts.delivery import deliver_all, start_delivering
from monitor.app.words import counted
from monitor.config import Settings, shipped_rules
from monitor.demo import DemoResult, run_demo
from monitor.pipeline import CheckReport, utcnow
from monitor.rulecache import rules_of
from monitor.scheduler import Daemon, open_pipeline
from monitor.stopping import run_stoppable
from monitor.store import Archive, iso
from monitor.store.lock import instance_lock
from monitor.store.writer import ArchiveWriter
from monitor.workers import Workers

log = logging.getLogger(__name__)

__all__ = ["CheckReport", "DemoResult", "OnceResult", "check_once", "demo", "run_daemon"]


def _say_what_cannot_work(settings: Settings) -> None:
    """A config without sources (a first try, sources left in another file) checked nothing in silence: exit 0. One
    without rules stored every article and alerted on none, for as long as it ran, and said nothing either; one
    whose SMTP password variable is empty said so at its first alert, days later perhaps."""
    if settings.email and settings.email.username and settings.email.password() is None:
        log.warning("email.username is set but the environment variable %s is empty: no alert can be e-mailed until"
                    " it is set", settings.email.password_env)
    if not settings.sources:
        log.warning("the config has no [[sources]]: nothing is checked (queued alerts are still delivered)")
    if not settings.rules:
        log.warning("the config has no [[rules]]: articles are stored, and nothing alerts (copy the [lists] and"
                    " [[rules]] of the config.toml monitor ships)")


def _check_rules(settings: Settings) -> None:
    """Compile the rules here, once, so that a bad query (an unknown @list, a ( never closed) is a ConfigError.

    Only the parsing workers compiled them: ``once`` printed each worker's traceback and then "the parsing workers
    could not start", and ``run`` started and failed every check with that, for as long as it ran.
    """
    rules_of(settings)


def run_daemon(settings: Settings) -> None:
    """The daemon, until SIGINT, SIGTERM or SIGHUP; one per archive (a second is refused, naming the first)."""
    _check_rules(settings)
    with instance_lock(Path(settings.database)):  # a second daemon, refused, says that alone
        _say_what_cannot_work(settings)
        Archive.create(settings.database).close()  # made or migrated here; the daemon's one connection follows
        asyncio.run(Daemon(settings).run())


@dataclass(frozen=True)
class OnceResult:
    """What ``monitor once`` did: each source's check, and a line for each way of delivery that failed this run."""

    checks: list[CheckReport]
    undelivered: list[str]  # e.g. "e-mail: 2 alerts not delivered (SMTP 550 5.7.1 Relaying denied)"

    @property
    def unstored(self) -> list[str]:
        """A line for each source whose articles could not be stored, the archive not written (locked, a full disk)."""
        return [f"{check.source}: {counted(len(check.unstored), 'article')} not stored"
                f" ({next(iter(check.unstored.values()))})" for check in self.checks if check.unstored]


def check_once(
    settings: Settings, source_name: str | None, *, force: bool, progress: Callable[[int], None] | None = None
) -> OnceResult:
    """Check every source (or one) once and deliver what is queued (alerts, operator notices), even when a check
    failed. ``progress`` is told how many sources are done, as each is.
    """
    _say_what_cannot_work(settings)
    sources = [settings.source(source_name)] if source_name else list(settings.sources)
    done = 0

    def checked() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done)

    async def check_and_deliver() -> OnceResult:
        # The workers start first: their fork server loads its modules (a third of a second) while the rules are
        # checked here, which the first page waited for. A bad rule still stops before the archive is opened. A pool
        # without workers compiled them here as it opened.
        # Without sources nothing is parsed: the alerts are delivered without starting a fork server and its workers.
        parsing = settings if sources else settings.with_workers(0)
        async with Workers(parsing) as workers:
            if not workers.in_process:
                await asyncio.to_thread(_check_rules, settings)
            Archive.create(settings.database).close()  # made or migrated here; the check's one connection follows
            async with ArchiveWriter(settings.database) as writer:
                await start_delivering(writer, settings.channels, utcnow())
                try:
                    async with open_pipeline(settings, writer, workers) as pipeline:
                        checks = await pipeline.check_all(sources, force=force, on_checked=checked)
                finally:
                    now = utcnow()
                    mailed, posted = await deliver_all(writer, settings.email, settings.channels, now)
                    ways: dict[str, str | None] = {"e-mail": None} if settings.email else {}
                    ways |= {f"channel {channel.name}": channel.name for channel in settings.channels}
                    waiting = await writer.run(
                        lambda archive: {way: archive.retries_waiting(channel, now) for way, channel in ways.items()})
        failures = {"e-mail": mailed.failed} | {f"channel {name}": report.failed for name, report in posted.items()}
        lines = [_undelivered(way, failed) for way, failed in failures.items() if failed]
        for way, waits in waiting.items():
            earlier = {alert: wait for alert, wait in waits.items() if alert not in failures.get(way, {})}
            if earlier:
                lines.append(_waiting(way, earlier))
        return OnceResult(checks, lines)

    return run_stoppable(check_and_deliver())


def _undelivered(way: str, failed: dict[int, str]) -> str:
    return f"{way}: {counted(len(failed), 'alert')} not delivered ({next(iter(failed.values()))})"


def _waiting(way: str, waits: dict[int, tuple[datetime, str]]) -> str:
    """Alerts an earlier run failed to deliver, waiting out their backoff: `once` exited 0 and said nothing of them
    while ``status`` showed them undelivered."""
    when, error = min(waits.values())
    return (f"{way}: {counted(len(waits), 'alert')} not delivered, waiting to be tried again from"
            f" {iso(when)} ({error or 'see monitor status'})")


def demo(settings: Settings | None, output: Path) -> DemoResult:
    """One offline cycle over the bundled sample; ``settings`` None: the rules shipped with monitor."""
    beat = settings or shipped_rules()
    _check_rules(beat)
    return run_demo(beat, output)


