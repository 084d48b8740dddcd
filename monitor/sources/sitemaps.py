"""Links from sitemaps: ``urlset``, sitemap indexes, Google News sitemaps, ``.xml.gz``,
plain-text sitemaps (one URL per line) and RSS or Atom feeds served as sitemaps,
the three forms the sitemaps protocol accepts.

An index is followed to its children, newest first (by ``lastmod``), at most
``MAX_CHILDREN`` of them per index and ``MAX_DEPTH`` levels deep, each sitemap
read once per check (an index that lists itself is not read again), and no
more bytes in all than the ``[limits] sitemap_bytes`` budget, nor more than ``MAX_LINKS`` links, nor links of more
bytes than ``[limits] link_bytes`` (see :class:`~monitor.sources.links.Gathered`): a news monitor
wants this week's sitemap, not the archive of 2009. Child sitemaps are fetched
unconditionally (their validators are not kept), and a child that fails is
logged and skipped as long as one of its siblings succeeds. Each document is
parsed in a parsing worker (:mod:`monitor.workers`).

Gzip files are unwrapped by the fetcher. Element names are matched by local
name, so any namespace prefix (or none) works. A document that is not
well-formed XML - often an ``&`` left unescaped in a URL - falls back to
picking the ``<loc>`` elements by pattern.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from monitor.errors import FetchError, UnsupportedContentError
from monitor.fetch.decode import page_text
from monitor.fetch.robots import robots_url
from monitor.fetch.urls import canonicalize
from monitor.models import Link, NotModified, Page
from monitor.sources.feeds import feed_links, is_feed_document
from monitor.sources.links import Gathered, gather, make_link, parse_iso_date, refuse_entity_declarations
from monitor.workers import Workers

if TYPE_CHECKING:  # the workers import this package and never fetch: they start without the HTTP client
    from monitor.fetch.client import Fetcher

__all__ = ["MAX_CHILDREN", "MAX_DEPTH", "MAX_LINKS", "MAX_NAMED", "SitemapRead", "choose_sitemaps", "read_sitemap", "site_links",
           "sitemap_links"]

log = logging.getLogger(__name__)

MAX_DEPTH = 2  # index -> index -> urlset; the protocol forbids nesting, sites do it anyway
MAX_CHILDREN = 10
MAX_LINKS = 50_000  # the protocol's limit for one sitemap
MAX_NAMED = 1000  # Sitemap lines of a robots.txt looked at: real sites name dozens, and each is canonicalised

# A <loc> element's text, up to the next tag (a URL has no "<": XML escapes it): each search ends at the next "<",
# so a body is read in linear time. Read as ".*?" up to "</loc>", each of a million unclosed <loc> tags was read to
# the body's end, and a parsing worker's CPU limit was spent on one 5 MB sitemap at every check.
_LOC = re.compile(rb"<(?:\w+:)?loc>([^<]*)</(?:\w+:)?loc>")
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


@dataclass(frozen=True)
class SitemapRead:
    """What one sitemap document says: its article links, or (an index) the sitemaps it lists, newest first."""

    links: Gathered
    children: list[str]  # canonical URLs


@dataclass
class _Reading:
    """One check's walk over a sitemap tree: what is read so far, and what is left to read."""

    fetcher: Fetcher
    workers: Workers
    budget: int  # bytes still allowed
    link_budget: int  # bytes of links still allowed
    seen: set[str] = field(default_factory=set)
    links: list[Link] = field(default_factory=list)
    digests: list[bytes] = field(default_factory=list)


async def sitemap_links(page: Page, fetcher: Fetcher, workers: Workers) -> tuple[list[Link], list[bytes]]:
    """The links of a sitemap (and, for an index, of its children) and the SHA-256 digest of each body read.

    The digests let the caller tell "nothing changed" for an index whose own text stays the
    same while its children grow; a child's body is hashed as it arrives and let go.
    """
    reading = _Reading(fetcher, workers, workers.limits.sitemap_bytes, workers.limits.link_bytes, {page.requested_url})
    await _follow(await _take(page, reading), page.url, reading, 0)
    return reading.links[:MAX_LINKS], reading.digests


