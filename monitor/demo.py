"""``monitor demo``: one offline cycle over the bundled sample sites.

It shows the whole flow in seconds with no network and no SMTP: the sample
outlets are served on loopback, checked once into a fresh archive, and each
alert is printed and written as an ``.eml`` file, as it would have been mailed.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path

from monitor.alerts import render_message, render_text
from monitor.config import FetchSettings, Settings, SourceSettings
from monitor.demo_site import DemoWeb
from monitor.errors import MonitorError
from monitor.pipeline import CheckReport, utcnow
from monitor.scheduler import open_pipeline
from monitor.stopping import run_stoppable
from monitor.store import Archive
from monitor.store.writer import ArchiveWriter
from monitor.workers import Workers

DEMO_SENDER = "monitor@localhost"
DEMO_RECIPIENT = "analyst@example.org"


@dataclass(frozen=True)
class DemoResult:
    database: Path
    alert_files: list[Path]
    alert_texts: list[str]
    reports: list[CheckReport]


def demo_settings(web: DemoWeb, database: Path, beat: Settings) -> Settings:
    """The demo's sources on the loopback web, with the rules (and their lists and people) of ``beat``."""
    sources = []
    for outlet in web.outlets:
        url = web.bases[outlet.slug] + outlet.feed_path
        if outlet.discovery == "listing":
            sources.append(SourceSettings(name=outlet.name, kind="page", url=url, links="h2.headline a"))
        else:
            sources.append(SourceSettings(name=outlet.name, kind="feed", url=url))
    return Settings(
        database=str(database),
        fetch=FetchSettings(user_agent="monitor-demo/0.1", delay=0.0, timeout=10.0),
        sources=sources,
        rules=beat.rules,
        lists=beat.lists,
        people=beat.people,
        limits=beat.limits,
    )


async def _one_cycle(settings: Settings) -> list[CheckReport]:
    async with (ArchiveWriter(settings.database) as writer, Workers(settings) as workers,
                open_pipeline(settings, writer, workers) as pipeline):
        return await pipeline.check_all()


def run_demo(beat: Settings, output: Path) -> DemoResult:
    """Run one cycle into ``output/monitor-demo.db`` (replaced) and write alerts to ``output/alerts``."""
    database = output / "monitor-demo.db"
    alert_dir = output / "alerts"
    try:
        output.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            database.with_name(database.name + suffix).unlink(missing_ok=True)
        alert_dir.mkdir(exist_ok=True)
        for old in alert_dir.glob("alert-*.eml"):  # the demo's own, from an earlier run; any other file is the user's
            if old.stem.removeprefix("alert-").isdigit():
                old.unlink()
    except OSError as exc:
        raise _unusable(exc) from exc
    with DemoWeb() as web:
        Archive.create(database).close()
        reports = run_stoppable(_one_cycle(demo_settings(web, database, beat)))
    # The cycle's writer is closed: this is the process's one connection now. Opened for writing, it is the
    # last to close and SQLite removes the -wal and -shm files, which a read-only one would leave behind.
    with Archive.open(database) as archive:
        files, texts = [], []
        for alert_id in archive.due_alerts(utcnow()):
            content = archive.alert_content(alert_id)
            message = render_message(content, sender=DEMO_SENDER, recipients=[DEMO_RECIPIENT])
            path = alert_dir / f"alert-{alert_id}.eml"
            try:
                path.write_bytes(bytes(message))
            except OSError as exc:
                raise _unusable(exc) from exc
            files.append(path)
            texts.append(render_text(content))
    return DemoResult(database, files, texts, reports)


def _unusable(exc: OSError) -> MonitorError:
    """The one line that says which path of the demo's output cannot be used, and why."""
    reason = {
        errno.EEXIST: "it is a file, where the demo makes a folder",
        errno.ENOTDIR: "part of its path is a file, not a folder",
        errno.EISDIR: "it is a folder, where the demo writes a file",
    }.get(exc.errno or 0, exc.strerror or str(exc))
    return MonitorError(f"demo output {exc.filename}: {reason} (choose another --output)")
