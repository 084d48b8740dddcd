"""Links from feeds: RSS 0.9x/1.0/2.0 and Atom with feedparser, JSON Feed with json.

feedparser is only ever given ``io.BytesIO(body)``: handed a str or bytes that
looks like a path or URL, it opens it (a hostile body ``/etc/passwd`` would be
read from disk). Documents that declare XML entities are refused before
parsing: no feed needs them, and a "billion laughs" feed is thereby rejected in
microseconds instead of trusting every parser in the chain to defuse it.
"""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import feedparser

from monitor.errors import UnsupportedContentError
from monitor.fetch.decode import media_type, page_text
from monitor.jsontext import DECODER
from monitor.models import Link, Page
from monitor.sources.links import make_link, parse_iso_date, refuse_entity_declarations

__all__ = ["feed_links", "is_feed_document"]

log = logging.getLogger(__name__)

# What comes before the root element: BOM, XML declaration, comments, processing instructions, a DOCTYPE. Each is
# read one way only: a comment ends at its first "-->", a DOCTYPE's subset at its first "]". Read lazily (".*?"), a
# comment could also end at any later "-->", and a head of comments with no root element in it (a long licence, or
# a hostile feed) took exponential time: 400 comments, a parsing worker's CPU limit at every check.
_PROLOG = re.compile(
    rb"(?:\xef\xbb\xbf)?\s*(?:(?:<\?[^>]*>|<!--(?:[^-]|-(?!->))*-->|<!doctype[^\[>]*(?:\[[^\]]*\])?\s*>)\s*)*"
    rb"<(?P<root>[a-z][\w:.-]*)",
    re.IGNORECASE,
)
_HTML_DOCTYPE = re.compile(rb"<!doctype\s+html[\s>]", re.IGNORECASE)
_HTML_ROOTS = frozenset({b"html", b"head", b"body"})
_FEED_ROOTS = frozenset({b"rss", b"feed", b"rdf", b"channel"})


def feed_links(page: Page) -> list[Link]:
    """Every entry link of a feed page, canonical, in feed order (not yet deduplicated)."""
    text = page_text(page)
    if _looks_like_json(page, text):
        return list(_json_feed_links(page, text))
    if _is_html_page(page.body[:4096]):
        # feedparser would spend seconds on a large page only to find no feed in it.
        raise UnsupportedContentError(page.url, "an HTML page, not a feed")
    page = refuse_entity_declarations(page)
    try:
        parsed = feedparser.parse(
            io.BytesIO(_valid_references(_trimmed_text_constructs(_without_bodies(page.body)))),
            response_headers={"content-type": page.content_type or "application/xml", "content-location": page.url},
            resolve_relative_uris=False,
            sanitize_html=False,
        )
    except (ValueError, OverflowError) as exc:  # a value feedparser's lenient parser cannot take, as a last resort
        raise UnsupportedContentError(page.url, f"not a feed: {type(exc).__name__}: {exc}") from exc
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception") or "no feed found"
        raise UnsupportedContentError(page.url, f"not a feed: {reason}")
    if parsed.get("bozo"):
        log.debug("feed %s is not well-formed, using what parsed: %s", page.url, parsed.get("bozo_exception"))
    links: list[Link] = []
    for entry in parsed.entries:
        link = make_link(_entry_url(entry), page.url, entry.get("title"), _entry_date(entry), _entry_updated(entry))
        if link is not None:
            links.append(link)
    return links


def _valid_references(body: bytes) -> bytes:
    """``body`` with each numeric character reference to no character (a surrogate, past U+10FFFF) made U+FFFD.

    feedparser's lenient parser, which reads a feed expat finds ill-formed, raised on one (UnicodeEncodeError,
    OverflowError): a single item's ``&#xD800;`` (some sites write an emoji as its UTF-16 halves), or a hostile
    ``&#99999999999999999999;``, failed the whole feed at every check. Browsers read them as U+FFFD.
    """
    return _CHARACTER_REFERENCE.sub(_valid_reference, body) if b"&#" in body else body


# Elements whose text the monitor never reads: an item's description, summary and content, and the channel's.
_BODIES = (b"description", b"summary", b"content", b"content:encoded")
_AFTER_NAME = frozenset(b"> \t\r\n/")  # what may follow an element's name in its start tag


def _without_bodies(body: bytes) -> bytes:
    """``body`` with the text of each of :data:`_BODIES` cut out, its tags kept, in one pass a name.

    The monitor reads an item's link, title and dates, never its description. One item's description of 600,000
    unescaped "<b>" made the feed ill-formed, feedparser's lenient parser read that markup past a parsing worker's
    CPU limit, and the whole feed failed at every check, its matching story with it. An element left open takes the
    rest of the document with it.
    """
    for name in _BODIES:
        if b"<" + name in body:
            body = _emptied(body, name)
    return body


