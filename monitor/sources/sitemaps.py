"""Links from sitemaps: ``urlset``, sitemap indexes, Google News sitemaps, ``.xml.gz``,
plain-text sitemaps (one URL per line) and RSS or Atom feeds served as sitemaps,
the three forms the sitemaps protocol accepts.

An index is followed to its children, newest first (by ``lastmod``), at most
``MAX_CHILDREN`` of them per index and ``MAX_DEPTH`` levels deep: a news
monitor wants this week's sitemap, not the archive of 2009. Child sitemaps are
fetched unconditionally (their validators are not kept), and a child that
fails is logged and skipped as long as one of its siblings succeeds.

Gzip files are unwrapped by the fetcher. Element names are matched by local
name, so any namespace prefix (or none) works. A document that is not
well-formed XML - often an ``&`` left unescaped in a URL - falls back to
picking the ``<loc>`` elements by pattern.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from monitor.errors import FetchError, UnsupportedContentError
from monitor.fetch.client import Fetcher
from monitor.fetch.robots import robots_url
from monitor.fetch.urls import canonicalize
from monitor.models import Link, NotModified, Page
from monitor.sources.feeds import feed_links, is_feed_document
from monitor.sources.links import make_link, parse_iso_date, refuse_entity_declarations

__all__ = ["MAX_CHILDREN", "MAX_DEPTH", "MAX_LINKS", "choose_sitemaps", "site_links", "sitemap_links"]

log = logging.getLogger(__name__)

MAX_DEPTH = 2  # index -> index -> urlset; the protocol forbids nesting, sites do it anyway
MAX_CHILDREN = 10
MAX_LINKS = 50_000  # the protocol's limit for one sitemap

_LOC = re.compile(rb"<(?:\w+:)?loc>\s*(.*?)\s*</(?:\w+:)?loc>", re.DOTALL)
_EPOCH = datetime.min.replace(tzinfo=UTC)
_NEWS_SITEMAP = re.compile(r"news(?!letter)", re.IGNORECASE)


@dataclass
class _Entry:
    loc: str
    lastmod: datetime | None = None
    published: datetime | None = None
    title: str | None = None


@dataclass
class _Parsed:
    index: bool
    entries: list[_Entry] = field(default_factory=list)


async def sitemap_links(page: Page, fetcher: Fetcher, depth: int = 0) -> tuple[list[Link], list[bytes]]:
    """The links of a sitemap (and, for an index, of its children) and the child bodies read.

    The child bodies let the caller tell "nothing changed" for an index whose
    own text stays the same while its children grow.
    """
    if _is_plain_text(page.body):
        return _text_links(page), []
    if is_feed_document(page.body):
        # feedparser is pure Python: a big feed takes seconds, which must not stall the event loop.
        return await asyncio.to_thread(feed_links, page), []
    parsed = _parse(page)
    if not parsed.index:
        return _links(parsed.entries, page.url), []
    if depth >= MAX_DEPTH:
        log.warning("sitemap index %s nested deeper than %d levels, not followed", page.url, MAX_DEPTH)
        return [], []
    children = sorted(parsed.entries, key=lambda e: e.lastmod or _EPOCH, reverse=True)
    return await _read_children([entry.loc for entry in children], page.url, fetcher, depth)


async def site_links(home: str, fetcher: Fetcher) -> tuple[list[Link], list[bytes]]:
    """The links of a site's sitemaps, found from the ``Sitemap:`` lines of its robots.txt.

    The robots.txt list is read like a sitemap index whose children are :func:`choose_sitemaps`.
    """
    named = await fetcher.sitemaps_of(home)
    chosen = choose_sitemaps(named, home)
    if not named:
        log.info("%s: robots.txt names no sitemap, trying %s", home, chosen[0])
    return await _read_children(chosen, robots_url(home), fetcher, 0)


def choose_sitemaps(named: list[str], home: str) -> list[str]:
    """Which of a site's sitemaps to read: its news sitemaps when it names any, else all it names.

    A news sitemap (``news`` in its path, ``newsletter`` aside) lists the last two days' articles, which is what
    a news monitor wants; the others list the archive. A site that names none gets the
    conventional ``/sitemap.xml``. A name that is not a URL is dropped, saying why.
    """
    urls: list[str] = []
    for name in named:
        try:
            url = canonicalize(name, base=robots_url(home))
        except ValueError as exc:
            log.info("%s: a Sitemap line of robots.txt is dropped: %s", home, exc)
            continue
        if url not in urls:
            urls.append(url)
    news = [url for url in urls if _NEWS_SITEMAP.search(urlsplit(url).path)]
    return news or urls or [canonicalize("/sitemap.xml", base=home)]


async def _read_children(locs: list[str], parent: str, fetcher: Fetcher, depth: int) -> tuple[list[Link], list[bytes]]:
    """The links of the first ``MAX_CHILDREN`` sitemaps of ``locs``; those that fail are skipped while one works."""
    results = await asyncio.gather(
        *(_child(loc, parent, fetcher, depth) for loc in locs[:MAX_CHILDREN]), return_exceptions=True
    )
    links: list[Link] = []
    bodies: list[bytes] = []
    errors: list[FetchError] = []
    for result in results:
        if isinstance(result, FetchError):
            log.warning("child sitemap skipped: %s", result)
            errors.append(result)
        elif isinstance(result, BaseException):
            raise result
        else:
            links.extend(result[0])
            bodies.extend(result[1])
    if errors and len(errors) == len(results):
        raise errors[0]
    return links[:MAX_LINKS], bodies


async def _child(loc: str, parent: str, fetcher: Fetcher, depth: int) -> tuple[list[Link], list[bytes]]:
    link = make_link(loc, parent, None, None)
    if link is None:
        raise UnsupportedContentError(parent, f"child sitemap {loc!r} is not an http(s) URL")
    result = await fetcher.fetch(link.url, kind="source")
    if isinstance(result, NotModified):  # cannot happen without validators; keeps mypy honest
        return [], []
    links, bodies = await sitemap_links(result, fetcher, depth + 1)
    return links, [result.body, *bodies]


def _links(entries: list[_Entry], base: str) -> list[Link]:
    links: list[Link] = []
    for entry in entries[:MAX_LINKS]:
        link = make_link(entry.loc, base, entry.title, entry.published)
        if link is not None:
            links.append(link)
    return links


def _is_plain_text(body: bytes) -> bool:
    """A text sitemap: its first character (after a BOM and white space) does not open a tag."""
    return not body.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"<")


def _text_links(page: Page) -> list[Link]:
    """One absolute URL per line, as the protocol asks; other lines are dropped, but a text with none is no sitemap."""
    lines = [line.strip() for line in page.text.lstrip("\ufeff").splitlines()]
    lines = [line for line in lines if line][:MAX_LINKS]
    absolute = [line for line in lines if line[:8].lower().startswith(("http://", "https://"))]
    if len(absolute) < len(lines):
        log.debug("text sitemap %s: %d lines are not absolute http(s) URLs", page.url, len(lines) - len(absolute))
    links = [link for link in (make_link(line, page.url, None, None) for line in absolute) if link is not None]
    if lines and not links:
        raise UnsupportedContentError(page.url, "not a sitemap: no line of the text is an http(s) URL")
    return links


def _parse(page: Page) -> _Parsed:
    refuse_entity_declarations(page)
    try:
        root = ET.fromstring(page.body)
    except ET.ParseError as exc:
        return _parse_leniently(page, exc)
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise UnsupportedContentError(page.url, f"not a sitemap: root element <{kind}>")
    child_tag = "sitemap" if kind == "sitemapindex" else "url"
    parsed = _Parsed(index=kind == "sitemapindex")
    for element in root:
        if _local(element.tag) != child_tag:
            continue
        fields = _fields(element)
        if fields.get("loc"):
            parsed.entries.append(
                _Entry(
                    loc=fields["loc"],
                    lastmod=parse_iso_date(fields.get("lastmod")),
                    published=parse_iso_date(fields.get("publication_date")),
                    title=fields.get("title") or None,
                )
            )
    return parsed


def _fields(element: ET.Element) -> dict[str, str]:
    """Texts of an entry's own children, plus those of its ``<news:news>`` block.

    Only these levels: ``<image:image><image:loc>`` must not pass for the page's ``<loc>``.
    """
    fields: dict[str, str] = {}
    for child in element:
        name = _local(child.tag)
        if name == "news":
            fields.update({_local(e.tag): (e.text or "").strip() for e in child})
        else:
            fields.setdefault(name, (child.text or "").strip())
    return fields


def _parse_leniently(page: Page, error: ET.ParseError) -> _Parsed:
    head = page.body[:2048]
    if b"<urlset" not in head and b"<sitemapindex" not in head:
        raise UnsupportedContentError(page.url, f"not a sitemap: {error}") from error
    log.debug("sitemap %s is not well-formed (%s), reading its <loc> elements", page.url, error)
    locs = (html.unescape(m.group(1).decode("utf-8", "replace")) for m in _LOC.finditer(page.body))
    return _Parsed(index=b"<sitemapindex" in head, entries=[_Entry(loc=loc) for loc in locs])


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
