"""The archive: every SQL statement of monitor lives in this package.

One :class:`Archive` wraps one sqlite-utils ``Database`` in WAL mode with a busy
timeout, so Datasette or the ``sqlite-utils`` CLI can read while the daemon
writes. Rows that must land together (article, urls, story, mentions, alert)
are written inside :meth:`Archive.transaction`.

An archive opened ``read_only`` (``status``, ``search``, ``rules test``) is an SQLite
``mode=ro`` connection: it never creates, migrates or writes the file. Every
``sqlite3`` error that leaves an ``Archive`` (its opening, or the ``with`` block around
its use) becomes an :class:`~monitor.errors.ArchiveError` saying what to do, since an
operator meets a damaged file, a full disk or a read-only mount first as that error.
"""

from __future__ import annotations

import json
import shlex
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from monitor.config import SourceSettings
from monitor.errors import ArchiveError
from monitor.models import AlertContent, AlertCopy, Article, Mention
from monitor.store.schema import MIGRATIONS, migrate

BUSY_TIMEOUT_MS = 10_000
MAX_BOUND_VALUES = 999  # SQLite's limit on ? in one statement before 3.32 (32,766 since)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 UTC text, the archive's one time format (sorts as text)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class SourceState:
    name: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    failures: int
    next_due: datetime | None
    last_checked: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class Heartbeat:
    pid: int
    beat: datetime
    every: int  # seconds between two beats


@dataclass(frozen=True)
class Candidate:
    """A stored article whose MinHash shares a band with a new text."""

    article_id: int
    story_id: int
    signature: bytes
    shingles: int


@dataclass(frozen=True)
class StoredMention:
    article_id: int
    title: str
    site: str
    url: str
    rule: str
    passage: str
    terms: tuple[str, ...]
    new: bool
    found: str


def archive_error(exc: sqlite3.Error, path: Path) -> ArchiveError:
    """The one line an operator needs for an SQLite error of the archive at ``path``: what happened, what to do."""
    # The primary code; errors raised by Python's module itself (a closed connection) carry none.
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    quoted = shlex.quote(str(path))
    recovered = shlex.quote(f"{path}.recovered")
    messages = {
        sqlite3.SQLITE_NOTADB: f"{path} is not a monitor archive (not an SQLite database): check --db or"
        " 'database' in the config",
        sqlite3.SQLITE_CORRUPT: f"{path} is damaged ({exc}): stop monitor, recover what is readable with"
        f" `sqlite3 {quoted} .recover | sqlite3 {recovered}`, then move {recovered} in its place",
        sqlite3.SQLITE_FULL: f"the disk holding {path} is full: free some space and run monitor again"
        " (the write that failed was rolled back)",
        sqlite3.SQLITE_READONLY: f"{path} is read-only here: give the user running monitor write access to the"
        " file, its -wal and -shm files and its folder",
        sqlite3.SQLITE_CANTOPEN: f"cannot open {path}: check that its folder exists and that the user running"
        " monitor may read it (and write it, for run, once and demo)",
        sqlite3.SQLITE_PERM: f"no permission to use {path}: check the file's and its folder's owner and mode",
        sqlite3.SQLITE_IOERR: f"disk I/O error on {path} ({exc}): check the disk, its free space and the"
        " system log",
        sqlite3.SQLITE_BUSY: f"{path} stayed locked by another process ({exc}): is a long query or another"
        " writer holding it?",
    }
    return ArchiveError(str(path), messages.get(code, f"{path}: SQLite error: {exc}"))


