"""What every kind of source shares: making a canonical Link, and refusing XML entities."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from xml.parsers import expat

from selectolax.lexbor import LexborHTMLParser

from monitor.errors import UnsupportedContentError
from monitor.fetch.urls import canonicalize
from monitor.models import Link, Page

__all__ = ["make_link", "parse_iso_date", "refuse_entity_declarations"]

log = logging.getLogger(__name__)

_TITLE_MAX = 500


def make_link(url: str | None, base: str, title: str | None, published: datetime | None) -> Link | None:
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
    return Link(url=canonical, title=_plain(title), published=published)


def _plain(title: str | None) -> str | None:
    """A title as one line of text: feeds often carry HTML in titles (Atom ``type="html"``)."""
    if not title:
        return None
    if "<" in title or "&" in title:
        title = LexborHTMLParser(title).text(separator="")
    return " ".join(title.split())[:_TITLE_MAX] or None


class _RootReached(Exception):
    """The prolog has been read: no declaration can follow."""


def refuse_entity_declarations(page: Page) -> None:
    """Refuse an XML document whose DOCTYPE has an internal subset or declares entities ("billion laughs", XXE).

    expat itself reads the prolog, with handlers that raise on such a declaration before any
    entity is expanded, so comments, character sets (UTF-16, say) and CDATA are read as the
    real parser reads them. It stops at the root element, where every declaration is behind.
    A prolog expat cannot read is refused too: no feed or sitemap needs one.
    """

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
        parser.Parse(page.body, True)
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
