"""Page metadata: title, byline, publication date, canonical URL and language.

Every field is read from the strongest signal a page offers first (JSON-LD, then Open Graph and
other ``<meta>`` conventions, then the visible markup, then the URL), because CMS templates fill
the structured fields reliably while visible markup varies from site to site.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.extract._boilerplate import NAMES_READ, is_certain_boilerplate
from monitor.extract._dates import before_date, find_date
from monitor.jsontext import DECODER

logger = logging.getLogger(__name__)

_HOW_TO_TYPES = frozenset({"howto", "recipe"})  # steps in JSON-LD, a copy of the body
_ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "backgroundnewsarticle",
        "reviewnewsarticle",
        "blogposting",
        "liveblogposting",
        "socialmediaposting",
        "scholarlyarticle",
        "techarticle",
        "report",
        "webpage",
    }
)
_TITLE_WORDS = re.compile(r"\w+")
# " | ", " - ", " :: " between a headline and a site name; opening with a single white space
# character lets the search skip to white space in C (three times faster than "\s+").
_TITLE_SEPARATORS = re.compile(r"\s\s*(?:[|–—•·:»«›‹-]|::)\s+")
_URL_DATE = re.compile(
    r"/((?:19|20)\d{2})[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:/|[^\d]|$)"
)
# Where templates put the visible byline: microdata, rel=author and the usual class names first; then,
# where none of those names anyone, class names with "byline" in them ("pb-byline", "article__byline")
# or naming the author's box (a looser net, so cast second).
_BYLINE_SELECTORS = (
    '[itemprop="author"], [rel="author"], .byline, .author, .article-author',
    '[class*="byline" i], [class*="author-name" i], [class*="author__name" i]',
)
_BYLINE_CANDIDATES = 8  # elements read at most for a visible byline
_BYLINE_READ = 400  # characters of a byline box read: a name, a date, a label or two
_BYLINE_PREFIX = re.compile(
    r"^\s*(?:(?:(?:posted|written|published)\s+by|(?:erstellt|geschrieben|verfasst|veröffentlicht)\s+von"
    r"|publié\s+par|escrito\s+por|by|von|vom|par|por|di|door|av|af)\s*:?\s+"
    r"|(?:author|autor|autorin|auteur)(?:\s*:\s*|\s+)|(?:text|interview|text und interview)\s*:\s*)",
    re.IGNORECASE,
)
# What a visible byline runs on into after its names: " · Published", " — veröffentlicht", " | 3 min read", or the
# section and day a blog's line names ("Nathan Tempey in News on", its date cut off before).
_BYLINE_END = re.compile(r"\s+[·•|—]\s.*|\s+(?:in|on)(?:\s.*)?$")
# A link or a button in a byline's box, not a name: "View Comments", "Share this".
_NOT_NAME_WORDS = frozenset({"comment", "comments", "share", "subscribe", "follow", "posts", "view", "login"})
_DATE_META = (
    "article:published_time",
    "og:published_time",
    "og:article:published_time",
    "publication_date",
    "datepublished",
    "article.published",
    "pubdate",
    "publishdate",
    "publish-date",
    "date",
    "dc.date.issued",
    "dc.date",
    "dcterms.date",
    "dcterms.created",
    "parsely-pub-date",
    "sailthru.date",
    "article_date_original",
    "cxenseparse:recs:publishtime",
)
_YEARS = (1990, 2100)  # the years a publication date may have
_AUTHOR_META = ("author", "article:author", "dc.creator", "byl", "sailthru.author", "parsely-author")
_DESCRIPTION_META = ("og:description", "description", "twitter:description")
# Every <meta> name read below: the others (images, viewport, keywords) are not kept, which
# spares cleaning their content.
_META_READ = frozenset(
    {"og:site_name", "og:title", "twitter:title", "og:url", "content-language", "og:locale"}
    | set(_DATE_META)
    | set(_AUTHOR_META)
    | set(_DESCRIPTION_META)
)


@dataclass
class Metadata:
    """Metadata gathered from one page before the body is chosen."""

    title: str | None = None
    byline: str | None = None
    published: datetime | None = None
    canonical_url: str | None = None
    language: str | None = None
    outlet: str | None = None
    # The titles declared outside the body (og:title, JSON-LD headline, <title>), site names
    # trimmed, by which the headline is recognised: ``title`` may have been read from an <h1>.
    titles: tuple[str, ...] = ()
    article_body: str = ""  # JSON-LD articleBody or a how-to's steps, a fallback for the DOM text
    description: str = ""  # the summary the page declares (og:description, JSON-LD)
    # Where ``published`` came from a <time>: every <time>'s date, with its element, in order (the
    # story's container, found later, may show the first to be another story's).
    dated_times: tuple[tuple[LexborNode, datetime], ...] = ()


@dataclass
class _Signals:
    """The elements metadata is read from, gathered in one query over the page."""

    # name/property/itemprop -> content, for the names in _META_READ
    meta: dict[str, str] = field(default_factory=dict)
    json_ld: list[str] = field(default_factory=list)
    canonical: str | None = None
    title: str = ""
    h1: str = ""
    times: list[tuple[str, LexborNode]] = field(default_factory=list)  # <time datetime> values, elements


# Invisible characters that split a word for every search but not for the eye: soft hyphens
# ("Bot\u00adschaf\u00adter" never matched "Botschafter"), zero-width spaces, word joiners and a
# stray byte-order mark. Zero-width (non-)joiners stay: in Persian or Hindi they are spelling.
_INVISIBLE = ("\u00ad", "\u200b", "\u2060", "\ufeff")


def clean_space(text: str) -> str:
    """Collapse runs of white space and drop invisible characters, as readers see text.

    Non-ASCII text is put in Unicode's composed form (NFC): a letter can be one code point or a
    base and a mark ("য়" in Bengali, "é" typed on some keyboards), and a search or a rule
    written in one form never matches the other.
    """
    if not text.isascii():
        for invisible in _INVISIBLE:  # a test per character is cheaper than str.translate
            if invisible in text:
                text = text.replace(invisible, "")
        text = unicodedata.normalize("NFC", text)
    # Most texts are clean already, or have no white space but the ASCII space once at a time
    # (a block read from the page: an edge's space, a line break, a no-break space between
    # two words): scans in C spare splitting them into words, a third of clean_space's time.
    # A printable text has no white space but the ASCII space (every other kind is a control
    # or a separator).
    if not text.isprintable():
        spaced = text.replace("\n", " ").replace("\xa0", " ")
        if not spaced.isprintable():
            return " ".join(text.split())
        text = spaced
    if "  " not in text:
        return text.strip(" ")
    return " ".join(text.split())


def read_metadata(
    tree: LexborHTMLParser,
    url: str | None,
    body_signals: list[tuple[str, LexborNode]] | None = None,
) -> Metadata:
    """Gather every metadata field from the parsed page.

    ``body_signals`` are the body's metadata elements, and junk elements that may hold some, in
    document order with their tags, as a walk of the body met them; without them the whole page
    is searched.
    """
    signals = _gather(tree, body_signals)
    meta = signals.meta
    ld, how_to = _json_ld_main_objects(signals.json_ld)
    site_name = meta.get("og:site_name") or _ld_name(ld.get("publisher")) or None
    headline = _ld_text(ld.get("headline"))
    declared = [meta.get("og:title", ""), headline, meta.get("twitter:title", ""), signals.title]
    # Each title trimmed once: og:title and twitter:title are often the same string.
    trimmed = {c: _trim_site_name(c, site_name) for c in declared if c}
    # Every declared title helps recognise the headline in the body; the title itself is not a JSON-LD headline
    # that reads like a description of the page (see _titled), asked only where og:title does not settle it.
    first = (
        declared[0]
        or (headline if headline and _titled(headline, signals.title) else "")
        or declared[2]
        or _page_title(signals.title, signals.h1, site_name)
    )
    title = (trimmed.get(first) or _trim_site_name(first, site_name)) if first else None
    language = _language(tree, meta, ld)
    published, dated_times = _published(signals, ld, how_to, url, language)
    return Metadata(
        title=title,
        byline=_byline(tree, meta, ld),
        published=published,
        dated_times=dated_times,
        canonical_url=_canonical(signals, url),
        language=language,
        outlet=site_name,
        titles=tuple(dict.fromkeys(trimmed.values())),
        article_body=_ld_text(ld.get("articleBody")) or (_steps(how_to) if how_to else ""),
        description=next((meta[name] for name in _DESCRIPTION_META if name in meta), None)
        or clean_space(_ld_text(ld.get("description"))),
    )


# A <time>'s machine value is its datetime, or an RDFa content (<time itemprop="datePublished" content=...>). Not its
# text: the first <time> a page shows may be a clock or the date it was printed, where the byline's date follows.
_SIGNALS = (
    'meta[content], script[type="application/ld+json"], link[rel="canonical"][href], title, h1,'
    " time[datetime], time[content]"
)
SIGNAL_TAGS = frozenset({"meta", "script", "link", "title", "h1", "time"})  # those _SIGNALS selects
# Their ids in Lexbor's own table of tags, the same in every document (an element of any other
# name, a custom one included, has another id), as they are looked for inside junk: there a
# <title> is an icon's, in an <svg> (a button's, say).
_JUNK_SIGNAL_TAG_IDS = frozenset(
    LexborHTMLParser("").create_node(tag).tag_id for tag in SIGNAL_TAGS - {"title"}
)


def _gather(
    tree: LexborHTMLParser, body_signals: list[tuple[str, LexborNode]] | None
) -> _Signals:
    """The metadata elements, found by one CSS query: each query walks the whole page.

    When the body was walked already, only the head is searched, and inside the junk elements
    the walk skipped; the walk's finds are filtered the way the query would have. A drawing's
    elements are left to it (an icon's <title>), which the query would not have done.
    """
    if body_signals is None or tree.head is None:
        return _read_signals(tree.css(_SIGNALS))
    nodes = tree.head.css(_SIGNALS)
    for tag, node in body_signals:
        if tag in SIGNAL_TAGS:
            if _is_signal(tag, node):
                nodes.append(node)
        else:  # a button, a caption: their elements told apart by number, not by name
            for found in node.traverse():
                if found.tag_id in _JUNK_SIGNAL_TAG_IDS and _is_signal(found.tag, found):
                    nodes.append(found)
    return _read_signals(nodes)


def _is_signal(tag: str | None, node: LexborNode) -> bool:
    """Whether ``_SIGNALS`` matches an element (Lexbor compares these values ignoring case)."""
    if tag not in SIGNAL_TAGS:
        return False
    if tag in ("title", "h1"):
        return True
    attrs = node.attributes
    if tag == "meta":
        return "content" in attrs
    if tag == "script":
        return (attrs.get("type") or "").lower() == "application/ld+json"
    if tag == "link":
        return (attrs.get("rel") or "").lower() == "canonical" and "href" in attrs
    return "datetime" in attrs or "content" in attrs


def _read_signals(nodes: list[LexborNode]) -> _Signals:
    """Read the metadata elements, in document order: the first of a kind wins."""
    signals = _Signals()
    for node in nodes:
        tag, attrs = node.tag, node.attributes
        if tag == "meta":
            content = None
            for key in ("property", "name", "itemprop", "http-equiv"):
                name = (attrs.get(key) or "").strip().lower()
                if name in _META_READ and name not in signals.meta:
                    if content is None:
                        content = clean_space(attrs.get("content") or "")
                    if content:
                        signals.meta[name] = content
        elif tag == "script":
            signals.json_ld.append(node.text(deep=True))
        elif tag == "link":
            signals.canonical = signals.canonical or attrs.get("href")
        elif tag == "title":
            signals.title = signals.title or clean_space(node.text())
        elif tag == "h1":
            signals.h1 = signals.h1 or clean_space(node.text())
        else:
            signals.times.append((attrs.get("datetime") or attrs.get("content") or "", node))
    return signals


def _json_ld_objects(blocks: list[str]) -> Iterator[dict[str, Any]]:
    """Yield every JSON-LD object on the page, flattening lists and ``@graph``."""
    for raw in blocks:
        data = _json_ld_value(raw)
        if data is None:
            logger.debug("skipping malformed or too deeply nested JSON-LD block")
            continue
        pending: list[Any] = [data]
        while pending:
            item = pending.pop()
            if isinstance(item, list):
                pending.extend(reversed(item))
            elif isinstance(item, dict):
                graph = item.get("@graph")
                if isinstance(graph, list):
                    pending.extend(reversed(graph))
                yield item


_WRAPPERS = (("<![CDATA[", "]]>"), ("//<![CDATA[", "//]]>"), ("<!--", "-->"))
_TRAILING_COMMA = re.compile(r",(\s*[\]}])")


def _json_ld_value(raw: str) -> Any:
    """A JSON-LD block's value, forgiving what templates get wrong and search engines read anyway:
    a CDATA section or comment around it, a ``;`` or a second block after it, a trailing comma in a
    list. None if it still does not parse (or nests past the stack: json recurses once per level)."""
    text = raw.strip()
    for opening, closing in _WRAPPERS:
        if text.startswith(opening):
            text = text[len(opening) :].removesuffix(closing).strip()
            break
    for attempt in (text, _TRAILING_COMMA.sub(r"\1", text)):
        try:
            return DECODER.raw_decode(attempt)[0]
        except (ValueError, RecursionError):
            continue
    return None


def _types(obj: dict[str, Any]) -> set[str]:
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {k.lower() for k in kinds if isinstance(k, str)}


def _json_ld_main_objects(blocks: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The page's main JSON-LD article object, and its first how-to or recipe (empty dicts
    when there are none).

    A specific article type wins over a generic ``WebPage`` because pages often carry both.
    """
    best: dict[str, Any] = {}
    how_to: dict[str, Any] = {}
    for obj in _json_ld_objects(blocks):
        kinds = _types(obj)
        if not how_to and not kinds.isdisjoint(_HOW_TO_TYPES):
            how_to = obj
        kinds &= _ARTICLE_TYPES
        if not kinds:
            continue
        if kinds != {"webpage"}:
            return obj, how_to
        best = best or obj
    return best, how_to


def _steps(how_to: dict[str, Any]) -> str:
    """A how-to's or recipe's summary and steps, in order, each a paragraph (they may hold HTML).

    Where a page leaves its body to a script, its structured copy is all there is of it.
    Steps come as strings, steps with a ``text``, or sections listing either.
    """
    parts = [how_to.get("description")]
    pending = [how_to.get("recipeInstructions"), how_to.get("step")]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, list):
            pending.extend(reversed(item))
        elif isinstance(item, dict):
            parts.append(item.get("text"))
            pending.append(item.get("itemListElement"))
    texts = [part.strip() for part in parts if isinstance(part, str) and part.strip()]
    if any("<" in text for text in texts):
        return "".join(f"<div>{text}</div>" for text in texts)
    return "\n\n".join(texts)


