"""What every kind of source shares: making a canonical Link, and refusing XML entities."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from monitor.errors import UnsupportedContentError
from monitor.fetch.urls import canonicalize
from monitor.models import Link, Page

__all__ = ["make_link", "parse_iso_date", "refuse_entity_declarations"]

log = logging.getLogger(__name__)

# A DOCTYPE's internal subset: from "<!DOCTYPE" to the "]>" that closes it.
_INTERNAL_SUBSET = re.compile(rb"<!DOCTYPE[^\[>]*\[(.*?)(\]\s*>|$)", re.IGNORECASE | re.DOTALL)
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


def refuse_entity_declarations(page: Page) -> None:
    """Refuse an XML document with a DTD that declares entities ("billion laughs", XXE)."""
    subset = _INTERNAL_SUBSET.search(page.body)
    if subset is not None and b"<!ENTITY" in subset.group(1).upper():
        raise UnsupportedContentError(page.url, "XML entity declarations are not accepted")


def parse_iso_date(value: Any) -> datetime | None:
    """An aware datetime from RFC 3339 / W3C-DTF (JSON Feed, sitemaps); no zone means UTC."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
