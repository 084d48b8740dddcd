"""Archive states for the alert tests, written with the archive's own methods.

:func:`store` does what :func:`monitor.pipeline.ingest` does once dedup and the
rules have decided (which story, which passages are new): article, mentions and
alert in one transaction. Deciding is not what these tests are about, so they
state the decisions instead of depending on the dedup thresholds.

:func:`deliver` runs a delivery the way the daemon and ``monitor once`` do: through an
archive writer, the process's one connection, opened beside the test's own.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from monitor.models import Article, Mention
from monitor.store import Archive
from monitor.store.writer import ArchiveWriter

T = TypeVar("T")

T0 = datetime(2024, 3, 1, 6, 0, tzinfo=UTC)

AMBASSADOR = "Russia recalled its ambassador Anatoly Antonov from Washington for consultations, the Kremlin said."
SWAP = "An American journalist was freed in a prisoner swap with Russia at Ankara airport, Washington confirmed."
RETURN = "The ambassador is expected back in Washington next week, a Kremlin spokesman said on Monday."


@dataclass(frozen=True)
class Stored:
    article_id: int
    story_id: int
    alert_id: int | None


def article(url: str, title: str, *, fetched: datetime = T0, text: str = "") -> Article:
    return Article(
        url=url, site=url.split("/")[2], title=title, text=text or f"Text of {url}.", source="test",
        fetched=fetched, published=fetched,
    )


def store(
    archive: Archive, item: Article, passages: list[tuple[str, str, tuple[str, ...], bool]],
    *, story_id: int | None = None, now: datetime = T0,
) -> Stored:
    """Store ``item`` in ``story_id`` (a new story when None) with its (rule, passage, terms, new) mentions."""
    with archive.transaction():
        story = story_id or archive.new_story(item.title, now)
        article_id = archive.insert_article(
            item, story_id=story, text_hash=hashlib.sha256(item.url.encode()).hexdigest(),
            word_count=len(item.text.split()), signature=b"", shingles=0, band_keys=[],
        )
        new_ids = [
            archive.insert_mention(article_id, Mention(rule, passage, terms, new), now, [])
            for rule, passage, terms, new in passages
        ]
        new_ids = [mention_id for mention_id, (*_, new) in zip(new_ids, passages, strict=True) if new]
        alert_id = archive.queue_alert(story, new_ids, now) if new_ids else None
    return Stored(article_id, story, alert_id)


AMBASSADOR_URLS = ["https://wire.example/world/recall", "https://daily.example/news/123", "https://herald.example/a/recall"]


def flood(archive: Archive, numbers: range, now: datetime = T0) -> list[int]:
    """New stories from one outlet, each with a new passage ("Report number N."): their alert ids."""
    return [
        store(archive, article(f"https://flood.example/{n}", f"Envoy story {n}", fetched=now),
              [("ambassadors", f"{RETURN} Report number {n}.", ("ambassador",), True)], now=now).alert_id or 0
        for n in numbers
    ]


def two_stories(archive: Archive, now: datetime = T0) -> tuple[Stored, Stored]:
    """The acceptance state: the ambassador story on three outlets (one new passage), the swap on one."""
    ambassador = ("ambassadors", AMBASSADOR, ("ambassador", "Anatoly Antonov"), True)
    first = store(archive, article(AMBASSADOR_URLS[0], "Russia recalls ambassador", fetched=now), [ambassador], now=now)
    for url, title in zip(AMBASSADOR_URLS[1:], ["Kremlin recalls envoy", "Moscow pulls its man in Washington"]):
        store(archive, article(url, title, fetched=now), [ambassador[:3] + (False,)], story_id=first.story_id, now=now)
    swap = store(
        archive, article("https://news.example/swap", "Journalist freed in prisoner swap", fetched=now),
        [("prisoner swap", SWAP, ("prisoner swap",), True)], now=now,
    )
    return first, swap


def deliver(archive: Archive, delivery: Callable[[ArchiveWriter], Awaitable[T]]) -> T:
    """``delivery(writer)`` over a writer of ``archive``'s file, committed when it returns."""

    async def run() -> T:
        async with ArchiveWriter(archive.path) as writer:
            return await delivery(writer)

    return asyncio.run(run())