def _titled(headline: str, page_titles: str) -> bool:
    """Whether a JSON-LD headline may be the page's title: not where most of its words are missing from the
    page's own titles, which some sites fill it with a description ("constitutional monarchy in Oceania" for
    "New Zealand"). Where the page declares no other title, it may."""
    if not page_titles.strip():
        return True
    words = set(_TITLE_WORDS.findall(headline.lower()))
    return 2 * len(words.intersection(_TITLE_WORDS.findall(page_titles.lower()))) >= len(words)


def _ld_text(value: Any) -> str:
    """A JSON-LD value as plain text (first item of a list)."""
    if isinstance(value, list):
        value = value[0] if value else ""
    return value.strip() if isinstance(value, str) else ""


def _ld_name(value: Any) -> str | None:
    """The name of a JSON-LD person or organisation, or of a plain string."""
    if isinstance(value, dict):
        value = value.get("name")
    text = _ld_text(value)
    return text or None


def reads_as(a: str, b: str) -> bool:
    """Whether two titles name the same thing: one holds the other (a kicker, a subtitle, a site's name), but not as
    a short part of it (a logo's "Daily Example" is not "Envoy returns - Daily Example")."""
    short, long = sorted((a.lower(), b.lower()), key=len)
    return bool(short) and short in long and 2 * len(short) >= len(long)


