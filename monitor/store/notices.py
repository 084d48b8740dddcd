"""Operator notices' records: queued with the health change that causes them, then delivered per target.

A notice is written in the transaction that records the source's new health (see
:meth:`SourceRecords.record_success`), so the health the archive shows and the notice
that tells it land together or not at all. Each target (the operators' e-mail, a
channel, the log) keeps its own delivery row, claimed before a send like an alert's
on a channel, so a target that is down delays only itself and one that took the
notice is not sent it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlite_utils

from monitor.models import SourceNotice
from monitor.store.connection import Connection, iso, parse_iso
from monitor.store.deliveries import NOTICE_DELIVERIES


def insert_notice(db: sqlite_utils.Database, notice: SourceNotice) -> None:
    """Queue ``notice``; run it inside the caller's transaction."""
    db.execute(
        "INSERT INTO notices (source, problem, previous, created) VALUES (?, ?, ?, ?)",
        [notice.source, notice.problem, notice.previous, iso(notice.when)],
    )


class NoticeRecords(Connection):
    """Notices and their delivery on each target, in SQL."""

    def due_notices(self, target: str, now: datetime) -> list[tuple[int, SourceNotice]]:
        """Open notices not yet delivered on ``target``, due and unclaimed there, oldest first."""
        rows = self.db.execute(
            "SELECT notices.id, source, problem, previous, created FROM notices"
            " LEFT JOIN notice_deliveries AS d ON d.notice_id = notices.id AND d.target = :target"
            " WHERE notices.done IS NULL AND d.sent IS NULL AND (d.next_attempt IS NULL OR d.next_attempt <= :now)"
            " AND (d.held_until IS NULL OR d.held_until <= :now) ORDER BY notices.id",
            {"target": target, "now": iso(now)},
        ).fetchall()
        return [
            (notice_id, SourceNotice(source, problem, previous, parse_iso(created) or now))
            for notice_id, source, problem, previous, created in rows
        ]

    def claim_notice(self, target: str, notice_id: int, now: datetime, hold_until: datetime) -> int | None:
        """Start a delivery of a notice on a target, committed before anything is sent; its attempt number,
        or None when another deliverer holds it or it went out meanwhile."""
        return NOTICE_DELIVERIES.claim(self, notice_id, target, now, hold_until)

    def mark_notice_sent(self, target: str, notice_id: int, sent: datetime) -> None:
        NOTICE_DELIVERIES.mark_sent(self, notice_id, target, sent)

    def mark_notice_failed(self, target: str, notice_id: int, error: str, next_attempt: datetime) -> None:
        NOTICE_DELIVERIES.mark_failed(self, notice_id, target, error, next_attempt)

    def close_notices(self, targets: Sequence[str], now: datetime) -> int:
        """Mark done the open notices that every one of ``targets`` took; how many.

        A done notice is never sent again, so a target configured later starts with the
        notices still open rather than the archive's history.
        """
        marks = ",".join("?" * len(targets))
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE notices SET done = ? WHERE done IS NULL AND (SELECT count(*) FROM notice_deliveries AS d"
                f" WHERE d.notice_id = notices.id AND d.sent IS NOT NULL AND d.target IN ({marks})) = ?",
                [iso(now), *targets, len(targets)],
            )
        return int(cursor.rowcount)

    def queued_notice_count(self) -> int:
        return int(self._one("SELECT count(*) FROM notices WHERE done IS NULL"))