async def site_links(home: str, fetcher: Fetcher, workers: Workers) -> tuple[list[Link], list[bytes]]:
    """The links of a site's sitemaps, found from the ``Sitemap:`` lines of its robots.txt.

    The robots.txt list is read like a sitemap index whose children are :func:`choose_sitemaps`.
    """
    named = await fetcher.sitemaps_of(home)
    chosen = choose_sitemaps(named, home)
    if not named:
        log.info("%s: robots.txt names no sitemap, trying %s", home, chosen[0])
    reading = _Reading(fetcher, workers, workers.limits.sitemap_bytes, workers.limits.link_bytes)
    await _read_children(chosen, robots_url(home), reading, 0)
    return reading.links[:MAX_LINKS], reading.digests


def choose_sitemaps(named: list[str], home: str) -> list[str]:
    """Which of a site's sitemaps to read: its news sitemaps when it names any, else all it names.

    A news sitemap (``news`` in its path, ``newsletter`` aside) lists the last two days' articles, which is what
    a news monitor wants; the others list the archive. A site that names none gets the
    conventional ``/sitemap.xml``. A name that is not a URL is dropped, saying why. Only the first
    ``MAX_NAMED`` names are looked at, on the event loop: 33,000 of them took it 10 s.
    """
    urls: dict[str, None] = {}  # ordered, and a name is found in it at once
    dropped: list[str] = []
    for name in named[:MAX_NAMED]:
        try:
            urls[canonicalize(name, base=robots_url(home))] = None
        except ValueError as exc:
            dropped.append(str(exc))
    if dropped:
        log.info("%s: %d Sitemap lines of robots.txt dropped, the first: %s", home, len(dropped), dropped[0])
    if len(named) > MAX_NAMED:
        log.info("%s: robots.txt names %d sitemaps, only the first %d are looked at", home, len(named), MAX_NAMED)
    news = [url for url in urls if _NEWS_SITEMAP.search(urlsplit(url).path)]
    return news or list(urls) or [canonicalize("/sitemap.xml", base=home)]


async def _follow(read: SitemapRead, url: str, reading: _Reading, depth: int) -> None:
    links = read.links.kept(url, reading.workers.limits.link_bytes)[: MAX_LINKS - len(reading.links)]
    reading.links.extend(links)
    reading.link_budget = 0 if read.links.cut else reading.link_budget - read.links.size
    if not read.children:
        return
    if depth >= MAX_DEPTH:
        log.warning("sitemap index %s nested deeper than %d levels, not followed", url, MAX_DEPTH)
        return
    await _read_children(read.children, url, reading, depth)


async def _read_children(urls: list[str], parent: str, reading: _Reading, depth: int) -> None:
    """Read the first ``MAX_CHILDREN`` sitemaps of ``urls`` not read yet in this check, one at a time.

    One at a time: they are on one host, whose politeness lets few requests through anyway, and
    only one body is held at once. Those that fail are skipped as long as one works; once the
    check's byte budget is spent, the rest are skipped in this check.
    """
    fresh = [url for url in dict.fromkeys(urls) if url not in reading.seen][:MAX_CHILDREN]
    reading.seen.update(fresh)
    errors: list[FetchError] = []
    for url in fresh:
        if reading.budget <= 0:
            log.warning("sitemaps of %s: %d bytes read, the rest is skipped in this check", parent,
                        reading.workers.limits.sitemap_bytes)
            break
        if len(reading.links) >= MAX_LINKS:  # held in this process: a tree of full sitemaps took it past 500 MB
            log.info("sitemaps of %s: %d links read, the rest is skipped in this check", parent, MAX_LINKS)
            break
        if reading.link_budget <= 0:
            log.info("sitemaps of %s: links of %d bytes read, the rest is skipped in this check", parent,
                     reading.workers.limits.link_bytes)
            break
        try:
            await _read_child(url, reading, depth)
        except FetchError as exc:
            log.warning("child sitemap skipped: %s", exc)
            errors.append(exc)
    if errors and len(errors) == len(fresh):
        raise errors[0]


