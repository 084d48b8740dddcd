"""Articles, their URLs and stories, and the dedup lookups over them; full-text search."""

from __future__ import annotations

import re
import shlex
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from monitor.errors import SearchQueryError
from monitor.models import Article, Candidate
from monitor.store.connection import Connection, iso, parse_iso


# A bare word of a query FTS5 reads as syntax: any character but letters, digits, "_", and the prefix's "*" at its end.
_PUNCTUATED = re.compile(r'[^\s"()]*[^\w\s"()*][^\s"()]*|[^\s"()]*\*[^\s"()]+')


# The rules' own operators, which an analyst who writes rules types in a search too.
_RULES_SYNTAX = re.compile(r"\b(?:O?NEAR/\d+|AND\s+NOT)\b")


def _quoting_hint(query: str) -> str:
    """How to write the query's punctuated words ("U.S.", "prisoner-swap", "9:30"), which FTS5 reads as syntax: its
    errors name none of them ("no such column: swap", "syntax error near ".""), and a word searched for is the fix.
    The rules' NEAR/5 and AND NOT, also errors, are pointed to FTS5's own way of saying them."""
    if _RULES_SYNTAX.search(query):
        return ("; the search is SQLite's FTS5, not the rules' language: NEAR(ambassador Moscow, 5) finds words near"
                " each other, Geneva NOT swap leaves one out")
    if '"' in query:
        return ""
    quoted = _PUNCTUATED.sub(_quoted, query)
    if quoted == query:
        return ""
    return f"; a word with punctuation goes in double quotes: monitor search {shlex.quote(quoted)}"


def _quoted(found: re.Match[str]) -> str:
    """A punctuated word as a phrase, its prefix's "*" after the closing quote (``"prisoner-sw"*``)."""
    word = found[0]
    stem = word.removesuffix("*")
    return f'"{stem}"' + word[len(stem):]