def _emptied(body: bytes, name: bytes) -> bytes:
    opening, closing = b"<" + name, b"</" + name + b">"
    pieces: list[bytes] = []
    at = 0
    while (start := body.find(opening, at)) != -1:
        after = start + len(opening)
        # Another name that begins so ("<contents"): passed over before any search for its end, which, made at each
        # of a hostile run of "<contents<contents...", would read the rest of the body as often.
        if after < len(body) and body[after] not in _AFTER_NAME:
            pieces.append(body[at:after])
            at = after
            continue
        tag_end = body.find(b">", after)
        if tag_end == -1:  # no tag ends after this: nothing more to cut
            break
        pieces.append(body[at : tag_end + 1])
        if body[tag_end - 1 : tag_end] == b"/":  # empty already: <content src="..."/>
            at = tag_end + 1
            continue
        close = body.find(closing, tag_end)
        at = len(body) if close == -1 else close
    pieces.append(body[at:])
    return b"".join(pieces)


# What opens an Atom text construct and reads as nothing: white space as str.strip() knows it (in UTF-8, or as a
# reference), comments, processing instructions and empty CDATA sections. The start tag is kept.
_OPENING_SPACE = re.compile(
    rb"(<(?:[\w.-]+:)?(?:title|subtitle|rights)(?:\s[^<>]*+)?>)"
    rb"(?:\s|\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80"
    rb"|&(?:nbsp|ensp|emsp|thinsp);"
    rb"|&#(?:0*(?:9|1[0-3]|32|133|160|5760|819[2-9]|820[0-2]|823[23]|8239|8287|12288)"
    rb"|[xX]0*(?:9|[a-dA-D]|20|85|[aA]0|1680|200[0-9aA]|202[89fF]|205[fF]|3000));"
    rb"|<!--(?:[^-]|-(?!->))*+-->|<\?(?:[^?]|\?(?!>))*+\?>|<!\[CDATA\[\s*+\]\]>)++"
)


def _trimmed_text_constructs(body: bytes) -> bytes:
    """``body`` without the white space (and comments) that open a title, subtitle or rights element.

    feedparser drops an XHTML construct's opening white space one piece at a time, each from the front of its list,
    and the XML parser makes each line or reference a piece: a title opening with 400,000 line breaks took 8 s, a
    worker's CPU limit for a feed of a few. Nothing the monitor reads is lost: a title's white space is collapsed
    anyway.
    """
    return _OPENING_SPACE.sub(rb"\1", body) if b"title" in body or b"rights" in body else body


_CHARACTER_REFERENCE = re.compile(rb"&#(?:[xX]0*([0-9a-fA-F]{4,})|0*([0-9]{5,}));")  # only those that may be invalid


def _valid_reference(found: re.Match[bytes]) -> bytes:
    digits = found[1] or found[2]
    value = int(digits, 16 if found[1] else 10) if len(digits) <= 8 else 0x110000
    return found[0] if value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF else b"&#xFFFD;"


def is_feed_document(body: bytes) -> bool:
    """Whether an XML document's root element is a feed's (RSS, RSS 1.0's RDF, Atom)."""
    found = _PROLOG.match(body[:4096])
    return found is not None and _local_name(found["root"]) in _FEED_ROOTS


def _local_name(tag: bytes) -> bytes:
    return tag.lower().rsplit(b":", 1)[-1]


def _is_html_page(head: bytes) -> bool:
    """Whether a document is a web page, judged by its root element.

    The DOCTYPE alone does not say so: some feeds carry an XHTML DOCTYPE above ``<rss>``.
    """
    found = _PROLOG.match(head)
    if found is None:
        return False
    root = _local_name(found["root"])
    if root in _FEED_ROOTS:
        return False
    return root in _HTML_ROOTS or _HTML_DOCTYPE.search(found.group(0)) is not None


def _entry_url(entry: Any) -> str | None:
    for candidate in entry.get("links", []):
        if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
            return str(candidate["href"])
    if entry.get("link"):
        return str(entry["link"])
    guid = entry.get("id")
    return str(guid) if entry.get("guidislink") and guid else None


def _entry_date(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value: time.struct_time | None = entry.get(key)
        if value is not None:
            try:
                return datetime(*value[:6], tzinfo=UTC)  # feedparser normalises to UTC
            except (TypeError, ValueError):
                continue
    return None


def _entry_updated(entry: Any) -> datetime | None:
    """When the item says it last changed (Atom's ``updated``, RSS's ``atom:updated``), if it says so.

    Read from the entry as a dict: feedparser's own lookup of ``updated_parsed`` gives an RSS item's publication time
    where it has no update time (with a DeprecationWarning), which would read every item as updated.
    """
    value: time.struct_time | None = dict.get(entry, "updated_parsed")
    if value is None:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _looks_like_json(page: Page, text: str) -> bool:
    return media_type(page.content_type).endswith("json") or text.lstrip("\ufeff \t\r\n").startswith("{")


def _json_feed_links(page: Page, text: str) -> Iterator[Link]:
    try:
        document = DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        raise UnsupportedContentError(page.url, f"not a JSON Feed: {exc}") from exc
    version = document.get("version") if isinstance(document, dict) else None
    if not isinstance(version, str) or not version.startswith("https://jsonfeed.org/version/"):
        raise UnsupportedContentError(page.url, "not a JSON Feed: no jsonfeed.org version")
    items = document.get("items")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        url = item.get("url") or item.get("external_url")
        title = item.get("title")
        link = make_link(
            url if isinstance(url, str) else None,
            page.url,
            title if isinstance(title, str) else None,
            parse_iso_date(item.get("date_published") or item.get("date_modified")),
            parse_iso_date(item.get("date_modified")),
        )
        if link is not None:
            yield link
