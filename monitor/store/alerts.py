"""The outbox's records: alerts, their mentions, e-mail and channel deliveries, digests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from monitor.config import DEFAULT_MESSAGE_DOMAIN
from monitor.models import AlertContent, AlertCopy, Mention
from monitor.store.connection import Connection, iso, parse_iso
from monitor.store.deliveries import CHANNEL_DELIVERIES

# What one alert quotes and lists at most: a story copied by hundreds of pages (a site repeating one matching
# article) made a message of 17 MB whose rendering held the event loop for 20 s. The rest is counted in the alert.
ALERT_MENTIONS = 40
ALERT_COPIES = 50
# The alerts a channel (:channel) owes: those queued since it was registered that it has not delivered.
_OWED_ON_CHANNEL = (
    "FROM alerts JOIN channels ON channels.name = :channel"
    " LEFT JOIN channel_deliveries AS d ON d.alert_id = alerts.id AND d.channel = :channel"
    " WHERE alerts.created >= channels.first_seen AND d.sent IS NULL"
)


class AlertRecords(Connection):
    """Alerts, deliveries and digests, in SQL."""

    def queue_alert(
        self, story_id: int, mention_ids: Sequence[int], created: datetime, domain: str = DEFAULT_MESSAGE_DOMAIN
    ) -> int:
        """Attach new mentions to the story's open alert, or queue a new one.

        An alert is open while no delivery was tried (by e-mail or on a channel) and no digest took it:
        copies of a story found before then fold into that one message. After a
        try its content is fixed (a retry must repeat the very message the server
        may already have accepted), so later passages start a follow-up alert,
        held as long as the earlier one so that it never arrives first.
        """
        alert_id = self._one(
            "SELECT id FROM alerts WHERE story_id = ? AND sent IS NULL AND attempts = 0 AND digest_id IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM channel_deliveries WHERE channel_deliveries.alert_id = alerts.id)"
            " ORDER BY id LIMIT 1",
            [story_id],
        )
        if alert_id is None:
            earlier, held_until = self.db.execute(
                "SELECT count(*), max(CASE WHEN sent IS NULL THEN next_attempt END) FROM alerts WHERE story_id = ?",
                [story_id],
            ).fetchone()
            cursor = self.db.execute(
                "INSERT INTO alerts (story_id, created, message_id, follow_up, next_attempt) VALUES (?, ?, '', ?, ?)",
                [story_id, iso(created), int(earlier > 0), held_until],
            )
            alert_id = int(cursor.lastrowid or 0)
            self.db.execute(
                "UPDATE alerts SET message_id = ? WHERE id = ?",
                [f"<alert-{alert_id}.story-{story_id}.{created:%Y%m%d%H%M%S}@{domain}>", alert_id],
            )
        self._insert_rows(
            "INSERT OR IGNORE INTO alert_mentions (alert_id, mention_id)",
            [(alert_id, mention_id) for mention_id in mention_ids],
        )
        return int(alert_id)

    def register_channels(self, names: Sequence[str], now: datetime) -> None:
        """Note when each channel was first configured: it delivers the alerts queued from then on, not the backlog."""
        with self.transaction():
            self._insert_rows("INSERT OR IGNORE INTO channels (name, first_seen)", [(name, iso(now)) for name in names])

    def channel_due(self, channel: str, now: datetime) -> list[int]:
        """Alerts queued since ``channel`` was registered, not yet delivered on it, due and unclaimed, oldest first."""
        return [
            row[0]
            for row in self.db.execute(
                f"SELECT alerts.id {_OWED_ON_CHANNEL}"
                " AND (d.next_attempt IS NULL OR d.next_attempt <= :now)"
                " AND (d.held_until IS NULL OR d.held_until <= :now) ORDER BY alerts.id",
                {"channel": channel, "now": iso(now)},
            )
        ]

    def claim_on_channel(self, channel: str, alert_id: int, now: datetime, hold_until: datetime) -> int | None:
        """Start a delivery of an alert on a channel, committed before anything is sent; its attempt number,
        or None when another deliverer holds it or it went out meanwhile."""
        return CHANNEL_DELIVERIES.claim(self, alert_id, channel, now, hold_until)

    def mark_channel_sent(self, channel: str, alert_id: int, sent: datetime) -> None:
        CHANNEL_DELIVERIES.mark_sent(self, alert_id, channel, sent)

    def mark_channel_failed(self, channel: str, alert_id: int, error: str, next_attempt: datetime) -> None:
        CHANNEL_DELIVERIES.mark_failed(self, alert_id, channel, error, next_attempt)

    def release_channel_retries(self, now: datetime) -> int:
        """Make due now the alerts each channel failed to deliver and waits to retry (see
        :meth:`~monitor.store.deliveries.DeliveryTable.release_waiting`)."""
        return CHANNEL_DELIVERIES.release_waiting(self, now)

    def due_alerts(self, now: datetime) -> list[int]:
        """Unsent alerts outside any digest whose (re)try time has come, oldest first."""
        return [
            row[0]
            for row in self.db.execute(
                "SELECT id FROM alerts WHERE sent IS NULL AND digest_id IS NULL"
                " AND (next_attempt IS NULL OR next_attempt <= ?) ORDER BY id",
                [iso(now)],
            )
        ]

    def claim_alerts(
        self, alert_ids: Sequence[int], now: datetime, hold_until: datetime, domain: str = DEFAULT_MESSAGE_DOMAIN
    ) -> dict[int, int]:
        """Start a delivery attempt: of ``alert_ids``, those still unsent and due, with their attempt count.

        The claim is committed before anything is sent. It counts the attempt,
        fixes the alert's content (see :meth:`queue_alert`) and holds the alert
        until ``hold_until``, so a second deliverer (``monitor once`` beside the
        daemon) skips it, and a deliverer killed after the server accepted the
        message leaves it due again then: the one repeat at-least-once allows.
        A first attempt also puts the Message-ID in the sender's ``domain``: an
        alert queued before ``[email]`` was configured has the placeholder's.
        """
        if not alert_ids:
            return {}
        marks = ",".join("?" * len(alert_ids))
        with self.transaction():
            rows = self.db.execute(
                "UPDATE alerts SET attempts = attempts + 1, next_attempt = ?, outage = 0, message_id = CASE"
                " WHEN attempts = 0 THEN substr(message_id, 1, instr(message_id, '@')) || ? || '>'"
                f" ELSE message_id END WHERE id IN ({marks})"
                " AND sent IS NULL AND (next_attempt IS NULL OR next_attempt <= ?) RETURNING id, attempts",
                [iso(hold_until), domain, *alert_ids, iso(now)],
            ).fetchall()
        return {alert_id: attempts for alert_id, attempts in rows}

    def alert_content(self, alert_id: int) -> AlertContent:
        story_id, message_id, created, follow_up = self.db.execute(
            "SELECT story_id, message_id, created, follow_up FROM alerts WHERE id = ?", [alert_id]
        ).fetchone()
        mentions = tuple(
            Mention(rule, passage, tuple(json.loads(terms)), bool(new), outlet, site)
            for rule, passage, terms, new, outlet, site in self.db.execute(
                "SELECT mentions.rule, mentions.passage, mentions.terms, mentions.new,"
                " coalesce(articles.outlet, articles.source, articles.site), articles.site FROM alert_mentions"
                " JOIN mentions ON mentions.id = alert_mentions.mention_id"
                " JOIN articles ON articles.id = mentions.article_id WHERE alert_mentions.alert_id = ?"
                " ORDER BY mentions.id LIMIT ?",
                [alert_id, ALERT_MENTIONS],
            )
        )
        all_mentions = self._one("SELECT count(*) FROM alert_mentions WHERE alert_id = ?", [alert_id])
        # The copies in the order the monitor stored them, those that carry the alert's passages first: the first of
        # them is the earliest report of what the alert says, and its headline is the subject. A copy that matched
        # nothing is no report of it: a hostile outlet's copy, altered so that the rules read nothing in it and
        # stored first, led the alert of the page it copied under its own bland headline. A page's published date is
        # shown, never trusted for the order: a copy stored later that claims 1990 would otherwise lead the alert
        # under its own headline. (Not ``fetched`` either: it is stamped before parsing, so a page slow to parse
        # could carry an earlier one than a copy stored before it.)
        # A page read again and changed since is a copy of its own in the story (see read_again in the pipeline), and
        # an outlet's feed and sitemap may each have read it: a page is listed once, where the order first has it, as
        # its newest copy reads.
        pages: dict[str, tuple[int, AlertCopy]] = {}
        for article_id, title, site, url, published, outlet, source in self.db.execute(
            "SELECT id, title, site, url, published, coalesce(outlet, source, site), coalesce(source, '') FROM articles"
            " WHERE story_id = ? ORDER BY id NOT IN (SELECT mentions.article_id FROM alert_mentions JOIN mentions"
            " ON mentions.id = alert_mentions.mention_id WHERE alert_mentions.alert_id = ?), id LIMIT ?",
            [story_id, alert_id, ALERT_COPIES],
        ):
            if url not in pages or article_id > pages[url][0]:
                pages[url] = (article_id, AlertCopy(title, site, url, parse_iso(published), outlet, source))
        copies = tuple(copy for _, copy in pages.values())
        all_copies = self._one("SELECT count(DISTINCT url) FROM articles WHERE story_id = ?", [story_id])
        copies = (*copies, *self._same_text_elsewhere(story_id, {copy.site for copy in copies}))[:ALERT_COPIES]
        headline = copies[0].title if copies else self._one("SELECT title FROM stories WHERE id = ?", [story_id])
        rules = tuple(dict.fromkeys(m.rule for m in mentions))
        return AlertContent(
            alert_id, story_id, message_id, headline, parse_iso(created) or datetime.now(UTC),
            bool(follow_up), rules, mentions, copies, all_mentions - len(mentions), all_copies - len(copies),
        )

    def _same_text_elsewhere(self, story_id: int, shown: set[str]) -> list[AlertCopy]:
        """The story's texts as other sources' links found them, one a host not listed yet: such a page is one more
        URL of the copy stored first, and a copier's page stored first hid the outlet it copied from every alert.
        Its own headline is not kept, so none is shown (the stored one may be the copier's)."""
        found: list[AlertCopy] = []
        for url, source in self.db.execute(
            "SELECT article_urls.url, article_urls.source FROM article_urls"
            " JOIN articles ON articles.id = article_urls.article_id"
            " WHERE articles.story_id = ? AND article_urls.source != coalesce(articles.source, '')"
            " ORDER BY articles.id, article_urls.url LIMIT ?",
            [story_id, ALERT_COPIES],
        ):
            site = urlsplit(url).hostname or ""
            if site not in shown:
                shown.add(site)
                found.append(AlertCopy("", site, url, None, source, source, folded=True))
        return found

    def mark_sent(self, alert_ids: Sequence[int], sent: datetime, note: str | None = None) -> None:
        """Record the server's acceptance; ``note`` keeps a partial refusal (some recipients refused)."""
        with self.transaction():
            self.db.conn.executemany(
                "UPDATE alerts SET sent = ?, last_error = ?, next_attempt = NULL WHERE id = ?",
                [(iso(sent), note, alert_id) for alert_id in alert_ids],
            )

    def mark_failed(
        self, alert_ids: Sequence[int], error: str, next_attempt: datetime, *, outage: bool = False
    ) -> None:
        """Record a failed attempt (counted by :meth:`claim_alerts`) and when to try again; an alert sent meanwhile (a
        refused digest's half that went) is left as sent.

        ``outage``: the server could not be reached or refused the session, so :meth:`release_after_outage` may
        bring the retry forward.
        """
        with self.transaction():
            self.db.conn.executemany(
                "UPDATE alerts SET last_error = ?, next_attempt = ?, outage = ? WHERE id = ? AND sent IS NULL",
                [(error, iso(next_attempt), int(outage), alert_id) for alert_id in alert_ids],
            )

    def release_after_outage(self, now: datetime) -> int:
        """Make due now every unsent alert that waits out a backoff only because the server was down or refused the
        session: it accepted another message, or a run starts, perhaps after a fix.

        A claimed alert is never released (a claim resets ``outage``), so a deliverer's lease holds.
        Returns how many were released.
        """
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE alerts SET next_attempt = ?, outage = 0 WHERE sent IS NULL AND outage = 1"
                " AND next_attempt > ?",
                [iso(now), iso(now)],
            )
        return int(cursor.rowcount)

    def channel_backlog(self, channel: str) -> tuple[int, str | None]:
        """How many alerts queued since ``channel`` was registered it has not delivered, and its latest error: a
        channel down for a day shows in ``status``, not only in ``channel_deliveries``."""
        waiting = int(self._one(f"SELECT count(*) {_OWED_ON_CHANNEL}", {"channel": channel}))
        error = self._one(
            "SELECT last_error FROM channel_deliveries WHERE channel = :channel AND sent IS NULL"
            " AND last_error IS NOT NULL ORDER BY alert_id DESC LIMIT 1", {"channel": channel}) if waiting else None
        return waiting, error

    def retries_waiting(self, channel: str | None, now: datetime) -> dict[int, tuple[datetime, str]]:
        """The alerts e-mail (``channel`` None) or a channel tried, failed and waits to try again after ``now``: when
        and the error of the last try, by alert. An alert claimed by a deliverer at work, never failed, is not one:
        ``monitor once`` beside another that was sending it exited 1, "not delivered, waiting to be tried again"."""
        if channel is None:
            rows = self.db.execute(
                "SELECT id, next_attempt, last_error FROM alerts WHERE sent IS NULL AND digest_id IS NULL"
                " AND attempts > 0 AND last_error IS NOT NULL AND next_attempt > ?", [iso(now)])
        else:
            rows = self.db.execute(
                "SELECT alert_id, next_attempt, last_error FROM channel_deliveries WHERE channel = ?"
                " AND sent IS NULL AND attempts > 0 AND last_error IS NOT NULL AND next_attempt > ?", [channel, iso(now)])
        return {alert_id: (parse_iso(when) or now, error) for alert_id, when, error in rows}

    def channel_waiting_since(self, channel: str) -> datetime | None:
        """When the oldest alert ``channel`` owes was queued (None: it owes none); see :meth:`channel_backlog`."""
        return parse_iso(self._one(f"SELECT min(alerts.created) {_OWED_ON_CHANNEL}", {"channel": channel}))

    def email_waiting_since(self, *, digest: bool) -> datetime | None:
        """Since when e-mail has owed its oldest alert (None: it owes none). In ``digest`` mode an alert waits for the
        digest by design: it is owed from when a digest gathered it."""
        if digest:
            return parse_iso(self._one("SELECT min(digests.created) FROM alerts JOIN digests ON digests.id ="
                                       " alerts.digest_id WHERE alerts.sent IS NULL"))
        return parse_iso(self._one("SELECT min(created) FROM alerts WHERE sent IS NULL"))

    def queued_alert_count(self) -> int:
        return int(self._one("SELECT count(*) FROM alerts WHERE sent IS NULL"))

    def email_backlog(self) -> tuple[int, str | None]:
        """How many alerts e-mail has not sent, and the latest error of those it tried, as :meth:`channel_backlog`."""
        waiting = self.queued_alert_count()
        error = self._one("SELECT last_error FROM alerts WHERE sent IS NULL AND last_error IS NOT NULL"
                          " ORDER BY id DESC LIMIT 1") if waiting else None
        return waiting, error

    def oldest_undigested(self) -> datetime | None:
        """When the oldest unsent alert that no digest has taken yet was queued (None: there is none)."""
        return parse_iso(self._one("SELECT min(created) FROM alerts WHERE sent IS NULL AND digest_id IS NULL"))

    def gather_digest(
        self, created: datetime, domain: str = DEFAULT_MESSAGE_DOMAIN, alert_ids: Sequence[int] | None = None
    ) -> int | None:
        """Put every unsent alert that no digest has taken (of ``alert_ids``, when given) into a new digest; its id,
        or None if none waits."""
        waiting = "sent IS NULL AND digest_id IS NULL"
        if alert_ids is not None:
            waiting += f" AND id IN ({','.join(str(int(alert_id)) for alert_id in alert_ids) or 'NULL'})"
        with self.transaction():
            count = int(self._one(f"SELECT count(*) FROM alerts WHERE {waiting}"))
            if not count:
                return None
            digest_id, _ = self._new_digest(created, domain, count)
            self.db.execute(f"UPDATE alerts SET digest_id = ? WHERE {waiting}", [digest_id])
        return digest_id

    def split_digest(
        self, alert_ids: Sequence[int], created: datetime, domain: str = DEFAULT_MESSAGE_DOMAIN
    ) -> list[tuple[str, list[int]]]:
        """Move ``alert_ids`` (of a refused digest, claimed) into two new digests of half each: their Message-IDs and
        alert ids. Each is a message of its own from now on, retried as itself."""
        ordered = sorted(alert_ids)
        halves = [ordered[: (len(ordered) + 1) // 2], ordered[(len(ordered) + 1) // 2 :]]
        digests: list[tuple[str, list[int]]] = []
        with self.transaction():
            for half in filter(None, halves):
                digest_id, message_id = self._new_digest(created, domain, len(half))
                self.db.conn.executemany("UPDATE alerts SET digest_id = ? WHERE id = ?",
                                         [(digest_id, alert_id) for alert_id in half])
                digests.append((message_id, half))
        return digests

    def _new_digest(self, created: datetime, domain: str, count: int) -> tuple[int, str]:
        """A new digest row (within the caller's transaction): its id and Message-ID."""
        cursor = self.db.execute(
            "INSERT INTO digests (created, message_id, alert_count) VALUES (?, '', ?)", [iso(created), count]
        )
        digest_id = int(cursor.lastrowid or 0)
        message_id = f"<digest-{digest_id}.{created:%Y%m%d%H%M%S}@{domain}>"
        self.db.execute("UPDATE digests SET message_id = ? WHERE id = ?", [message_id, digest_id])
        return digest_id, message_id

    def due_digests(self, now: datetime) -> list[tuple[str, list[int]]]:
        """(Message-ID, unsent alert ids) of each digest whose (re)try time has come, oldest first."""
        batches: dict[str, list[int]] = {}
        for message_id, alert_id in self.db.execute(
            "SELECT digests.message_id, alerts.id FROM alerts JOIN digests ON digests.id = alerts.digest_id"
            " WHERE alerts.sent IS NULL AND (alerts.next_attempt IS NULL OR alerts.next_attempt <= ?)"
            " ORDER BY digests.id, alerts.id",
            [iso(now)],
        ):
            batches.setdefault(message_id, []).append(alert_id)
        return list(batches.items())