def make_folder(path: Path) -> None:
    """Create the folder of the archive at ``path``, or raise the one line that says why it cannot be."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchiveError(str(path), f"cannot create the archive's folder {path.parent}: {exc.strerror or exc}") from exc


class Archive:
    def __init__(self, path: str | Path, *, busy_timeout_ms: int | None = None, read_only: bool = False) -> None:
        """Open the archive at ``path``; raise :class:`ArchiveError` when that fails.

        ``busy_timeout_ms``: how long a statement waits for another connection's lock (None: BUSY_TIMEOUT_MS).
        ``read_only``: never create, migrate or write the file (it must exist, at the current schema).
        """
        self.path = Path(path)
        self.read_only = read_only
        try:
            self.db = self._open_read_only() if read_only else self._open_for_writing()
        except sqlite3.Error as exc:
            raise archive_error(exc, self.path) from exc
        try:
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS if busy_timeout_ms is None else busy_timeout_ms}")
            if read_only:
                self.version = self._current_version()
            else:
                self.db.enable_wal()
                self.db.execute("PRAGMA synchronous = NORMAL")
                self.db.execute("PRAGMA foreign_keys = ON")
                self.version = migrate(self.db)
        except BaseException as exc:
            self.db.close()
            if isinstance(exc, sqlite3.Error):
                raise archive_error(exc, self.path) from exc
            raise

    def _open_for_writing(self) -> sqlite_utils.Database:
        make_folder(self.path)
        return sqlite_utils.Database(self.path)

    def _open_read_only(self) -> sqlite_utils.Database:
        if not self.path.is_file():
            raise ArchiveError(
                str(self.path),
                f"no archive at {self.path}: check --db or 'database' in the config (monitor once or monitor run"
                " creates it)",
            )
        uri = self.path.resolve().as_uri() + "?mode=ro"
        return sqlite_utils.Database(sqlite3.connect(uri, uri=True))

    def _current_version(self) -> int:
        """The schema version of a read-only archive, which must be this monitor's: it cannot migrate."""
        version = int(self._one("PRAGMA user_version"))
        if version < len(MIGRATIONS):
            raise ArchiveError(str(self.path), f"{self.path} has an older schema: run monitor once to upgrade it")
        if version > len(MIGRATIONS):
            raise ArchiveError(str(self.path), f"{self.path} was written by a newer monitor: upgrade monitor")
        return version

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        """Close; an SQLite error of the block leaves as an :class:`ArchiveError` (the cause chained)."""
        self.close()
        if isinstance(exc, sqlite3.Error):
            raise archive_error(exc, self.path) from exc

    @contextmanager
    def transaction(self) -> Iterator[Archive]:
        """All or nothing: a transaction, or within one a savepoint.

        The transaction takes the write lock as it begins (``BEGIN IMMEDIATE``): one that
        reads first and writes later would fail at once, busy timeout or not, if another
        process wrote in between, as the processes of ``monitor once --processes`` do.
        Taking the lock first also makes reads and writes inside see one state of the archive.

        sqlite-utils' ``atomic`` names every savepoint afresh, so SQLite compiles its
        statements anew each time. Savepoints nest by name, so one fixed name serves and its
        statements stay compiled: the archive writer takes one for every article.
        """
        conn = self.db.conn
        if not conn.in_transaction:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield self
                conn.execute("COMMIT")
            except BaseException:
                conn.rollback()  # a no-op when an error already ended the transaction
                raise
            return
        conn.execute("SAVEPOINT archive")
        try:
            yield self
        except BaseException:
            if conn.in_transaction:  # an error may have ended the whole transaction already
                conn.execute("ROLLBACK TO archive")
                conn.execute("RELEASE archive")
            raise
        conn.execute("RELEASE archive")

    def _one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        row = self.db.execute(sql, params).fetchone()
        return row[0] if row else None

    def _insert_rows(self, insert: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """``insert`` (``INSERT ... INTO table (columns)``) of many rows in as few statements as may be.

        ``executemany`` steps once per row, and each step gives up the GIL and takes it back:
        in the archive writer's thread every take-back may wait for the busy event loop. A
        statement binds at most 999 values, the least limit of any SQLite build.
        """
        if not rows:
            return
        width = len(rows[0])
        per_statement = MAX_BOUND_VALUES // width
        marks = "(" + ",".join("?" * width) + ")"
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            self.db.execute(f"{insert} VALUES {','.join([marks] * len(chunk))}", [v for row in chunk for v in row])

    # ------------------------------------------------------------ sources

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

    # ------------------------------------------------------------ urls and articles

    def _urls_where(self, urls: Sequence[str], sql: str, *params: object) -> set[str]:
        """Those of ``urls`` that ``sql`` (with ``{marks}`` for the list) selects, 500 at a time."""
        found: set[str] = set()
        for start in range(0, len(urls), 500):
            chunk = list(urls[start : start + 500])
            marks = ",".join("?" * len(chunk))
            found.update(row[0] for row in self.db.execute(sql.format(marks=marks), [*chunk, *params]))
        return found

    def known_urls(self, urls: Sequence[str]) -> set[str]:
        return self._urls_where(urls, "SELECT url FROM article_urls WHERE url IN ({marks})")

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

    def add_urls(self, article_id: int, urls: Iterable[str]) -> None:
        self._insert_rows("INSERT OR IGNORE INTO article_urls (url, article_id)", [(url, article_id) for url in urls])

    def article_with_hash(self, text_hash: str) -> int | None:
        found = self._one("SELECT id FROM articles WHERE text_hash = ?", [text_hash])
        return None if found is None else int(found)

    def near_candidates(self, band_keys: Sequence[int], per_band: int = 200) -> list[Candidate]:
        """Stored articles sharing an LSH band with a new text: the newest ``per_band`` of each band.

        A band shared by thousands of articles comes from boilerplate, not from
        a story, and copies of a wire story arrive within days of each other,
        so capping each band keeps the lookup's cost flat as the archive grows.
        """
        if not band_keys:
            return []
        band = "SELECT * FROM (SELECT article_id FROM article_bands WHERE band_key = ? ORDER BY article_id DESC LIMIT ?)"
        rows = self.db.execute(
            "SELECT articles.id, articles.story_id, article_signatures.signature, article_signatures.shingles"
            " FROM articles JOIN article_signatures ON article_signatures.article_id = articles.id"
            f" WHERE articles.id IN ({' UNION '.join([band] * len(band_keys))})",
            [value for key in band_keys for value in (key, per_band)],
        )
        return [Candidate(row[0], row[1], row[2], row[3]) for row in rows]

    def new_story(self, title: str, first_seen: datetime) -> int:
        cursor = self.db.execute("INSERT INTO stories (title, first_seen) VALUES (?, ?)", [title, iso(first_seen)])
        return int(cursor.lastrowid or 0)

    def insert_article(
        self,
        article: Article,
        *,
        story_id: int,
        text_hash: str,
        word_count: int,
        signature: bytes,
        shingles: int,
        band_keys: Sequence[int],
    ) -> int:
        cursor = self.db.execute(
            "INSERT INTO articles (url, site, title, byline, published, fetched, text, story_id, source,"
            " language, text_hash, word_count, outlet) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                article.url, article.site, article.title, article.byline, iso(article.published),
                iso(article.fetched), article.text, story_id, article.source, article.language,
                text_hash, word_count, article.outlet,
            ],
        )
        article_id = int(cursor.lastrowid or 0)
        self.add_urls(article_id, (article.url, *article.aliases))
        self.db.execute(
            "INSERT INTO article_signatures (article_id, shingles, signature) VALUES (?, ?, ?)",
            [article_id, shingles, signature],
        )
        self._insert_rows(
            "INSERT OR IGNORE INTO article_bands (band_key, article_id)", [(key, article_id) for key in band_keys]
        )
        self.db.execute(
            "UPDATE stories SET article_count = (SELECT count(*) FROM articles WHERE story_id = :s),"
            " outlet_count = (SELECT count(DISTINCT site) FROM articles WHERE story_id = :s) WHERE id = :s",
            {"s": story_id},
        )
        return article_id

    # ------------------------------------------------------------ mentions

    def passages_with_keys(self, rule: str, keys: Sequence[str]) -> list[str]:
        """Earlier passages of ``rule`` that share a fingerprint key with a new one."""
        if not keys:
            return []
        marks = ",".join("?" * len(keys))
        return [
            row[0]
            for row in self.db.execute(
                "SELECT DISTINCT mentions.passage FROM passage_keys JOIN mentions ON mentions.id = passage_keys.mention_id"
                f" WHERE passage_keys.rule = ? AND passage_keys.key IN ({marks})",
                [rule, *keys],
            )
        ]

    def insert_mention(self, article_id: int, mention: Mention, found: datetime, keys: Sequence[str]) -> int:
        cursor = self.db.execute(
            "INSERT INTO mentions (article_id, rule, passage, terms, new, found) VALUES (?, ?, ?, ?, ?, ?)",
            [article_id, mention.rule, mention.passage, json.dumps(list(mention.terms), ensure_ascii=False),
             int(mention.new), iso(found)],
        )
        mention_id = int(cursor.lastrowid or 0)
        self._insert_rows(
            "INSERT OR IGNORE INTO passage_keys (rule, key, mention_id)",
            [(mention.rule, key, mention_id) for key in keys],
        )
        return mention_id

    def mentions(self, *, rule: str | None = None, since: datetime | None = None) -> list[StoredMention]:
        rows = self.db.execute(
            "SELECT mentions.article_id, articles.title, articles.site, articles.url, mentions.rule,"
            " mentions.passage, mentions.terms, mentions.new, mentions.found"
            " FROM mentions JOIN articles ON articles.id = mentions.article_id"
            " WHERE (:rule IS NULL OR mentions.rule = :rule) AND (:since IS NULL OR mentions.found >= :since)"
            " ORDER BY mentions.id",
            {"rule": rule, "since": iso(since)},
        )
        return [
            StoredMention(r[0], r[1], r[2], r[3], r[4], r[5], tuple(json.loads(r[6])), bool(r[7]), r[8])
            for r in rows
        ]

    def articles(self, *, since: datetime | None = None) -> Iterator[tuple[int, str, str]]:
        """(id, title, text) of stored articles in the order they were stored."""
        yield from self.db.execute(
            "SELECT id, title, text FROM articles WHERE (:since IS NULL OR fetched >= :since) ORDER BY id",
            {"since": iso(since)},
        )

    # ------------------------------------------------------------ alerts (the outbox)
    #
    # An alert's life: queued (in the ingest transaction) -> claimed for an attempt
    # (attempts + 1, held until next_attempt) -> sent, or failed (last_error, a later
    # next_attempt) and claimed again when that time comes. In digest mode the
    # alerts waiting at a digest time are first gathered into a `digests` row whose
    # Message-ID they then share. Nothing ever deletes an alert.

    def queue_alert(self, story_id: int, mention_ids: Sequence[int], created: datetime) -> int:
        """Attach new mentions to the story's open alert, or queue a new one.

        An alert is open while no delivery was tried and no digest took it:
        copies of a story found before then fold into that one message. After a
        try its content is fixed (a retry must repeat the very message the server
        may already have accepted), so later passages start a follow-up alert,
        held as long as the earlier one so that it never arrives first.
        """
        alert_id = self._one(
            "SELECT id FROM alerts WHERE story_id = ? AND sent IS NULL AND attempts = 0 AND digest_id IS NULL"
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
                [f"<alert-{alert_id}.story-{story_id}.{created:%Y%m%d%H%M%S}@monitor>", alert_id],
            )
        self._insert_rows(
            "INSERT OR IGNORE INTO alert_mentions (alert_id, mention_id)",
            [(alert_id, mention_id) for mention_id in mention_ids],
        )
        return int(alert_id)

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

    def claim_alerts(self, alert_ids: Sequence[int], now: datetime, hold_until: datetime) -> dict[int, int]:
        """Start a delivery attempt: of ``alert_ids``, those still unsent and due, with their attempt count.

        The claim is committed before anything is sent. It counts the attempt,
        fixes the alert's content (see :meth:`queue_alert`) and holds the alert
        until ``hold_until``, so a second deliverer (``monitor once`` beside the
        daemon) skips it, and a deliverer killed after the server accepted the
        message leaves it due again then: the one repeat at-least-once allows.
        """
        if not alert_ids:
            return {}
        marks = ",".join("?" * len(alert_ids))
        with self.transaction():
            rows = self.db.execute(
                f"UPDATE alerts SET attempts = attempts + 1, next_attempt = ?, outage = 0 WHERE id IN ({marks})"
                " AND sent IS NULL AND (next_attempt IS NULL OR next_attempt <= ?) RETURNING id, attempts",
                [iso(hold_until), *alert_ids, iso(now)],
            ).fetchall()
        return {alert_id: attempts for alert_id, attempts in rows}

    def alert_content(self, alert_id: int) -> AlertContent:
        story_id, message_id, created, follow_up = self.db.execute(
            "SELECT story_id, message_id, created, follow_up FROM alerts WHERE id = ?", [alert_id]
        ).fetchone()
        headline = self._one("SELECT title FROM stories WHERE id = ?", [story_id])
        mentions = tuple(
            Mention(rule, passage, tuple(json.loads(terms)), bool(new))
            for rule, passage, terms, new in self.db.execute(
                "SELECT mentions.rule, mentions.passage, mentions.terms, mentions.new FROM alert_mentions"
                " JOIN mentions ON mentions.id = alert_mentions.mention_id WHERE alert_mentions.alert_id = ?"
                " ORDER BY mentions.id",
                [alert_id],
            )
        )
        copies = tuple(
            AlertCopy(title, site, url, parse_iso(published), outlet)
            for title, site, url, published, outlet in self.db.execute(
                "SELECT title, site, url, published, outlet FROM articles WHERE story_id = ? ORDER BY fetched, id",
                [story_id],
            )
        )
        rules = tuple(dict.fromkeys(m.rule for m in mentions))
        return AlertContent(
            alert_id, story_id, message_id, headline, parse_iso(created) or datetime.now(UTC),
            bool(follow_up), rules, mentions, copies,
        )

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
        """Record a failed attempt (counted by :meth:`claim_alerts`) and when to try again.

        ``outage``: the server could not be reached, so :meth:`release_after_outage` may bring the retry forward.
        """
        with self.transaction():
            self.db.conn.executemany(
                "UPDATE alerts SET last_error = ?, next_attempt = ?, outage = ? WHERE id = ?",
                [(error, iso(next_attempt), int(outage), alert_id) for alert_id in alert_ids],
            )

    def release_after_outage(self, now: datetime) -> int:
        """Make due now every unsent alert that waits out a backoff only because the server was down.

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

    def alert_attempts(self, alert_id: int) -> int:
        return int(self._one("SELECT attempts FROM alerts WHERE id = ?", [alert_id]))

    def queued_alert_count(self) -> int:
        return int(self._one("SELECT count(*) FROM alerts WHERE sent IS NULL"))

    def oldest_undigested(self) -> datetime | None:
        """When the oldest unsent alert that no digest has taken yet was queued (None: there is none)."""
        return parse_iso(self._one("SELECT min(created) FROM alerts WHERE sent IS NULL AND digest_id IS NULL"))

    def gather_digest(self, created: datetime) -> int | None:
        """Put every unsent alert that no digest has taken into a new digest; its id, or None if none waits."""
        with self.transaction():
            count = int(self._one("SELECT count(*) FROM alerts WHERE sent IS NULL AND digest_id IS NULL"))
            if not count:
                return None
            cursor = self.db.execute(
                "INSERT INTO digests (created, message_id, alert_count) VALUES (?, '', ?)", [iso(created), count]
            )
            digest_id = int(cursor.lastrowid or 0)
            self.db.execute(
                "UPDATE digests SET message_id = ? WHERE id = ?",
                [f"<digest-{digest_id}.{created:%Y%m%d%H%M%S}@monitor>", digest_id],
            )
            self.db.execute(
                "UPDATE alerts SET digest_id = ? WHERE sent IS NULL AND digest_id IS NULL", [digest_id]
            )
        return digest_id

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

    # ------------------------------------------------------------ the daemon's heartbeat

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

    # ------------------------------------------------------------ reading

    def search(self, query: str, limit: int = 20) -> list[dict[str, Any]]:
        return list(
            self.db.table("articles").search(
                query, columns=["id", "title", "site", "url", "published", "story_id"], limit=limit
            )
        )

    def counts(self) -> dict[str, int]:
        return {name: self.db[name].count for name in ("articles", "stories", "mentions", "alerts")}