async def _take(page: Page, reading: _Reading) -> SitemapRead:
    """Count a fetched sitemap against the check (its bytes, its digest, its URL seen) and parse it in a worker."""
    reading.budget -= len(page.body)
    reading.digests.append(hashlib.sha256(page.body).digest())
    reading.seen.add(page.url)
    return await reading.workers.run(page.url, read_sitemap, page, reading.link_budget)


async def _read_child(url: str, reading: _Reading, depth: int) -> None:
    page = await reading.fetcher.fetch(url, kind="source")
    if isinstance(page, NotModified):  # cannot happen without validators; keeps mypy honest
        return
    read = await _take(page, reading)
    del page  # the body is hashed: let it go before the children are read
    await _follow(read, url, reading, depth + 1)


def read_sitemap(page: Page, link_budget: int) -> SitemapRead:
    """One sitemap document, in any of its forms, its links within ``link_budget`` bytes; a parsing worker's job."""
    text = page_text(page)
    if _is_plain_text(text):
        return SitemapRead(gather(_text_links(page, text), link_budget), [])
    if is_feed_document(page.body):
        return SitemapRead(gather(feed_links(page), link_budget), [])
    parsed = _parse(page)
    if not parsed.index:
        return SitemapRead(gather(_links(parsed.entries, page.url), link_budget), [])
    newest_first = sorted(parsed.entries, key=lambda e: e.lastmod or _EPOCH, reverse=True)
    children = [link.url for link in (make_link(entry.loc, page.url, None, None) for entry in newest_first) if link]
    if newest_first and not children:
        raise UnsupportedContentError(page.url, "sitemap index lists no http(s) URL")
    return SitemapRead(Gathered([]), children)


def _links(entries: list[_Entry], base: str) -> Iterator[Link]:
    """The entries' links, made as :func:`gather` asks for them: none past the check's budget of link bytes."""
    for entry in entries[:MAX_LINKS]:
        link = make_link(entry.loc, base, entry.title, entry.published, entry.lastmod)
        if link is not None:
            yield link


def _is_plain_text(text: str) -> bool:
    """A text sitemap: its first character (after a BOM and white space) does not open a tag.

    Judged on the decoded text: a UTF-16 document's bytes do not start with ``<``.
    """
    return not text.lstrip("\ufeff \t\r\n").startswith("<")


def _text_links(page: Page, text: str) -> list[Link]:
    """One absolute URL per line, as the protocol asks; other lines are dropped, but a text with none is no sitemap."""
    lines = [line.strip() for line in text.lstrip("\ufeff").splitlines()]
    lines = [line for line in lines if line][:MAX_LINKS]
    absolute = [line for line in lines if line[:8].lower().startswith(("http://", "https://"))]
    if len(absolute) < len(lines):
        log.debug("text sitemap %s: %d lines are not absolute http(s) URLs", page.url, len(lines) - len(absolute))
    links = [link for link in (make_link(line, page.url, None, None) for line in absolute) if link is not None]
    if lines and not links:
        raise UnsupportedContentError(page.url, "not a sitemap: no line of the text is an http(s) URL")
    return links


def _parse(page: Page) -> _Parsed:
    page = refuse_entity_declarations(page)
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
    locs = (html.unescape(m.group(1).decode("utf-8", "replace")).strip() for m in _LOC.finditer(page.body))
    return _Parsed(index=b"<sitemapindex" in head, entries=[_Entry(loc=loc) for loc in locs])


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
