"""The archive's interfaces, by domain: what the pipeline, the outbox and the CLI ask of storage.

:class:`monitor.store.Archive` (SQLite) implements them all; code that needs one domain
names its Protocol, so a second storage backend, or a fake in a test, has a short list of
methods to provide. Sources, articles and dedup, mentions, and the outbox are separate
because they change for separate reasons.

Async code (the pipeline, the daemon, the deliveries) reaches these through an
:class:`ArchiveAccess`: one connection per process, in a thread of its own, that every
read and write goes through in order (:class:`monitor.store.writer.ArchiveWriter`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from monitor.config import DEFAULT_MESSAGE_DOMAIN, SourceSettings
from monitor.models import (
    AlertContent, Article, Candidate, CheckRecord, Heartbeat, Mention, SourceNotice, SourceState,
)

T = TypeVar("T")
Store = TypeVar("Store", covariant=True)


class ArchiveAccess(Protocol[Store]):
    """The archive as async code reaches it: ``await access.run(lambda store: store.method(...))``.

    Each call is committed (all of it or none) before its ``await`` returns, so what the
    caller does next (send the message it claimed, say) follows rows that are on disk.
    """

    async def run(self, call: Callable[[Store], T]) -> T: ...


class SourceStore(Protocol):
    """Sources: validators and health, failed article URLs, the heartbeat."""

    def sync_sources(self, sources: Iterable[SourceSettings]) -> None: ...

    def source_state(self, name: str) -> SourceState: ...

    def record_success(self, name: str, *, check: CheckRecord, next_due: datetime, etag: str | None,
                       last_modified: str | None, body_hash: str | None, health: str | None = None,
                       notice: SourceNotice | None = None) -> None: ...

    def record_failure(
        self, name: str, *, checked: datetime, next_due: datetime, error: str, health: str | None = None,
        notice: SourceNotice | None = None,
    ) -> int: ...

    def check_history(self, name: str, *, since: datetime) -> list[CheckRecord]: ...

    def source_rows(self) -> list[dict[str, Any]]: ...

    def given_up_urls(self, urls: Sequence[str], max_attempts: int, source: str) -> set[str]: ...

    def failures_to_retry(self, source: str, max_attempts: int) -> dict[str, tuple[int, datetime]]: ...

    def record_failed_url(self, url: str, *, source: str, error: str, retry: bool, when: datetime) -> None: ...

    def beat(self, *, pid: int, now: datetime, every: int) -> None: ...

    def heartbeat(self) -> Heartbeat | None: ...


class ArticleStore(Protocol):
    """Articles, their URLs and stories, dedup candidates, search."""

    def known_urls(self, urls: Sequence[str], sources: tuple[str, ...]) -> set[str]: ...

    def add_urls(self, article_id: int, urls: Iterable[str], source: str, read: datetime) -> None: ...

    def forget_failed_urls(self, urls: Iterable[str], source: str) -> None: ...

    def last_reads(
        self, urls: Sequence[str], sources: tuple[str, ...], stories_since: datetime
    ) -> dict[str, tuple[datetime, int]]: ...

    def article_at(self, urls: Sequence[str], sources: tuple[str, ...]) -> int | None: ...

    def articles_at(self, urls: Sequence[str]) -> list[Candidate]: ...

    def article_with_hash(self, text_hash: str) -> int | None: ...

    def text_hash_of(self, article_id: int) -> str: ...

    def story_of(self, article_id: int) -> int: ...

    def near_candidates(self, band_keys: Sequence[int], per_band: int = 200) -> list[Candidate]: ...

    def new_story(self, title: str, first_seen: datetime) -> int: ...

    def insert_article(self, article: Article, *, story_id: int, text_hash: str, word_count: int, signature: bytes,
                       shingles: int, band_keys: Sequence[int]) -> int: ...

    def articles(self, *, since: datetime | None = None) -> Iterator[tuple[int, str, str]]: ...

    def search(self, query: str, limit: int = 20) -> list[dict[str, Any]]: ...

    def counts(self) -> dict[str, int]: ...


class MentionStore(Protocol):
    """Mentions and the keys their novelty is judged by."""

    def passages_with_keys(self, rule: str, keys: Sequence[str], per_key: int, limit: int = -1) -> list[str]: ...

    def matched_passages(self, article_id: int) -> list[tuple[str, str]]: ...

    def insert_mention(self, article_id: int, mention: Mention, found: datetime, keys: Sequence[str]) -> int: ...


class AlertStore(Protocol):
    """The outbox: alerts, deliveries by e-mail and on channels, digests."""

    def queue_alert(
        self, story_id: int, mention_ids: Sequence[int], created: datetime, domain: str = DEFAULT_MESSAGE_DOMAIN
    ) -> int: ...

    def register_channels(self, names: Sequence[str], now: datetime) -> None: ...

    def channel_due(self, channel: str, now: datetime) -> list[int]: ...

    def claim_on_channel(self, channel: str, alert_id: int, now: datetime, hold_until: datetime) -> int | None: ...

    def mark_channel_sent(self, channel: str, alert_id: int, sent: datetime) -> None: ...

    def mark_channel_failed(self, channel: str, alert_id: int, error: str, next_attempt: datetime) -> None: ...

    def due_alerts(self, now: datetime) -> list[int]: ...

    def claim_alerts(
        self, alert_ids: Sequence[int], now: datetime, hold_until: datetime, domain: str = DEFAULT_MESSAGE_DOMAIN
    ) -> dict[int, int]: ...

    def alert_content(self, alert_id: int) -> AlertContent: ...

    def retries_waiting(self, channel: str | None, now: datetime) -> dict[int, tuple[datetime, str]]: ...

    def mark_sent(self, alert_ids: Sequence[int], sent: datetime, note: str | None = None) -> None: ...

    def mark_failed(
        self, alert_ids: Sequence[int], error: str, next_attempt: datetime, *, outage: bool = False
    ) -> None: ...

    def release_after_outage(self, now: datetime) -> int: ...

    def release_channel_retries(self, now: datetime) -> int: ...

    def queued_alert_count(self) -> int: ...

    def oldest_undigested(self) -> datetime | None: ...

    def gather_digest(
        self, created: datetime, domain: str = DEFAULT_MESSAGE_DOMAIN, alert_ids: Sequence[int] | None = None
    ) -> int | None: ...

    def due_digests(self, now: datetime) -> list[tuple[str, list[int]]]: ...

    def split_digest(
        self, alert_ids: Sequence[int], created: datetime, domain: str = DEFAULT_MESSAGE_DOMAIN
    ) -> list[tuple[str, list[int]]]: ...


class NoticeStore(Protocol):
    """Operator notices, queued by :meth:`SourceStore.record_success` and ``record_failure``, and their delivery."""

    def due_notices(self, target: str, now: datetime) -> list[tuple[int, SourceNotice]]: ...

    def claim_notice(self, target: str, notice_id: int, now: datetime, hold_until: datetime) -> int | None: ...

    def mark_notice_sent(self, target: str, notice_id: int, sent: datetime) -> None: ...

    def mark_notice_failed(self, target: str, notice_id: int, error: str, next_attempt: datetime) -> None: ...

    def close_notices(self, targets: Sequence[str], now: datetime) -> int: ...

    def queued_notice_count(self) -> int: ...


class DeliveryStore(AlertStore, NoticeStore, Protocol):
    """What delivering needs: the outbox's alerts, on e-mail and the channels, and the operators' notices."""


class IngestStore(ArticleStore, MentionStore, AlertStore, Protocol):
    """What storing one article needs: its lookups, and the rows article, mentions and alert are written to."""
