"""The sources' records: each one's health and validators, failed article URLs, the daemon's heartbeat."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from monitor.config import SourceSettings
from monitor.models import Heartbeat, SourceState
from monitor.store.connection import Connection, iso, parse_iso


class SourceRecords(Connection):
    """Sources, failed URLs and the heartbeat, in SQL."""

    def sync_sources(self, sources: Iterable[SourceSettings]) -> None:
        """Make ``sources`` hold the configured sources (state of a changed URL is reset)."""
        with self.transaction():
            for source in sources:
                current = self.db.execute("SELECT url FROM sources WHERE name = ?", [source.name]).fetchone()
                if current is None:
                    self.db.table("sources").insert({"name": source.name, "kind": source.kind, "url": source.url})
                elif current[0] != source.url:
                    self.db.execute(
                        "UPDATE sources SET kind = ?, url = ?, etag = NULL, last_modified = NULL,"
                        " body_hash = NULL, failures = 0, next_due = NULL WHERE name = ?",
                        [source.kind, source.url, source.name],
                    )

    def source_state(self, name: str) -> SourceState:
        row = self.db.execute(
            "SELECT name, etag, last_modified, body_hash, failures, next_due, last_checked, last_error"
            " FROM sources WHERE name = ?",
            [name],
        ).fetchone()
        return SourceState(
            row[0], row[1], row[2], row[3], row[4], parse_iso(row[5]), parse_iso(row[6]), row[7]
        )

    def record_success(
        self,
        name: str,
        *,
        checked: datetime,
        next_due: datetime,
        etag: str | None,
        last_modified: str | None,
        body_hash: str | None,
        articles_found: int,
    ) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE sources SET last_checked = ?, last_success = ?, last_error = NULL, failures = 0,"
                " next_due = ?, etag = coalesce(?, etag), last_modified = coalesce(?, last_modified),"
                " body_hash = coalesce(?, body_hash), articles_found = articles_found + ? WHERE name = ?",
                [iso(checked), iso(checked), iso(next_due), etag, last_modified, body_hash, articles_found, name],
            )

    def record_failure(self, name: str, *, checked: datetime, next_due: datetime, error: str) -> int:
        """Record a failed check; return the number of consecutive failures."""
        with self.transaction():
            self.db.execute(
                "UPDATE sources SET last_checked = ?, last_error = ?, failures = failures + 1, next_due = ?"
                " WHERE name = ?",
                [iso(checked), error, iso(next_due), name],
            )
        return int(self._one("SELECT failures FROM sources WHERE name = ?", [name]))

    def source_rows(self) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM sources ORDER BY name"))

    def given_up_urls(self, urls: Sequence[str], max_attempts: int) -> set[str]:
        """Links refused for good, or retried ``max_attempts`` times already: not fetched again."""
        return self._urls_where(
            urls, "SELECT url FROM failed_urls WHERE url IN ({marks}) AND (retry = 0 OR attempts >= ?)", max_attempts
        )

    def record_failed_url(self, url: str, *, source: str, error: str, retry: bool, when: datetime) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO failed_urls (url, source, error, retry, attempts, first_failed, last_failed)"
                " VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT (url) DO UPDATE SET error = excluded.error,"
                " retry = excluded.retry, attempts = attempts + 1, last_failed = excluded.last_failed",
                [url, source, error, int(retry), iso(when), iso(when)],
            )

    def beat(self, *, pid: int, now: datetime, every: int) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO heartbeat (id, pid, beat, every) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE"
                " SET pid = excluded.pid, beat = excluded.beat, every = excluded.every",
                [pid, iso(now), every],
            )

    def heartbeat(self) -> Heartbeat | None:
        """The daemon's last heartbeat, or None when no daemon ever ran on this archive."""
        row = self.db.execute("SELECT pid, beat, every FROM heartbeat WHERE id = 1").fetchone()
        return None if row is None else Heartbeat(row[0], datetime.fromisoformat(row[1]), row[2])