def _page_title(title: str, h1: str, site_name: str | None) -> str:
    """The page's ``<title>`` or its first ``<h1>``, where it declares no other title.

    An ``<h1>`` that reads as the title is the cleaner of the two (no site name). One that is a part of the title
    is the headline if it is the longest part, else the site's name, cut from the title. One that neither holds the
    title nor is held by it is, on most pages, the site's logo or a section's label ("Menu", "Quicklinks", "News"):
    the title names the page, unless it is a single word.
    """
    if not title or not h1:
        return h1 or title
    if reads_as(h1, title) or reads_as(h1, _trim_site_name(title, site_name)):
        return h1
    parts = _TITLE_SEPARATORS.split(clean_space(title))
    if h1.lower() in (part.lower() for part in parts):
        return h1 if len(h1) == max(map(len, parts)) else _trim_site_name(title, h1)
    return h1 if len(title.split()) == 1 < len(h1.split()) else title  # a title of one word ("Home") names no page


def _trim_site_name(title: str, site_name: str | None) -> str:
    """Drop the site name from a ``Headline | Site`` title."""
    title = clean_space(title)
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) < 2:
        return title
    if site_name:
        site = site_name.lower()
        kept = [p for p in parts if p.lower() != site]
        if kept and len(kept) < len(parts):
            return " - ".join(kept) if len(kept) > 1 else kept[0]
    # Without a known site name, keep the longest part when the others look like labels.
    longest = max(parts, key=len)
    if all(len(p.split()) <= 4 for p in parts if p is not longest) and len(longest.split()) >= 3:
        return longest
    return title


