"""One delivery state for every kind of item on every target: an alert on a channel, a notice on a target.

A row per (item, target): claimed in a committed transaction before anything is sent (its
attempt counted, held until a lease ends), then marked sent once the target accepted it,
or failed with the time of the next try. A target that is down delays only its own rows,
and a row marked sent is never claimed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.store.connection import Connection, iso


@dataclass(frozen=True)
class DeliveryTable:
    """A delivery table: its name, its item column and its target column (constants, never user input)."""

    name: str
    item: str
    target: str

    def claim(self, conn: Connection, item_id: int, target: str, now: datetime, hold_until: datetime) -> int | None:
        """The attempt number of a delivery now claimed, or None when another deliverer holds it or it went out."""
        with conn.transaction():
            conn.db.execute(
                f"INSERT OR IGNORE INTO {self.name} ({self.item}, {self.target}) VALUES (?, ?)", [item_id, target]
            )
            rows = conn.db.execute(
                f"UPDATE {self.name} SET attempts = attempts + 1, held_until = ?"
                f" WHERE {self.item} = ? AND {self.target} = ? AND sent IS NULL"
                " AND (held_until IS NULL OR held_until <= ?) RETURNING attempts",
                [iso(hold_until), item_id, target, iso(now)],
            ).fetchall()
        return int(rows[0][0]) if rows else None

    def mark_sent(self, conn: Connection, item_id: int, target: str, sent: datetime) -> None:
        with conn.transaction():
            conn.db.execute(
                f"UPDATE {self.name} SET sent = ?, held_until = NULL, next_attempt = NULL, last_error = NULL"
                f" WHERE {self.item} = ? AND {self.target} = ?",
                [iso(sent), item_id, target],
            )

    def mark_failed(self, conn: Connection, item_id: int, target: str, error: str, next_attempt: datetime) -> None:
        with conn.transaction():
            conn.db.execute(
                f"UPDATE {self.name} SET held_until = NULL, next_attempt = ?, last_error = ?"
                f" WHERE {self.item} = ? AND {self.target} = ?",
                [iso(next_attempt), error, item_id, target],
            )

    def release_waiting(self, conn: Connection, now: datetime) -> int:
        """Make due now every failed delivery waiting out its backoff, none claimed by a deliverer at work: a run
        starts, perhaps after a fix of the target (its token, its URL). How many were released."""
        with conn.transaction():
            cursor = conn.db.execute(
                f"UPDATE {self.name} SET next_attempt = ? WHERE sent IS NULL AND next_attempt > ?"
                " AND (held_until IS NULL OR held_until <= ?)",
                [iso(now), iso(now), iso(now)],
            )
        return int(cursor.rowcount)


CHANNEL_DELIVERIES = DeliveryTable("channel_deliveries", item="alert_id", target="channel")
NOTICE_DELIVERIES = DeliveryTable("notice_deliveries", item="notice_id", target="target")
