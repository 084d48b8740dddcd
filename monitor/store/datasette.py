"""The archive as Datasette shows it: metadata that describes, labels, sorts and facets its tables.

Datasette guesses little on its own: a mention read as a bare id where an alert lists it, the
dedup tables as prominent as the articles, oldest rows first, and no word on what a column
holds. The metadata is keyed by the database's name, which Datasette takes from the file's
name, so it is made for one archive (``monitor datasette-metadata``). The descriptions are
docs/archive.md's, shortened; a test holds the names here to the schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

OUTLET = "The outlet as the alerts name it: the page's own name, else its source's, else its host."

TABLES: dict[str, dict[str, Any]] = {
    "articles": {
        "description": "One fetched article. Full-text search covers title and text.",
        "label_column": "title", "sort_desc": "id", "facets": ["site", "source", "language"],
        "columns": {
            "url": "Canonical URL.", "site": "Its host.", "source": "The configured source that stored it.",
            "outlet": "The outlet's name from og:site_name or the JSON-LD publisher; empty when the page gives none.",
            "published": "What the page or feed claims; never used for order.",
            "text_hash": "The exact-duplicate key of the normalised text (then ':' and a digest of the headline and text as written, when another article holds that key but the rules read this one otherwise).",
        },
    },
    "stories": {
        "description": "One story: an article and its syndicated or near-identical copies.",
        "label_column": "title", "sort_desc": "id",
        "columns": {"title": "Its first article's.", "outlet_count": "Distinct sites among its copies."},
    },
    "article_urls": {
        "description": "A URL a source's link led to an article at: its own, a redirect, or a rel=canonical alias.",
        "facets": ["source"],
    },
    "mentions": {
        "description": "A passage of an article matched by a rule.",
        "label_column": "passage", "sort_desc": "id", "facets": ["rule", "new"],
        "columns": {
            "terms": "JSON list of what matched.",
            "new": "1 = no earlier article had this passage, or a near copy, for this rule.",
        },
    },
    "alerts": {
        "description": "The outbox: one message about one story.",
        "sort_desc": "id", "facets": ["follow_up"],
        "columns": {
            "sent": "When the SMTP server accepted it; empty until then.",
            "follow_up": "1 = an earlier alert covered this story.",
            "digest_id": "Digest mode: the digest that carried it.",
            "outage": "1 = waiting only because the server was unreachable or refused the session (a wrong password).",
            "next_attempt": "No try before it.",
        },
    },
    "alert_mentions": {"description": "A mention an alert reports."},
    "digests": {"description": "Digest mode: one digest message.", "sort_desc": "id"},
    "channels": {"description": "An alert channel of [[channels]]; alerts queued since first_seen go on it."},
    "channel_deliveries": {
        "description": "One alert on one channel.", "facets": ["channel"],
        "columns": {"sent": "When the service accepted it; empty until then.",
                    "held_until": "A claim: another deliverer leaves it alone until then."},
    },
    "sources": {
        "description": "A configured source and its state.",
        "columns": {
            "last_error": "Empty when the last check succeeded, the cause otherwise.",
            "failures": "Consecutive.", "next_due": "Earliest next check, later after failures.",
            "interval": "Seconds to the next check, as last decided, learned or fixed.",
            "health": "Empty when healthy, what is wrong otherwise.",
        },
    },
    "source_checks": {
        "description": "One check of a source in the last 8 days.",
        "sort_desc": "id", "facets": ["source", "ok"],
        "columns": {"ok": "1 = succeeded (unchanged counts).", "changed": "1 = the body changed.",
                    "new_links": "Of the links listed, those unknown to the archive."},
    },
    "failed_urls": {
        "description": "An article link that could not be stored, by the source that listed it, in the last 30 days.",
        "sort_desc": "last_failed", "facets": ["source", "retry"],
        "columns": {"retry": "1 = a passing failure (5xx, time-out, no article text yet), retried in up to 5 checks,"
                             " after waits that double from 2 minutes; 0 = refused for good."},
    },
    "heartbeat": {"description": "One row: the daemon's last heartbeat, read by monitor status --check."},
    "notices": {
        "description": "A notice to the operators that a source's health changed.", "sort_desc": "id",
        "columns": {"problem": "What is wrong now; empty: it recovered.",
                    "done": "When every target configured then had it; empty: still due."},
    },
    "notice_deliveries": {"description": "One notice to one target (email, channel:NAME or log)."},
    "new_mentions": {"description": "New mentions, newest first.", "facets": ["rule", "outlet"],
                     "columns": {"outlet": OUTLET}},
    "story_outlets": {"description": "Each story with every outlet's copy, newest story first.",
                      "columns": {"outlet": OUTLET}},
    "alert_queue": {"description": "Alerts with their story, newest first."},
    "alert_passages": {"description": "Each alert with the passages it reported, newest first.",
                       "facets": ["rule", "outlet"], "columns": {"outlet": OUTLET}},
    # Internal: how dedup and novelty find candidates, of no use to a reader (still reachable by URL).
    "article_signatures": {"hidden": True},
    "article_bands": {"hidden": True},
    "passage_keys": {"hidden": True},
}

QUERIES: dict[str, dict[str, str]] = {
    "mentions_since": {
        "title": "New mentions since a date, with every outlet of their story",
        "description": "since: a date or time, 2026-12-01 or 2026-12-01T09:00:00Z (empty: all).",
        "sql": "SELECT found, rule, passage, outlet, title, url,\n"
               "  (SELECT group_concat(outlet, ', ') FROM story_outlets\n"
               "   WHERE story_outlets.story_id = new_mentions.story_id) AS story_outlets\n"
               "FROM new_mentions WHERE found >= :since",
    },
    "outlet_search": {
        "title": "Articles of one outlet matching a full-text search",
        "description": "outlet: its name, its source's name or its host; q: words, \"a phrase\", OR, NOT.",
        "sql": "SELECT articles.id, articles.published, articles.title, articles.url\n"
               "FROM articles JOIN articles_fts ON articles_fts.rowid = articles.id\n"
               "WHERE articles_fts MATCH :q AND :outlet IN (articles.outlet, articles.source, articles.site)\n"
               "ORDER BY articles.id DESC",
    },
}


def datasette_metadata(archive: Path) -> dict[str, Any]:
    """Datasette's metadata (``--metadata FILE``) for the archive at ``archive``."""
    return {
        "title": "monitor archive",
        "description": "Articles, stories, new mentions and alerts; docs/archive.md says what every column holds.",
        "databases": {archive.stem: {"tables": TABLES, "queries": QUERIES}},
    }