def _byline(tree: LexborHTMLParser, meta: dict[str, str], ld: dict[str, Any]) -> str | None:
    """Author names from JSON-LD, ``<meta name=author>`` or a visible byline.

    A bare first name or user name ("Anna", "admin") is not taken for an author: it names no
    one an analyst could look up. Organisations (JSON-LD, or an agency in capitals: "AFP")
    may have one word. A date glued to a visible byline ("Joe Wee Monday, February 29, 2016")
    is cut off.
    """
    author = ld.get("author")
    authors = author if isinstance(author, list) else [author]
    names = [
        n
        for a in authors
        if (n := _ld_name(a))
        and (_is_name(n) or (isinstance(a, dict) and "organization" in _types(a)))
    ]
    if names:
        return ", ".join(dict.fromkeys(names))
    for key in _AUTHOR_META:
        value = _BYLINE_PREFIX.sub("", meta.get(key, ""))
        if _is_name(value) and not value.startswith(("http://", "https://")):
            return value
    # In the body only: the head's <link rel=author> has no text, and its <meta> tags were read.
    scope = tree.body or tree
    for selector in _BYLINE_SELECTORS:
        first = scope.css_first(selector)
        if first is None:
            continue
        if (name := _visible_name(first)) is not None:  # nearly always
            return name
        # Past one that names no one (an empty box a script fills, a reader's name in the comments),
        # the next few are read.
        for node in scope.css(selector)[1:_BYLINE_CANDIDATES]:
            if (name := _visible_name(node)) is not None:
                return name
    return None


