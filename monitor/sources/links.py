"""What every kind of source shares: making a canonical Link, keeping a check's links within its budget of bytes,
and refusing XML entities."""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from xml.parsers import expat

from selectolax.lexbor import LexborHTMLParser

from monitor.errors import UnsupportedContentError
from monitor.extract import plausible_date
from monitor.fetch.decode import media_type, page_text
from monitor.fetch.urls import canonicalize
from monitor.models import Link, Page

__all__ = ["LINK_COST", "Gathered", "gather", "link_size", "links_within", "make_link", "parse_iso_date",
           "refuse_entity_declarations"]

log = logging.getLogger(__name__)

_TITLE_MAX = 500
# A title's markup read at most: an HTML parser's cost can grow with the square of its input (formatting elements
# left open, rebuilt before each later paragraph), and one item's title of 20 KB took its parsing worker past 500 MB:
# the whole feed failed at every check, its other items with it. 4,000 characters cost 0.02 s and 13 MB at worst,
# and hold the 500 kept with room for a title's tags and entities.
_TITLE_MARKUP = 4000

# What a Link costs the monitor's process besides its characters: the object, its strings' and date's headers
# (measured: 190 bytes for a bare link, 320 with a title and a date). Charged so that a feed of 350,000 tiny items
# spends the budget as surely as 2,500 links of 8,000 characters.
LINK_COST = 200


def make_link(
    url: str | None, base: str, title: str | None, published: datetime | None, updated: datetime | None = None
) -> Link | None:
    """A canonical Link, or None when ``url`` is missing or not a valid http(s) URL.

    A dropped link is logged with the reason (at debug level: listing pages are full
    of ``mailto:`` and ``javascript:`` links).
    """
    if not url:
        return None
    try:
        canonical = canonicalize(url, base=base)
    except ValueError as exc:
        log.debug("link dropped on %s: %s", base, exc)
        return None
    # A listed date is taken as extraction takes one: an item dated 9999 was the date its article's alert showed.
    return Link(url=canonical, title=_plain(title), published=published if plausible_date(published) else None,
                updated=updated if plausible_date(updated) else None)


def link_size(link: Link) -> int:
    """The bytes a link is charged against a check's ``limits.link_bytes``: its characters and :data:`LINK_COST`."""
    return LINK_COST + len(link.url) + len(link.title or "")


@dataclass(frozen=True)
class Gathered:
    """Links a parsing job found, the first of them that fit in the check's budget of link bytes.

    Cut in the worker, so what crosses to the monitor's process is bounded: a sitemap tree of 50,000 links
    of 8,000 characters each, gathered there whole, took it to 487 MB.
    """

    links: list[Link]
    size: int = 0  # bytes the links are charged (:func:`link_size`), what the check's budget has left to spend
    cut: bool = False  # links past the budget were left out

    def kept(self, url: str, budget: int) -> list[Link]:
        """The links, saying in the log when some of ``url``'s were left out."""
        if self.cut:
            log.warning("%s: links past limits.link_bytes (%d bytes a check) are left out in this check", url, budget)
        return self.links


def gather(links: Iterable[Link], budget: int) -> Gathered:
    """The first of ``links`` whose :func:`link_size` add up to at most ``budget``."""
    taken: list[Link] = []
    spent = 0
    for link in links:
        size = link_size(link)
        if spent + size > budget:
            return Gathered(taken, spent, cut=True)
        spent += size
        taken.append(link)
    return Gathered(taken, spent)


def links_within(budget: int, find: Callable[[Page], list[Link]], page: Page) -> Gathered:
    """A parsing job: the links ``find`` takes from ``page``, within ``budget`` bytes."""
    return gather(find(page), budget)


def _plain(title: str | None) -> str | None:
    """A title as one line of text: feeds often carry HTML in titles (Atom ``type="html"``)."""
    if not title:
        return None
    if "<" in title or "&" in title:
        title = LexborHTMLParser(title[:_TITLE_MARKUP]).text(separator="")
    return " ".join(title.split())[:_TITLE_MAX] or None


class _RootReached(Exception):
    """The prolog has been read: no declaration can follow."""


# The encoding pseudo-attribute of an XML declaration, in a decoded text.
_DECLARED_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?\sencoding\s*=\s*)(["'])[^"'>]*\2""")
# UTF-32's byte-order marks, which expat reads as UTF-16's followed by NULs.
_UTF32_MARKS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)


def refuse_entity_declarations(page: Page) -> Page:
    """Refuse an XML document whose DOCTYPE has an internal subset or declares entities ("billion laughs", XXE);
    return the page as an XML parser is to read it.

    expat itself reads the prolog, with handlers that raise on such a declaration before any
    entity is expanded, so comments, character sets (UTF-16, say) and CDATA are read as the
    real parser reads them. It stops at the root element, where every declaration is behind.
    A prolog expat cannot read is refused too: no feed or sitemap needs one.

    expat decodes no multi-byte charset but UTF-8 and UTF-16 ("multi-byte encodings are not supported"): a feed
    declared Shift_JIS, EUC-JP, GBK, Big5 or EUC-KR failed its source's every check with a traceback. Such a
    document is decoded here as any page is (:func:`monitor.fetch.decode.page_text`) and returned in UTF-8,
    declared and labelled so: the parsers read the very text whose prolog was checked (a charset a parser would
    read otherwise, UTF-7 among them, could hide a DOCTYPE from the check). So is one declared in an encoding no
    codec reads ("x-mac-roman", "rot13"): expat's lookup of it failed the source's every check with a traceback.
    So is UTF-32, whose byte-order mark expat takes for UTF-16's (the first two bytes are the same): it failed as
    "not well-formed XML" at the NULs after them.
    """
    if not page.body.startswith(_UTF32_MARKS):
        try:
            _check_prolog(page, page.body)
            return page
        except (ValueError, LookupError):  # "multi-byte encodings are not supported"; "unknown encoding: x-mac-roman"
            pass
    text = _DECLARED_ENCODING.sub(r'\1"utf-8"', page_text(page).lstrip("\ufeff"), count=1)
    body = text.encode("utf-8", "replace")
    try:
        _check_prolog(page, body)
    except (ValueError, LookupError) as exc:  # the declaration was not at the start, where it could be rewritten
        raise UnsupportedContentError(page.url, f"its XML declaration names an encoding it is not in: {exc}") from exc
    return replace(page, body=body, content_type=f"{media_type(page.content_type) or 'application/xml'}; charset=utf-8")


def _check_prolog(page: Page, body: bytes) -> None:
    """:func:`refuse_entity_declarations`' check of ``body``; ValueError when expat cannot decode its charset."""

    def refuse(*_: object) -> None:
        raise UnsupportedContentError(page.url, "XML entity declarations (a DTD internal subset) are not accepted")

    def doctype(_name: str, _system: str | None, _public: str | None, internal_subset: int) -> None:
        if internal_subset:
            refuse()

    def root(*_: object) -> None:
        raise _RootReached

    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.StartElementHandler = root
    try:
        parser.Parse(body, True)
    except _RootReached:
        return
    except expat.ExpatError as exc:
        raise UnsupportedContentError(page.url, f"not well-formed XML: {expat.errors.messages[exc.code]}") from exc


def parse_iso_date(value: Any) -> datetime | None:
    """An aware datetime from RFC 3339 / W3C-DTF (JSON Feed, sitemaps); no zone means UTC."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):  # year 9999 at -23:59 is past datetime's range in UTC
        return None
