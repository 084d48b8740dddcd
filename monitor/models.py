"""Records that cross the stages of the pipeline (frozen: a stage never edits another's output)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Link:
    """A candidate article link found by discovery (feed entry, sitemap url, listing link)."""

    url: str  # canonical form
    title: str | None = None
    published: datetime | None = None


@dataclass(frozen=True)
class Page:
    """A fetched document, decompressed, capped and decoded."""

    url: str  # final URL after redirects
    requested_url: str
    status: int
    content_type: str
    body: bytes
    text: str  # body decoded with the charset from header, BOM, <meta> or detection
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class NotModified:
    """A conditional request answered 304: a cheap, successful check."""

    url: str


@dataclass(frozen=True)
class Discovery:
    """What one check of a source found, plus the validators to send next time."""

    links: list[Link]
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    not_modified: bool = False


@dataclass(frozen=True)
class Extracted:
    """What the extractor takes from one page (contract in DESIGN.md)."""

    title: str | None = None
    text: str = ""
    byline: str | None = None
    published: datetime | None = None
    canonical_url: str | None = None
    language: str | None = None
    outlet: str | None = None  # the outlet's own name (og:site_name, JSON-LD publisher)


@dataclass(frozen=True)
class Article:
    """An extracted article ready to be stored."""

    url: str  # canonical URL
    site: str  # host name of the outlet, e.g. "www.reuters.com"
    title: str
    text: str
    source: str  # name of the configured source that found it
    fetched: datetime
    byline: str | None = None
    published: datetime | None = None
    language: str | None = None
    outlet: str | None = None  # the outlet's name as the page gives it, for alerts to show
    aliases: tuple[str, ...] = ()  # other canonical URLs that lead to it (requested URL, rel=canonical)


@dataclass(frozen=True)
class Match:
    """A passage of a text matched by one rule."""

    rule: str
    passage: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class Mention:
    """A match, judged new or already seen against the archive."""

    rule: str
    passage: str
    terms: tuple[str, ...]
    new: bool


@dataclass(frozen=True)
class AlertCopy:
    """One outlet's copy of the story an alert is about."""

    title: str
    site: str
    url: str
    published: datetime | None
    outlet: str | None = None  # the outlet's name as its page gives it, when it does


@dataclass(frozen=True)
class AlertContent:
    """Everything needed to render one alert message (read back from the outbox)."""

    alert_id: int
    story_id: int
    message_id: str
    headline: str
    created: datetime
    follow_up: bool  # an earlier alert already covered this story
    rules: tuple[str, ...]
    mentions: tuple[Mention, ...]
    copies: tuple[AlertCopy, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class LabelledPassage:
    """A passage judged by hand for each rule, to measure the rules with (``monitor rules eval``)."""

    id: str
    text: str
    title: str
    labels: dict[str, bool]  # rule name -> should it match
    note: str = ""
