"""What the commands that only read the archive do: ``status``, ``status --check``, ``search``,
``datasette-metadata``. They load the store and nothing of the fetcher, parsers or scheduler."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor import health
from monitor.config import ChannelSettings, Settings, next_digest
from monitor.errors import MonitorError
from monitor.models import Heartbeat
from monitor.store import Archive, iso
from monitor.store import datasette as store_datasette

__all__ = ["ArchiveStatus", "Backlog", "datasette_metadata", "health_problems", "iso", "search", "status"]


def search(database: Path, query: str, limit: int) -> list[dict[str, Any]]:
    """Articles of the archive at ``database`` matching a full-text query (FTS5 syntax)."""
    try:
        query.encode("utf-8")
    except UnicodeEncodeError:  # bytes the locale could not decode arrive as lone surrogates
        raw = query.encode("utf-8", "surrogateescape")
        try:
            query = raw.decode("utf-8")  # UTF-8 typed under a locale that is not (LANG=C): the archive's own
        except UnicodeDecodeError as exc:
            raise MonitorError(f"the search query {raw!r} is not UTF-8 text: type it in a UTF-8 terminal,"
                               " or set LANG to a UTF-8 locale") from exc
    with Archive.read(database) as archive:
        return archive.search(query, limit)


def datasette_metadata(database: Path) -> dict[str, Any]:
    """Datasette's metadata for the archive at ``database``: what each table holds, labels, facets, sort orders.

    The archive is opened first (read-only): metadata for a mistyped --db, a text file or another program's database
    was printed all the same, exit 0, and Datasette ignores metadata for a database it does not serve.
    """
    with Archive.read(database):
        return store_datasette.datasette_metadata(database)


Backlog = tuple[int, str | None]  # the alerts a way of delivery has not delivered, and its latest error


@dataclass(frozen=True)
class ArchiveStatus:
    """What ``monitor status`` shows, read in one opening of the archive."""

    sources: dict[str, dict[str, Any]]  # the stored sources, by name
    counts: dict[str, int]  # articles, stories, mentions; ``notices``: operator notices not yet delivered everywhere
    email: Backlog
    channels: list[tuple[str, int, str | None]]  # each configured channel's name and backlog
    heartbeat: Heartbeat | None
    digest_due: datetime | None = None  # in digest mode, when the alerts e-mail owes go out


def _channel_backlog(archive: Archive, channel: ChannelSettings) -> tuple[str, int, str | None]:
    """A channel's name, the alerts it owes and why: a channel whose ``url_env`` is unset tries nothing, so no error
    was stored, and status gave no reason for its alerts waiting."""
    waiting, error = archive.channel_backlog(channel.name)
    if waiting and channel.resolved_url() is None:
        error = channel.unset()
    return channel.name, waiting, error


def status(settings: Settings) -> ArchiveStatus:
    """The archive's view of the sources, its counts, what e-mail and each channel have not delivered, and the last
    heartbeat."""
    with Archive.read(settings.database) as archive:
        oldest = archive.oldest_undigested() if settings.email and settings.email.mode == "digest" else None
        return ArchiveStatus(
            sources={row["name"]: row for row in archive.source_rows()},
            counts=archive.counts() | {"notices": archive.queued_notice_count()},
            email=archive.email_backlog(),
            channels=[_channel_backlog(archive, channel) for channel in settings.channels],
            heartbeat=archive.heartbeat(),
            digest_due=next_digest(settings.email.digest_cron, oldest) if settings.email and oldest else None,
        )


def health_problems(settings: Settings) -> tuple[list[str], Heartbeat | None]:
    """What makes the daemon unhealthy (none: healthy), with its last heartbeat. Only the sources, the heartbeat and
    the oldest alert each configured way of delivery owes are read, not the counts ``status`` shows: a health check
    runs every few seconds, on an archive of any size."""
    with Archive.read(settings.database) as archive:
        stored = {row["name"]: row for row in archive.source_rows()}
        heartbeat = archive.heartbeat()
        owed = {"e-mail": archive.email_waiting_since(digest=settings.email.mode == "digest")} if settings.email else {}
        for channel in settings.channels:
            owed[f"channel {channel.name}"] = archive.channel_waiting_since(channel.name)
    names = [source.name for source in settings.sources]
    try:
        disk: tuple[str, int] | None = (str(settings.database), shutil.disk_usage(Path(settings.database).parent).free)
    except OSError:
        disk = None  # the check says what it can without it
    return health.problems(heartbeat, names, stored, datetime.now(UTC), owed, disk), heartbeat