def _visible_name(node: LexborNode) -> str | None:
    """The name a byline element gives, unless it is a reader's, in the comments (or a box like them).

    Boxes named like bylines also hold links and labels ("View all posts by jdoe", "Photos: AFP"):
    names are capitalised, at least half their words, and hold no colon and no number.
    """
    # Its parts are read apart: a name, its date and a comment count sit in elements side by side, and read as one
    # text they ran together ("Lucas Nolan22 Dec 2016651"). Only its opening is read: a box around the story (a
    # hostile page nested eight) sent the story's whole text through the date pattern for each box.
    text = clean_space(node.text(separator=" ")[:_BYLINE_READ]).replace(" ,", ",")
    text = _BYLINE_END.sub("", before_date(_BYLINE_PREFIX.sub("", text))).rstrip(" ,|·–—-")
    if len(text) > 100 or ":" in text or not _is_name(text) or any(word.isdigit() for word in text.split()):
        return None  # a number left beside the name: a user's card (reputation, badges), not a byline
    if not _NOT_NAME_WORDS.isdisjoint(text.lower().split()):
        return None
    words = [word for word in text.split() if any(map(str.isalpha, word))]
    if 2 * sum(word[0].isupper() for word in words) < len(words) and not _is_cjk(text):
        return None
    up = node.parent
    while up is not None and up.tag not in ("body", "html"):
        attributes = up.attributes
        if is_certain_boilerplate(f"{attributes.get('class') or ''} {attributes.get('id') or ''}"[:NAMES_READ]):
            return None
        up = up.parent
    return text


def _is_name(text: str) -> bool:
    """Whether a byline names someone: two words or more, or an agency's capitals ("AFP").

    Chinese, Japanese and Korean names are written without a space ("肖春芳"): one word is enough.
    """
    words = text.split()
    if len(words) > 1:  # but not initials alone ("J J": a commenter's avatar letter and name)
        return any(sum(map(str.isalpha, word)) > 1 for word in words)
    if len(text) > 1 and text.isupper():
        return True
    return len(text) > 1 and _is_cjk(text)


def _is_cjk(text: str) -> bool:
    return any("\u2e80" <= c <= "\u9fff" or "\uac00" <= c <= "\ud7af" for c in text)