class ArticleRecords(Connection):
    """Articles, URLs, stories and dedup candidates, in SQL."""

    def known_urls(self, urls: Sequence[str], sources: tuple[str, ...]) -> set[str]:
        """Those of ``urls`` that the links of one of ``sources`` (a source and those of its outlet) led to an
        article: another outlet's sources' do not count (see the migration that keys them by source)."""
        marks = ",".join("?" * len(sources))
        return self._urls_where(urls, f"SELECT url FROM article_urls WHERE url IN ({{marks}}) AND source IN ({marks})",
                                *sources)

    def add_urls(self, article_id: int, urls: Iterable[str], source: str, read: datetime) -> None:
        """Record that ``source``'s links at ``urls`` led to the article, read at ``read``. A URL the source read
        before now leads to this article, read once more (the page changed, or was read again unchanged). A failure
        of the source's at one of them is over (a stub since written into a story, a server error since mended): its
        ``failed_urls`` row goes."""
        urls, when = list(dict.fromkeys(urls)), iso(read)
        # rereads: the reads in a row that found the same article there (no news); one that found another starts again.
        self._insert_rows("INSERT INTO article_urls (url, source, article_id, last_read)",
                          [(url, source, article_id, when) for url in urls],
                          "ON CONFLICT (url, source) DO UPDATE SET rereads = CASE WHEN article_id = excluded.article_id"
                          " THEN rereads + 1 ELSE 0 END, article_id = excluded.article_id, last_read = excluded.last_read")
        self._forget_failures(urls, source)

    def forget_failed_urls(self, urls: Iterable[str], source: str) -> None:
        """Forget ``source``'s failures at ``urls``: over, as it lists them no more or they led to an article."""
        with self.transaction():
            self._forget_failures(list(urls), source)

    def _forget_failures(self, urls: Sequence[str], source: str) -> None:
        for chunk, marks in self._in_chunks(urls):
            self.db.execute(f"DELETE FROM failed_urls WHERE source = ? AND url IN ({marks})", [source, *chunk])

    def last_reads(
        self, urls: Sequence[str], sources: tuple[str, ...], stories_since: datetime
    ) -> dict[str, tuple[datetime, int]]:
        """For each of ``urls`` that ``sources`` (an outlet's) read, in a story first seen since ``stories_since``: when
        they last read it, and how many reads in a row before that found no news there (``article_urls.rereads``)."""
        marks = ",".join("?" * len(sources))
        found: dict[str, tuple[datetime, int]] = {}
        for chunk, url_marks in self._in_chunks(urls):
            for url, read, rereads in self.db.execute(
                "SELECT article_urls.url, coalesce(article_urls.last_read, articles.fetched), article_urls.rereads"
                " FROM article_urls JOIN articles ON articles.id = article_urls.article_id"
                " JOIN stories ON stories.id = articles.story_id"
                f" WHERE article_urls.url IN ({url_marks}) AND article_urls.source IN ({marks})"
                " AND stories.first_seen >= ?",
                [*chunk, *sources, iso(stories_since)],
            ):
                when = parse_iso(read)
                if when is not None and (url not in found or when > found[url][0]):
                    found[url] = (when, rereads)
        return found

    def article_at(self, urls: Sequence[str], sources: tuple[str, ...]) -> int | None:
        """The article the links of one of ``sources`` at one of ``urls`` led to, if any."""
        marks, source_marks = ",".join("?" * len(urls)), ",".join("?" * len(sources))
        found = self._one(
            f"SELECT article_id FROM article_urls WHERE url IN ({marks}) AND source IN ({source_marks}) LIMIT 1",
            [*urls, *sources],
        )
        return None if found is None else int(found)

    def text_hash_of(self, article_id: int) -> str:
        """The article's text hash, without the part a variant key adds (:func:`monitor.dedup.variant_key`)."""
        return str(self._one("SELECT text_hash FROM articles WHERE id = ?", [article_id])).split(":", 1)[0]

    def story_of(self, article_id: int) -> int:
        return int(self._one("SELECT story_id FROM articles WHERE id = ?", [article_id]))

    def articles_at(self, urls: Sequence[str]) -> list[Candidate]:
        """The articles any source's links at ``urls`` led to, as dedup candidates: is a new text one of them?"""
        marks = ",".join("?" * len(urls))
        rows = self.db.execute(
            "SELECT articles.id, articles.story_id, article_signatures.signature, article_signatures.shingles"
            " FROM articles JOIN article_signatures ON article_signatures.article_id = articles.id"
            f" WHERE articles.id IN (SELECT article_id FROM article_urls WHERE url IN ({marks}))",
            list(urls),
        )
        return [Candidate(row[0], row[1], row[2], row[3]) for row in rows]

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
        self.add_urls(article_id, (article.url, *article.aliases), article.source, article.fetched)
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

    def articles(self, *, since: datetime | None = None, batch: int = 200) -> Iterator[tuple[int, str, str]]:
        """(id, title, text) of stored articles in the order they were stored, read ``batch`` at a time: a slow
        reader holds no read transaction for long (the daemon's checkpoints wait behind one)."""
        after = 0
        while True:
            rows = self.db.execute(
                "SELECT id, title, text FROM articles WHERE id > :after AND (:since IS NULL OR fetched >= :since)"
                " ORDER BY id LIMIT :batch",
                {"after": after, "since": iso(since), "batch": batch},
            ).fetchall()
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1][0]

    def search(self, query: str, limit: int = 20) -> list[dict[str, Any]]:
        """Articles matching an FTS5 query; a query FTS5 cannot parse is a SearchQueryError."""
        if not any(character.isalnum() for character in query):  # FTS5: 'syntax error near ""', "unknown special query"
            raise SearchQueryError(f"bad search query {query!r}: it has no word to search for, as in monitor search"
                                   " ambassador")
        try:
            return list(
                self.db.table("articles").search(
                    query, columns=["id", "title", "site", "url", "published", "story_id"], limit=limit
                )
            )
        except sqlite3.OperationalError as exc:
            # FTS5's parse errors have no code of their own; the archive's own troubles do.
            if any(word in str(exc) for word in ("disk", "locked", "unable to open", "malformed", "readonly")):
                raise
            raise SearchQueryError(f"bad search query {query!r}: {exc}{self._search_hint(query, str(exc))}") from exc

    def _search_hint(self, query: str, error: str) -> str:
        """What to write instead: the columns there are, where the query names one that is not ("body:ambassador"
        said "no such column: body" and nothing of title and text); else the quoting of punctuated words."""
        unknown = re.match(r"no such column: (\S+)", error)
        if unknown and re.search(rf"(?<![\w-]){re.escape(unknown[1])}\s*:", query):
            columns = [column.name for column in self.db.table("articles_fts").columns]
            return f"; the columns are {' and '.join(columns)}, as in monitor search {columns[0]}:ambassador"
        return _quoting_hint(query)

    def counts(self) -> dict[str, int]:
        return {name: self.db[name].count for name in ("articles", "stories", "mentions", "alerts")}
