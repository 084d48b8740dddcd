"""The archive's transactions and multi-row inserts, against a real SQLite file."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.models import Article
from monitor.pipeline import ingest
from monitor.rules import compile_rules
from monitor.store import Archive

WHEN = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
TEXT = " ".join(f"Sentence {n} of a story about envoys and the talks that brought them home." for n in range(20))


def failed(archive: Archive, url: str) -> None:
    archive.record_failed_url(url, source="wire", error="503", retry=True, when=WHEN)


def committed_failures(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT url FROM failed_urls ORDER BY url")]


def test_an_inner_transaction_that_fails_is_rolled_back_alone(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    with Archive(path) as archive:
        with archive.transaction():
            failed(archive, "https://a.example/kept")
            with pytest.raises(ValueError), archive.transaction():
                failed(archive, "https://a.example/dropped")
                with archive.transaction():  # savepoints of one name nest
                    failed(archive, "https://a.example/dropped-too")
                raise ValueError("bad write")
            with archive.transaction():
                failed(archive, "https://a.example/after")
        assert not archive.db.conn.in_transaction
    assert committed_failures(path) == ["https://a.example/after", "https://a.example/kept"]


def test_a_failing_outer_transaction_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    with Archive(path) as archive:
        with pytest.raises(ValueError), archive.transaction():
            with archive.transaction():
                failed(archive, "https://a.example/1")
            raise ValueError("bad group")
        assert not archive.db.conn.in_transaction
    assert committed_failures(path) == []


def test_urls_beyond_one_statement_are_all_stored(tmp_path: Path) -> None:
    """At most 999 values to a statement (499 URL rows): 1,236 rows take three, and none is lost or doubled."""
    article = Article(url="https://a.example/story", site="a.example", title="Envoys", text=TEXT, source="wire",
                      fetched=WHEN)
    with Archive(tmp_path / "monitor.db") as archive:
        article_id = ingest(archive, article, compile_rules([]), WHEN).article_id
        aliases = [f"https://a.example/story?page={n}" for n in range(1234)]
        with archive.transaction():
            archive.add_urls(article_id, [*aliases, article.url, aliases[0]])  # known ones are ignored
        stored = archive.db.execute("SELECT url FROM article_urls WHERE article_id = ?", [article_id]).fetchall()
        assert sorted(url for (url,) in stored) == sorted([*aliases, article.url])
        assert archive.known_urls(aliases[-3:]) == set(aliases[-3:])
        bands = archive.db.execute("SELECT count(*) FROM article_bands WHERE article_id = ?", [article_id]).fetchone()
        assert bands[0] > 0  # the LSH bands went in as one statement too
