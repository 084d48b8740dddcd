"""The sources' records: each one's health and validators, failed article URLs, the daemon's heartbeat."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from monitor.config import SourceSettings
from monitor.errors import shortened
from monitor.models import CheckRecord, Heartbeat, SourceNotice, SourceState
from monitor.store.connection import Connection, iso, parse_iso
from monitor.store.notices import insert_notice


CHECK_HISTORY = timedelta(days=8)  # of each source's checks: adaptive polling reads the last 7 days
# How long a failed link is remembered after its last failure. The table grew for as long as the archive lived, by
# every dead link every source ever listed. A link a source still lists after that is tried once more: a page
# missing then may be there now, robots.txt may allow it; at worst one request a link a month.
FAILED_URL_RETENTION = timedelta(days=30)
# Characters of failed links (URL and error) a source's rows may hold; past them its oldest are forgotten at the end
# of its check. A listing of a thousand fresh links of 8,000 characters to refused addresses at each check added
# 16.7 MB a check, kept a month: about 48 GB at the shortest interval. A hundred thousand links of 100 characters fit.
FAILED_URL_CHARS = 10_000_000


def _seconds(span: timedelta) -> int:
    return max(0, round(span.total_seconds()))


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
            "SELECT name, etag, last_modified, body_hash, failures, next_due, last_checked, last_error, health"
            " FROM sources WHERE name = ?",
            [name],
        ).fetchone()
        return SourceState(
            row[0], row[1], row[2], row[3], row[4], parse_iso(row[5]), parse_iso(row[6]), row[7], row[8]
        )

    def record_success(
        self,
        name: str,
        *,
        check: CheckRecord,
        next_due: datetime,
        etag: str | None,
        last_modified: str | None,
        body_hash: str | None,
        health: str | None = None,
        notice: SourceNotice | None = None,
    ) -> None:
        """Record a successful check, its yield in the source's history, its health (None: healthy) and the
        notice a change of health calls for, queued in the same transaction."""
        with self.transaction():
            self.db.execute(
                "UPDATE sources SET last_checked = ?, last_success = ?, last_error = NULL, failures = 0,"
                " next_due = ?, etag = coalesce(?, etag), last_modified = coalesce(?, last_modified),"
                " body_hash = coalesce(?, body_hash), articles_found = articles_found + ?, interval = ?,"
                " health = ? WHERE name = ?",
                [iso(check.checked), iso(check.checked), iso(next_due), etag, last_modified, body_hash, check.stored,
                 _seconds(next_due - check.checked), health, name],
            )
            self._record_check(name, check, notice)

    def record_failure(
        self, name: str, *, checked: datetime, next_due: datetime, error: str, health: str | None = None,
        notice: SourceNotice | None = None,
    ) -> int:
        """Record a failed check (its error cut to :data:`~monitor.errors.ERROR_CHARS`), the source's health and its
        notice; return the number of consecutive failures."""
        with self.transaction():
            self.db.execute(
                "UPDATE sources SET last_checked = ?, last_error = ?, failures = failures + 1, next_due = ?,"
                " health = ? WHERE name = ?",
                [iso(checked), shortened(error), iso(next_due), health, name],
            )
            self._record_check(name, CheckRecord(checked=checked, ok=False, changed=False), notice)
        return int(self._one("SELECT failures FROM sources WHERE name = ?", [name]))

    def _record_check(self, name: str, check: CheckRecord, notice: SourceNotice | None) -> None:
        """Add a check to the source's history, forget what is older than the history kept and the failed links past
        its budget (:data:`FAILED_URL_CHARS`), queue ``notice``."""
        if notice is not None:
            insert_notice(self.db, notice)
        self.db.execute(
            "INSERT INTO source_checks (source, checked, ok, changed, links, new_links, extracted, text_chars, stored,"
            " url_chars) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [name, iso(check.checked), int(check.ok), int(check.changed), check.links, check.new_links,
             check.extracted, check.text_chars, check.stored, check.url_chars],
        )
        self.db.execute(
            "DELETE FROM source_checks WHERE source = ? AND checked < ?", [name, iso(check.checked - CHECK_HISTORY)]
        )
        self.db.execute(
            "DELETE FROM failed_urls WHERE source = :source AND url IN (SELECT url FROM (SELECT url,"
            " sum(length(url) + length(error)) OVER (ORDER BY last_failed DESC, url) AS held FROM failed_urls"
            " WHERE source = :source) WHERE held > :chars)",
            {"source": name, "chars": FAILED_URL_CHARS},
        )

    def check_history(self, name: str, *, since: datetime) -> list[CheckRecord]:
        """The source's checks since ``since``, oldest first."""
        rows = self.db.execute(
            "SELECT checked, ok, changed, links, new_links, extracted, text_chars, stored, url_chars FROM source_checks"
            " WHERE source = ? AND checked >= ? ORDER BY checked, id",
            [name, iso(since)],
        ).fetchall()
        return [
            CheckRecord(
                checked=datetime.fromisoformat(row[0]), ok=bool(row[1]), changed=bool(row[2]), links=row[3],
                new_links=row[4], extracted=row[5], text_chars=row[6], stored=row[7], url_chars=row[8],
            )
            for row in rows
        ]

    def source_rows(self) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM sources ORDER BY name"))

    def given_up_urls(self, urls: Sequence[str], max_attempts: int, source: str) -> set[str]:
        """Links ``source`` had refused for good, or retried ``max_attempts`` times already: it does not fetch them
        again. Another source's failures do not count (see the migration that keys them by source)."""
        return self._urls_where(
            urls, "SELECT url FROM failed_urls WHERE url IN ({marks}) AND source = ? AND (retry = 0 OR attempts >= ?)",
            source, max_attempts,
        )

    def failures_to_retry(self, source: str, max_attempts: int) -> dict[str, tuple[int, datetime]]:
        """The links ``source`` failed at in passing and will try again (fewer than ``max_attempts`` attempts): the
        attempts so far, and when the last one failed."""
        rows = self.db.execute(
            "SELECT url, attempts, last_failed FROM failed_urls WHERE source = ? AND retry = 1 AND attempts < ?",
            [source, max_attempts],
        )
        return {url: (attempts, datetime.fromisoformat(last_failed)) for url, attempts, last_failed in rows}

    def record_failed_url(self, url: str, *, source: str, error: str, retry: bool, when: datetime) -> None:
        """Record a failure of ``url`` listed by ``source`` (its error cut to :data:`~monitor.errors.ERROR_CHARS`), and
        forget those older than FAILED_URL_RETENTION: pruned where the table grows, so it stays the size of a month of
        failures."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO failed_urls (url, source, error, retry, attempts, first_failed, last_failed)"
                " VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT (url, source) DO UPDATE SET error = excluded.error,"
                " retry = excluded.retry, attempts = attempts + 1, last_failed = excluded.last_failed",
                [url, source, shortened(error), int(retry), iso(when), iso(when)],
            )
            self.db.execute("DELETE FROM failed_urls WHERE last_failed < ?", [iso(when - FAILED_URL_RETENTION)])

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
