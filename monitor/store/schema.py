"""The archive's schema, as numbered migrations.

``PRAGMA user_version`` holds the number of migrations applied, so opening an
older database upgrades it in place and opening a current one changes nothing.
Tables and columns are named for people who read the archive with
``sqlite-utils`` or Datasette: the names in docs/archive.md are the contract.
"""

from __future__ import annotations

import re

from collections.abc import Callable

import sqlite_utils

from monitor.dedup import passage_keys

Migration = Callable[[sqlite_utils.Database], None]


def _create_core_tables(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE sources (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            url TEXT NOT NULL,
            etag TEXT,
            last_modified TEXT,
            body_hash TEXT,               -- ETags lie: an unchanged body hash also means "not modified"
            last_checked TEXT,
            last_success TEXT,
            last_error TEXT,              -- NULL when the last check succeeded
            failures INTEGER NOT NULL DEFAULT 0,   -- consecutive
            next_due TEXT,                -- earliest next check (backoff after failures)
            articles_found INTEGER NOT NULL DEFAULT 0
        )"""
    )
    db.execute(
        """
        CREATE TABLE stories (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            article_count INTEGER NOT NULL DEFAULT 0,
            outlet_count INTEGER NOT NULL DEFAULT 0
        )"""
    )
    db.execute(
        """
        CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,     -- canonical
            site TEXT NOT NULL,
            title TEXT NOT NULL,
            byline TEXT,
            published TEXT,
            fetched TEXT NOT NULL,
            text TEXT NOT NULL,
            story_id INTEGER NOT NULL REFERENCES stories(id),
            source TEXT,
            language TEXT,
            text_hash TEXT NOT NULL UNIQUE,   -- exact-duplicate key (normalised text)
            word_count INTEGER NOT NULL
        )"""
    )
    db.execute("CREATE INDEX articles_story ON articles(story_id)")
    db.execute("CREATE INDEX articles_published ON articles(published)")
    db.execute(
        """
        CREATE TABLE article_urls (
            url TEXT PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles(id)
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX article_urls_article ON article_urls(article_id)")
    db.execute(
        """
        CREATE TABLE article_signatures (
            article_id INTEGER PRIMARY KEY REFERENCES articles(id),
            shingles INTEGER NOT NULL,    -- distinct shingles, for containment estimates
            signature BLOB NOT NULL       -- MinHash values, little-endian uint32
        )"""
    )
    db.execute(
        """
        CREATE TABLE article_bands (
            band_key INTEGER NOT NULL,    -- hash of (band number, band values)
            article_id INTEGER NOT NULL REFERENCES articles(id),
            PRIMARY KEY (band_key, article_id)
        ) WITHOUT ROWID"""
    )
    db.execute(
        """
        CREATE TABLE mentions (
            id INTEGER PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles(id),
            rule TEXT NOT NULL,
            passage TEXT NOT NULL,
            terms TEXT NOT NULL,          -- JSON list of the terms that matched
            new INTEGER NOT NULL,         -- 1 = no earlier article had this passage (or a near copy) for this rule
            found TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX mentions_article ON mentions(article_id)")
    db.execute("CREATE INDEX mentions_rule_found ON mentions(rule, found)")
    db.execute(
        """
        CREATE TABLE passage_keys (
            rule TEXT NOT NULL,
            key TEXT NOT NULL,            -- fingerprint of a normalised passage (exact or near-copy band)
            mention_id INTEGER NOT NULL REFERENCES mentions(id),
            PRIMARY KEY (rule, key, mention_id)
        ) WITHOUT ROWID"""
    )
    db.execute(
        """
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            story_id INTEGER NOT NULL REFERENCES stories(id),
            created TEXT NOT NULL,
            sent TEXT,                    -- when the SMTP server accepted it; NULL until then
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            message_id TEXT NOT NULL UNIQUE,  -- stable across retries
            next_attempt TEXT,            -- no delivery before this time (backoff)
            follow_up INTEGER NOT NULL DEFAULT 0  -- 1 = an earlier alert covered this story
        )"""
    )
    db.execute("CREATE INDEX alerts_unsent ON alerts(sent, next_attempt)")
    db.execute(
        """
        CREATE TABLE alert_mentions (
            alert_id INTEGER NOT NULL REFERENCES alerts(id),
            mention_id INTEGER NOT NULL REFERENCES mentions(id),
            PRIMARY KEY (alert_id, mention_id)
        ) WITHOUT ROWID"""
    )
    db.table("articles").enable_fts(["title", "text"], create_triggers=True, tokenize="unicode61 remove_diacritics 2")


def _create_views(db: sqlite_utils.Database) -> None:
    db.create_view(
        "new_mentions",
        """
        SELECT mentions.found, mentions.rule, mentions.passage, articles.title,
               articles.site, articles.url, articles.published, articles.story_id
        FROM mentions JOIN articles ON articles.id = mentions.article_id
        WHERE mentions.new = 1
        ORDER BY mentions.found DESC, mentions.id DESC""",
    )
    db.create_view(
        "story_outlets",
        """
        SELECT stories.id AS story_id, stories.title AS story, stories.first_seen,
               stories.article_count, stories.outlet_count,
               articles.site, articles.title, articles.url, articles.published
        FROM stories JOIN articles ON articles.story_id = stories.id
        ORDER BY stories.first_seen DESC, articles.fetched""",
    )
    db.create_view(
        "alert_queue",
        """
        SELECT alerts.id, alerts.created, alerts.sent, alerts.attempts, alerts.last_error,
               alerts.follow_up, stories.title AS story, stories.outlet_count
        FROM alerts JOIN stories ON stories.id = alerts.story_id
        ORDER BY alerts.created DESC""",
    )


def _add_digests(db: sqlite_utils.Database) -> None:
    """Digest mode: which alerts went out together, under one Message-ID kept across retries."""
    db.execute(
        """
        CREATE TABLE digests (
            id INTEGER PRIMARY KEY,
            created TEXT NOT NULL,        -- when the digest run gathered its alerts
            message_id TEXT NOT NULL UNIQUE,  -- stable across retries of this digest
            alert_count INTEGER NOT NULL
        )"""
    )
    # NULL: the alert is (or will be) sent on its own, as in instant mode.
    db.execute("ALTER TABLE alerts ADD COLUMN digest_id INTEGER REFERENCES digests(id)")
    db.execute("CREATE INDEX alerts_digest ON alerts(digest_id)")


def _add_failed_urls(db: sqlite_utils.Database) -> None:
    """Article links that could not be stored, so a refusal is not fetched again every check."""
    db.execute(
        """
        CREATE TABLE failed_urls (
            url TEXT PRIMARY KEY,         -- canonical
            source TEXT NOT NULL,
            error TEXT NOT NULL,
            retry INTEGER NOT NULL,       -- 1 = worth retrying (5xx, 429, time-out), 0 = refused for good
            attempts INTEGER NOT NULL,
            first_failed TEXT NOT NULL,
            last_failed TEXT NOT NULL
        ) WITHOUT ROWID"""
    )


def _add_alert_outage(db: sqlite_utils.Database) -> None:
    """Which alerts wait only because the server could not be reached: they go as soon as it answers."""
    # 1 = the last try failed because the SMTP server was down or unreachable; a claim resets it.
    db.execute("ALTER TABLE alerts ADD COLUMN outage INTEGER NOT NULL DEFAULT 0")


def _add_heartbeat(db: sqlite_utils.Database) -> None:
    """The daemon's heartbeat, one row, so that ``monitor status --check`` can tell a hung scheduler."""
    db.execute(
        """
        CREATE TABLE heartbeat (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            pid INTEGER NOT NULL,         -- of the daemon that beat last
            beat TEXT NOT NULL,           -- when it last did
            every INTEGER NOT NULL        -- seconds between two beats
        )"""
    )


def _add_channels(db: sqlite_utils.Database) -> None:
    """Alert channels besides e-mail (Apprise URLs), and each alert's delivery on each of them."""
    db.execute(
        """
        CREATE TABLE channels (
            name TEXT PRIMARY KEY,        -- as in config.toml's [[channels]]
            first_seen TEXT NOT NULL      -- alerts queued since then are delivered on it
        )
        """
    )
    db.execute(
        """
        CREATE TABLE channel_deliveries (
            alert_id INTEGER NOT NULL REFERENCES alerts(id),
            channel TEXT NOT NULL REFERENCES channels(name),
            sent TEXT,                    -- when the service accepted it; NULL: not yet
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt TEXT,            -- when to try again after a failure
            held_until TEXT,              -- a claim: another deliverer leaves it alone until then
            last_error TEXT,
            PRIMARY KEY (alert_id, channel)
        )
        """
    )


def _add_outlet(db: sqlite_utils.Database) -> None:
    """The outlet's name as its pages give it, so that alerts can name outlets rather than hosts."""
    # NULL when the page names no outlet (no og:site_name, no JSON-LD publisher) and for older rows.
    db.execute("ALTER TABLE articles ADD COLUMN outlet TEXT")


def _add_source_checks(db: sqlite_utils.Database) -> None:
    """Each source's recent checks, which adaptive polling learns the source's rhythm from and
    source health judges its yield by; and the source's health as last notified."""
    db.execute(
        """
        CREATE TABLE source_checks (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            checked TEXT NOT NULL,
            ok INTEGER NOT NULL,          -- 1 = the check succeeded (unchanged counts as a success)
            changed INTEGER NOT NULL,     -- 1 = the source's body changed since the last check
            links INTEGER NOT NULL,       -- article links the source listed (changed checks only)
            new_links INTEGER NOT NULL,   -- of them, links the archive did not know yet
            extracted INTEGER NOT NULL,   -- article pages extracted
            text_chars INTEGER NOT NULL,  -- characters of text those extractions gave, in all
            stored INTEGER NOT NULL       -- articles stored
        )"""
    )
    db.execute("CREATE INDEX source_checks_source ON source_checks(source, checked)")
    # Seconds until the next check, as adaptive polling (or the fixed interval) decided it last.
    db.execute("ALTER TABLE sources ADD COLUMN interval INTEGER")
    # NULL = healthy; else what is wrong, as the operators were told (a notice when it changes).
    db.execute("ALTER TABLE sources ADD COLUMN health TEXT")


def _rekey_passages(db: sqlite_utils.Database) -> None:
    """The stored passages' lookup keys again: novelty and the rules now cut sentences alike
    (:mod:`monitor.sentences`), and keys are made per sentence, so old keys would miss."""
    mentions = db.execute("SELECT id, rule, passage FROM mentions").fetchall()
    db.execute("DELETE FROM passage_keys")
    db.conn.executemany(
        "INSERT OR IGNORE INTO passage_keys (rule, key, mention_id) VALUES (?, ?, ?)",
        [(rule, key, mention_id) for mention_id, rule, passage in mentions for key in passage_keys(passage)],
    )


def _key_new_passages_only(db: sqlite_utils.Database) -> None:
    """Novelty is judged against the passages alerted as new alone (see :func:`monitor.ingest.novelty`): the keys
    of those judged seen go."""
    db.execute("DELETE FROM passage_keys WHERE mention_id IN (SELECT id FROM mentions WHERE new = 0)")


def _add_url_reads(db: sqlite_utils.Database) -> None:
    """When each source last read the page at a URL, and how many reads in a row found no news there: a page its
    listing says changed after that read (a story written in place) is read again, each wait longer than the last
    while it finds nothing. Rows from before count as read when their article was fetched."""
    urls = db.table("article_urls")
    if "last_read" not in urls.columns_dict:  # an archive set back by hand to replay its migrations has them
        urls.add_column("last_read", str)  # NULL: when its article was fetched
        urls.add_column("rereads", int, not_null_default=0)


def _add_notices(db: sqlite_utils.Database) -> None:
    """Operator notices (a source broke or recovered), queued with the health change that causes them, so a
    notice whose delivery fails is retried instead of lost; and each one's delivery on each target."""
    db.execute(
        """
        CREATE TABLE notices (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            problem TEXT,                 -- what is wrong now; NULL: the source recovered
            previous TEXT,                -- what was wrong before; NULL: it was healthy
            created TEXT NOT NULL,
            done TEXT                     -- when every target configured then had it; NULL: still due
        )"""
    )
    db.execute("CREATE INDEX notices_due ON notices(done)")
    db.execute(
        """
        CREATE TABLE notice_deliveries (
            notice_id INTEGER NOT NULL REFERENCES notices(id),
            target TEXT NOT NULL,         -- 'email' (the operators), 'channel:' and a channel's name, or 'log'
            sent TEXT,                    -- when the target accepted it; NULL: not yet
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt TEXT,            -- when to try again after a failure
            held_until TEXT,              -- a claim: another deliverer leaves it alone until then
            last_error TEXT,
            PRIMARY KEY (notice_id, target)
        ) WITHOUT ROWID"""
    )


def _key_failed_urls_by_source(db: sqlite_utils.Database) -> None:
    """A link's failures are its source's: any feed may list another site's links, and one listing a site's next
    article numbers before they were published (404) had them refused for good for the site's own feed."""
    db.execute("ALTER TABLE failed_urls RENAME TO failed_urls_by_url")
    db.execute(
        """
        CREATE TABLE failed_urls (
            url TEXT NOT NULL,            -- canonical
            source TEXT NOT NULL,         -- the source that listed it: another source listing it tries it anew
            error TEXT NOT NULL,
            retry INTEGER NOT NULL,       -- 1 = worth retrying (5xx, time-out), 0 = refused for good
            attempts INTEGER NOT NULL,
            first_failed TEXT NOT NULL,
            last_failed TEXT NOT NULL,
            PRIMARY KEY (url, source)
        ) WITHOUT ROWID"""
    )
    db.execute("INSERT INTO failed_urls SELECT url, source, error, retry, attempts, first_failed, last_failed"
               " FROM failed_urls_by_url")
    db.execute("DROP TABLE failed_urls_by_url")


def _key_article_urls_by_source(db: sqlite_utils.Database) -> None:
    """A URL is known to the sources whose links led to it: a feed listing another outlet's next URL before it was
    published had the outlet's home page (a redirect) or its "not found" page stored under it, and the outlet's own
    story there skipped as known. A URL may then lead two sources to two articles, so ``articles.url`` is no longer
    unique. Rows from before are their article's source's (the one that stored it), the only one recorded."""
    db.execute("ALTER TABLE article_urls RENAME TO article_urls_by_url")
    db.execute(
        """
        CREATE TABLE article_urls (
            url TEXT NOT NULL,
            source TEXT NOT NULL,         -- the source whose link led to it: another source listing it fetches it anew
            article_id INTEGER NOT NULL REFERENCES articles(id),
            PRIMARY KEY (url, source)
        ) WITHOUT ROWID"""
    )
    db.execute("INSERT INTO article_urls SELECT article_urls_by_url.url, coalesce(articles.source, ''), article_id"
               " FROM article_urls_by_url JOIN articles ON articles.id = article_id")
    db.execute("DROP TABLE article_urls_by_url")
    db.execute("CREATE INDEX article_urls_article ON article_urls(article_id)")
    # articles again, without UNIQUE on url (SQLite cannot drop a constraint), from its own SQL so that every column
    # comes back as it was: the views that read it go first, its indexes and full-text triggers come back as they
    # were, its ids are kept (the full-text index is by them). An archive whose url is no longer UNIQUE (one set back
    # by hand to replay its migrations) keeps its table.
    (table,) = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'articles'").fetchone()
    rebuilt, changed = re.subn(r"\burl TEXT NOT NULL UNIQUE,\s*--[^\n]*",
                               "url TEXT NOT NULL,            -- canonical; two articles share one when the page there"
                               " changed", table.replace("CREATE TABLE articles", "CREATE TABLE articles_rebuilt", 1))
    if changed:
        kept = [row[0] for row in db.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND (type = 'view'"
            " OR type IN ('index', 'trigger') AND tbl_name = 'articles') ORDER BY type = 'view'")]
        for (view,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'view'").fetchall():
            db.execute(f'DROP VIEW "{view}"')
        db.execute(rebuilt)
        db.execute("INSERT INTO articles_rebuilt SELECT * FROM articles")  # the same columns, in the same order
        db.execute("DROP TABLE articles")
        db.execute("ALTER TABLE articles_rebuilt RENAME TO articles")
        for sql in kept:
            db.execute(sql)
    db.execute("CREATE INDEX IF NOT EXISTS articles_url ON articles(url)")


def _index_failed_urls_by_age(db: sqlite_utils.Database) -> None:
    """Failed links are forgotten after a while (see FAILED_URL_RETENTION): found by age, not by a scan of them all."""
    db.execute("CREATE INDEX failed_urls_age ON failed_urls(last_failed)")


def _index_failed_urls_by_source_and_age(db: sqlite_utils.Database) -> None:
    """A source's failed links beyond its budget are forgotten, oldest first (see FAILED_URL_CHARS): found by source
    and age, not by a scan of every source's."""
    db.execute("CREATE INDEX IF NOT EXISTS failed_urls_source_age ON failed_urls(source, last_failed)")


def _name_outlets_in_views(db: sqlite_utils.Database) -> None:
    """The views showed hosts where the alerts name outlets, and no ids to join them by: each now names a copy's outlet
    as the alerts do (its own name, else its source's, else its host) and carries its ids; ``alert_passages`` says
    what each alert reported, which took four joins to read. Columns are added after the old ones."""
    outlet = "coalesce(articles.outlet, articles.source, articles.site) AS outlet"
    db.create_view(
        "new_mentions",
        f"""
        SELECT mentions.found, mentions.rule, mentions.passage, articles.title,
               articles.site, articles.url, articles.published, articles.story_id,
               {outlet}, mentions.terms, mentions.article_id, mentions.id AS mention_id
        FROM mentions JOIN articles ON articles.id = mentions.article_id
        WHERE mentions.new = 1
        ORDER BY mentions.found DESC, mentions.id DESC""",
        replace=True,
    )
    db.create_view(
        "story_outlets",
        f"""
        SELECT stories.id AS story_id, stories.title AS story, stories.first_seen,
               stories.article_count, stories.outlet_count,
               articles.site, articles.title, articles.url, articles.published,
               {outlet}, articles.id AS article_id
        FROM stories JOIN articles ON articles.story_id = stories.id
        ORDER BY stories.first_seen DESC, stories.id DESC, articles.id""",
        replace=True,
    )
    db.create_view(
        "alert_queue",
        """
        SELECT alerts.id, alerts.created, alerts.sent, alerts.attempts, alerts.last_error,
               alerts.follow_up, stories.title AS story, stories.outlet_count, alerts.story_id
        FROM alerts JOIN stories ON stories.id = alerts.story_id
        ORDER BY alerts.created DESC, alerts.id DESC""",
        replace=True,
    )
    db.create_view(
        "alert_passages",
        f"""
        SELECT alerts.id AS alert_id, alerts.created, alerts.sent, alerts.follow_up,
               alerts.story_id, stories.title AS story, mentions.rule, mentions.passage,
               mentions.terms, {outlet}, articles.title, articles.url, mentions.id AS mention_id
        FROM alerts
        JOIN stories ON stories.id = alerts.story_id
        JOIN alert_mentions ON alert_mentions.alert_id = alerts.id
        JOIN mentions ON mentions.id = alert_mentions.mention_id
        JOIN articles ON articles.id = mentions.article_id
        ORDER BY alerts.created DESC, alerts.id DESC, mentions.id""",
        replace=True,  # an archive set back by hand to replay its migrations has it
    )


def _add_check_url_chars(db: sqlite_utils.Database) -> None:
    """What the URLs of a check's articles took, counted against the source's ``limits.text_per_day`` beside their
    text: links of 7,700 characters, redirected to as long a URL with as long a canonical one, took the archive 73 KB
    a page of 550 characters of text. Checks from before count none. (An archive set back by hand to replay its
    migrations has the column.)"""
    if "url_chars" not in db["source_checks"].columns_dict:
        db.execute("ALTER TABLE source_checks ADD COLUMN url_chars INTEGER NOT NULL DEFAULT 0")


MIGRATIONS: tuple[Migration, ...] = (
    _create_core_tables, _create_views, _add_digests, _add_failed_urls, _add_alert_outage, _add_heartbeat,
    _add_channels, _add_outlet, _add_source_checks, _rekey_passages, _add_notices, _key_failed_urls_by_source,
    _key_article_urls_by_source, _index_failed_urls_by_age, _name_outlets_in_views, _key_new_passages_only,
    _add_url_reads, _index_failed_urls_by_source_and_age, _add_check_url_chars,
)


def migrate(db: sqlite_utils.Database) -> int:
    """Apply the migrations this database has not seen; return the resulting version.

    Each migration takes the write lock as it begins and reads the version again under it: two processes
    creating one archive at once (a ``once`` from cron beside a starting daemon) apply each migration once,
    where both had read version 0 and the second failed with "table sources already exists".

    Foreign keys are off meanwhile: a migration that rebuilds a table others refer to drops it first, which SQLite
    refuses with them on (a migration keeps every row, and ids with them).
    """
    if _version(db) >= len(MIGRATIONS):
        return len(MIGRATIONS)
    enforced = db.execute("PRAGMA foreign_keys").fetchone()[0]
    db.execute("PRAGMA foreign_keys = OFF")  # outside a transaction, where it takes effect
    try:
        for number, migration in enumerate(MIGRATIONS, start=1):
            db.execute("BEGIN IMMEDIATE")
            try:
                if _version(db) < number:
                    migration(db)
                    db.execute(f"PRAGMA user_version = {number}")
                db.execute("COMMIT")
            except BaseException:
                db.conn.rollback()
                raise
    finally:
        db.execute(f"PRAGMA foreign_keys = {enforced}")
    return len(MIGRATIONS)


def _version(db: sqlite_utils.Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])
