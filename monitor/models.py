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
    updated: datetime | None = None  # when the listing says the page last changed: one read before is read again


@dataclass(frozen=True)
class Page:
    """A fetched document, decompressed and capped, not yet decoded: the charset is found where the page is
    parsed, in a parsing worker (:func:`monitor.fetch.decode.page_utf8`), so the event loop never sniffs untrusted
    bytes and the page crosses to the worker once, as bytes."""

    url: str  # final URL after redirects
    requested_url: str
    status: int
    content_type: str
    body: bytes
    etag: str | None = None
    last_modified: str | None = None
    moved_to: str | None = None  # the final URL, when every redirect to it said the move was for good (301, 308)


@dataclass(frozen=True)
class NotModified:
    """A conditional request answered 304: a cheap, successful check."""

    url: str
    moved_to: str | None = None  # as Page's


@dataclass(frozen=True)
class Discovery:
    """What one check of a source found, plus the validators to send next time."""

    links: list[Link]
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    not_modified: bool = False
    moved_to: str | None = None  # the source's URL redirects there for good (301, 308): its config is out of date


@dataclass(frozen=True)
class CheckRecord:
    """One check of a source, as adaptive polling and source health learn from it."""

    checked: datetime
    ok: bool
    new_links: int = 0  # links the archive did not know yet
    changed: bool = True  # the source's body changed (an unchanged check lists no links)
    links: int = 0  # article links the source listed
    extracted: int = 0  # article pages extracted
    text_chars: int = 0  # characters of text those extractions gave, in all
    stored: int = 0  # articles stored
    url_chars: int = 0  # characters of the URLs those articles are stored under, in all


@dataclass(frozen=True)
class SourceNotice:
    """A change in a source's health, for the operators: a problem begins, or it is over."""

    source: str
    problem: str | None  # None: the source recovered
    previous: str | None  # the problem before (None when the source was healthy)
    when: datetime


@dataclass(frozen=True)
class Extracted:
    """What the extractor takes from one page: whatever it cannot find stays empty, never a guess."""

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
    # the passage's words the rules' stems read (:meth:`monitor.rules.Ruleset.cues`); derived, so not compared
    cues: tuple[str, ...] = field(default=(), compare=False)
    # the passage's sentences in which the rule holds on its own: where its news is told. The others are context the
    # passage runs through to reach a later hit ("Washington has not responded"), judged only where none holds
    # (:func:`monitor.dedup.seen_before`); derived, so not compared
    news: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Mention:
    """A match, judged new or already seen against the archive."""

    rule: str
    passage: str
    terms: tuple[str, ...]
    new: bool
    outlet: str = ""  # who published it, where an alert quotes it
    site: str = ""  # the host of the page it was read on, shown beside a name the page may have claimed


@dataclass(frozen=True)
class AlertCopy:
    """One outlet's copy of the story an alert is about."""

    title: str
    site: str
    url: str
    published: datetime | None
    outlet: str = ""  # the outlet's name (its configured source's), shown rather than the host
    source: str = ""  # the configured source that stored it (not the page's claim): whose turn it is in a digest
    folded: bool = False  # found as one more URL of another copy's very text: its own headline is not kept


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
    more_mentions: int = 0  # past the ones read: a story copied hundreds of times is not quoted whole
    more_copies: int = 0


@dataclass(frozen=True)
class LabelledPassage:
    """A passage judged by hand for each rule, to measure the rules with (``monitor rules eval``)."""

    id: str
    text: str
    title: str
    labels: dict[str, bool]  # rule name -> should it match
    note: str = ""


@dataclass(frozen=True)
class Known:
    """What the archive already holds that bears on one new article, looked up before deciding."""

    # The stored article its URLs already lead to: its source's links at them did, or another source's did and its
    # text is a near copy of that article's (the page changed a little). None: its text is what is there now.
    at_url: int | None
    same_text: int | None  # the stored article with the very same text, if any
    story: int  # the story of the stored text it most surely copies, 0 for none
    earlier_passages: tuple[tuple[str, ...], ...]  # per match: stored passages of its rule sharing a lookup key
    # The key to store the text under when a stored article has its text_hash but the rules read more in this page
    # (see :func:`monitor.ingest.reads_more`); empty: its text_hash.
    text_key: str = ""


@dataclass(frozen=True)
class IngestPlan:
    """What storing one article does (see :func:`monitor.ingest.plan`)."""

    status: str  # "known-url" | "same-text" | "copy" (of ``story``) | "new" (a story of its own)
    alias_of: int | None = None  # known-url, same-text: the stored article its URLs are added to, for its source
    story: int = 0
    mentions: tuple[Mention, ...] = ()
    quoted: tuple[bool, ...] = ()  # per mention, whether the article's alert quotes it (:func:`monitor.ingest.quoted`)
    text_key: str = ""  # copy, new: the key its text is stored under, when not its text_hash (see :class:`Known`)


@dataclass(frozen=True)
class SourceState:
    """What the archive knows of one source: its validators and its health."""

    name: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    failures: int
    next_due: datetime | None
    last_checked: datetime | None
    last_error: str | None
    health: str | None = None  # what is wrong with the source, as last notified; None: healthy


@dataclass(frozen=True)
class Heartbeat:
    """The daemon's last sign of life."""

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
class Explanation:
    """Why a unit of an article matched a rule, or nearly did and was vetoed (``monitor rules test``)."""

    rule: str
    passage: str
    matched: bool
    clauses: tuple[str, ...]  # the top-level clauses that held (their comment, or their text)
    terms: tuple[str, ...]  # the words found in the passage
    context: tuple[tuple[str, str], ...]  # (field, text) found outside the passage
    vetoes: tuple[tuple[str, str], ...]  # (clause, text) that vetoed a match
    # A text no clause of the rule held, given to test it: the rule's lists it holds words of, each with the first.
    lists: tuple[tuple[str, str], ...] = ()
    news: tuple[str, ...] = ()  # the passage's sentences in which the rule holds on its own (see Match.news)


@dataclass(frozen=True)
class RuleVerdict:
    """One passage of one article as ``monitor rules test`` shows it: its explanation and whether it is new."""

    article_id: int
    title: str
    judgement: Explanation
    new: bool | None  # None: not matched (a near-miss that was vetoed, or a text to test that no clause held)