def _published(
    signals: _Signals, ld: dict[str, Any], how_to: dict[str, Any], url: str | None, language: str | None
) -> tuple[datetime | None, tuple[tuple[LexborNode, datetime], ...]]:
    """The publication time, from structured data first, then ``<time>``, then the URL; and where
    it came from a ``<time>``, every ``<time>``'s date with its element.

    A recipe or how-to is the page's content where no article object is given: its
    ``datePublished`` is the page's, where no ``<meta>`` gives one (a recipe plugin may write
    the local time as UTC, or the recipe's first version's date). A structured value written for people rather than machines
    ("Di., 25.01.2022 - 14:45", "05/29/2007 09:49") is read as a dateline is (:mod:`._dates`):
    a complete date, its order settled, or nothing.

    The first ``<time>`` may be another story's: once the story's container is known, one below
    it (in a list of related stories, the comments, a sidebar's events) gives way to a ``<time>``
    not below it, the URL's date or the byline's, where those give another day
    (:func:`monitor.extract.extract`).
    """
    candidates = [_ld_text(ld.get("datePublished")), _ld_text(ld.get("dateCreated"))]
    candidates += [signals.meta.get(key, "") for key in _DATE_META]
    candidates.append(_ld_text(how_to.get("datePublished")))
    for value in candidates:
        if (parsed := _structured_date(value, language)) is not None:
            return parsed, ()
    dated = tuple(
        (node, parsed) for value, node in signals.times if (parsed := _structured_date(value, language)) is not None
    )
    return (dated[0][1], dated) if dated else (date_from_url(url), ())


def plausible_date(when: datetime | None) -> bool:
    """Whether a date may be a publication's, by its year: a CMS's zero (1970-01-01), a typo, an item dated 9999 or
    feedparser's reading of the year 1 as 1400 may not (a wrong date is worse than none)."""
    return when is not None and _YEARS[0] <= when.year <= _YEARS[1]


def _structured_date(value: str, language: str | None) -> datetime | None:
    parsed = parse_date(value) or (find_date(value, language) if value else None)
    return parsed if plausible_date(parsed) else None


def parse_date(value: str) -> datetime | None:
    """Parse an ISO 8601 or RFC 2822 date into an aware datetime (UTC when no zone is given)."""
    value = value.strip()
    if not value or (not value[:1].isdigit() and not value[:3].isalpha()):
        return None
    parsed: datetime | None = None
    iso = value.replace("Z", "+00:00").replace(" ", "T", 1) if value[:1].isdigit() else ""
    if iso:
        try:
            parsed = datetime.fromisoformat(iso)
        except ValueError:
            match = re.match(r"\d{4}-\d{2}-\d{2}", value)
            try:  # the date alone, when only the time is malformed ("2024-05-06T99:99")
                parsed = datetime.fromisoformat(match.group(0)) if match else None
            except ValueError:  # an impossible date ("2024-13-45")
                parsed = None
    else:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):  # a year or zone of twenty digits overflows
            parsed = None
    if parsed is None or not plausible_date(parsed):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def date_from_url(url: str | None) -> datetime | None:
    """The date a URL's path spells (``/2024/08/01/``); none in a URL urllib cannot split (``http://[``), as
    ``extract`` may be given any URL and never raises for one."""
    try:
        match = _URL_DATE.search(urlsplit(url).path) if url else None
    except ValueError:
        return None
    if match is None:
        return None
    year, month, day = (int(g) for g in match.groups())
    try:
        return datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        return None


def _canonical(signals: _Signals, url: str | None) -> str | None:
    """``<link rel=canonical>`` (or ``og:url``) made absolute; only http(s) URLs count.

    One that does not parse counts as none: a template's unfilled ``http://[site_url]/...`` made urllib raise
    ("Invalid IPv6 URL"), and the page was lost with a traceback.
    """
    for href in (signals.canonical, signals.meta.get("og:url")):
        if not href:
            continue
        try:
            absolute = urljoin(url or "", href.strip())
            parts = urlsplit(absolute)
        except ValueError:
            continue
        if parts.scheme in ("http", "https") and parts.netloc:
            return absolute
    return None


def _language(tree: LexborHTMLParser, meta: dict[str, str], ld: dict[str, Any]) -> str | None:
    """The primary language subtag (``en`` for ``en-US``): what downstream needs to pick rules."""
    html = tree.root  # the <html> element: the parser always makes one the root
    attrs = html.attributes if html is not None else {}
    candidates = [
        attrs.get("lang"),
        attrs.get("xml:lang"),
        meta.get("content-language"),
        _ld_text(ld.get("inLanguage")),
        meta.get("og:locale"),
    ]
    for value in candidates:
        primary = re.split(r"[-_,;\s]", (value or "").strip(), maxsplit=1)[0].lower()
        if primary.isalpha() and 2 <= len(primary) <= 3:
            return primary
    return None
