"""From a fetched page to an article ready to store: extraction, the article record, its fingerprint and rule matches.

All of it is pure CPU work on untrusted bytes, so it runs in a parsing worker
(:mod:`monitor.workers`); the archive is never touched here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor import dedup
from monitor.config import SourceSettings
from monitor.extract import TOO_DEEP, extract, too_deep
from monitor.errors import MonitorError, UnsupportedContentError
from monitor.fetch.decode import looks_binary, page_utf8, utf8_text
from monitor.fetch.urls import canonicalize, is_home, same_outlet, site_of
from monitor.models import Article, Extracted, Link, Match, Page
from monitor.rules import Ruleset
from monitor.workers import worker_ruleset

# An extraction with fewer words is a consent wall or a "subscribe to read" stub, not an article, unless the rules
# find the beat in it: a wire's flash ("URGENT: Russia expels U.S. ambassador ...") runs to 20 or 30 words.
MIN_ARTICLE_WORDS = 40
# A page's metadata is as long as it likes, and each field is stored, indexed, matched and put in
# alert subjects: real headlines run to 200 characters, bylines and outlet names to less.
MAX_TITLE_CHARS = 500
MAX_NAME_CHARS = 200
# An article's text is stored, indexed for search, fingerprinted and matched by the rules. A long read runs to
# 100,000 characters; a page of 4 MB of distinct words cost the archive's writer 1.5 s and 100 MB to index, and a
# worker hundreds of MB to fingerprint. The text is cut at the last paragraph end before this, else at it.
MAX_TEXT_CHARS = 200_000
# A publication date later than the fetch by more than this is no publication's: a time zone written wrong moves a date
# by hours, a template's date of an event ahead, an offer's end or a year like 2099 by more.
FUTURE_SLACK = timedelta(days=1)
# Why a body that is binary data (:func:`monitor.fetch.decode.looks_binary`) is not read as a page.
NOT_A_PAGE = "binary data, not an HTML page"


@dataclass(frozen=True)
class Prepared:
    """An article with its fingerprint and rule matches, computed before the archive is touched."""

    article: Article
    text_print: dedup.TextPrint
    matches: tuple[Match, ...]
    passage_keys: tuple[tuple[str, ...], ...]  # of each match's passage


@dataclass(frozen=True)
class PageRead:
    """What reading one article page gave: the article ready to store (None: the page holds none), how much text
    its extraction found (source health watches it), and the length of the URLs the article is stored under."""

    prepared: Prepared | None
    text_chars: int
    url_chars: int = 0


def prepare(article: Article, ruleset: Ruleset) -> Prepared:
    matches = tuple(ruleset.match(article.text, title=article.title))
    keys = tuple(dedup.passage_keys(match.passage) for match in matches)
    return Prepared(article, dedup.fingerprint(article.text), matches, keys)


def extract_fetched(page: Page) -> Extracted:
    """A fetched page decoded and extracted: a parsing worker's job (``monitor extract`` runs it alone).

    A body of binary data (an image or a program served as text/html, or with no type) raises
    UnsupportedContentError: extracted, it was stored as an article of garbage, or refused as "no article text".
    So does a page nested too deep to parse (:func:`monitor.extract.too_deep`): extraction would give it no text,
    and the page, tried again at each check as one with no text yet, is hostile or broken for good.
    """
    html = page_utf8(page)
    if looks_binary(html):
        raise UnsupportedContentError(page.url, NOT_A_PAGE)
    if too_deep(html):
        raise UnsupportedContentError(page.url, TOO_DEEP)
    return extract(html, page.url)


def extract_file(body: bytes, name: str) -> Extracted:
    """A page saved as a file, decoded as a fetched one (its ``<meta charset>``, else detection) and extracted:
    ``monitor extract FILE``'s job. A file of binary data is refused as a fetched page is, naming it by ``name``."""
    html = utf8_text(body)
    if looks_binary(html):
        raise MonitorError(f"{name}: {NOT_A_PAGE} (give a page saved as HTML, or its URL)")
    return extract(html, None)


def read_article(page: Page, link: Link, source: SourceSettings, fetched: datetime) -> PageRead:
    """Decode and extract an article page, make the article and prepare it with the process's rules: a parsing
    worker's job."""
    extracted = extract_fetched(page)
    article = page_to_article(page.url, extracted, link, source, fetched, min_words=1)
    prepared = None if article is None else prepare(article, worker_ruleset())
    if prepared is not None and not prepared.matches and not dedup.has_words(prepared.article.text, MIN_ARTICLE_WORDS):
        prepared = None  # short, and nothing the rules want: a stub, not the first word of the news
    if prepared is None:
        return PageRead(None, len(extracted.text))
    urls = prepared.article.url, *prepared.article.aliases
    return PageRead(prepared, len(extracted.text), sum(map(len, urls)))


def storable(text: str) -> str:
    """``text`` as valid UTF-8: a lone surrogate (JSON's "\\ud800" decodes to one) cannot be stored, so it is replaced."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def bounded(text: str, limit: int) -> str:
    """``text`` storable and cut to ``limit`` characters, an ellipsis saying so."""
    text = storable(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _within(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters at its last paragraph end, unless that drops more than half of them."""
    if len(text) <= limit:
        return text
    end = text.rfind("\n\n", 0, limit + 1)
    return text[:end] if end >= limit // 2 else text[:limit].rstrip()


def _published(extracted: Extracted, link: Link, fetched: datetime) -> datetime | None:
    """The page's publication date, else its listing's, where it is not after the fetch (a wrong date is worse than
    none: it heads every query of the archive by date)."""
    for when in (extracted.published, link.published):
        if when is not None and when <= fetched + FUTURE_SLACK:  # both aware: every date read is given a zone
            return when
    return None


def page_to_article(
    page_url: str, extracted: Extracted, link: Link, source: SourceSettings, fetched: datetime,
    *, min_words: int = MIN_ARTICLE_WORDS,
) -> Article | None:
    """The article of a page fetched from ``page_url`` (after redirects) and its extraction, or None when the
    page holds no article: fewer than ``min_words`` words."""
    if not dedup.has_words(extracted.text, min_words):
        return None
    url = link.url if page_url == link.url else canonicalize(page_url)  # a link's URL is canonical already
    aliases = {link.url}
    if extracted.canonical_url and extracted.canonical_url != url:
        try:
            declared = canonicalize(extracted.canonical_url, base=page_url)
        except ValueError:
            declared = url
        # rel=canonical is trusted only on the same site: a page cannot claim another outlet's URL. Nor the site's
        # home page, the canonical URL of every page in some templates: each article after the first was taken for
        # a copy of it and dropped.
        if declared != url and same_outlet(declared, url) and not is_home(declared):
            aliases.add(url)
            url = declared
    aliases.discard(url)
    return Article(
        url=url,
        site=site_of(url),
        title=bounded((extracted.title or link.title or url).strip(), MAX_TITLE_CHARS),
        text=storable(_within(extracted.text, MAX_TEXT_CHARS)),
        source=source.name,
        fetched=fetched,
        byline=bounded(extracted.byline, MAX_NAME_CHARS) if extracted.byline else None,
        published=_published(extracted, link, fetched),
        language=extracted.language,
        outlet=bounded(extracted.outlet, MAX_NAME_CHARS) if extracted.outlet else None,
        aliases=tuple(sorted(aliases)),
    )
