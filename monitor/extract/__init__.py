"""Article extraction with selectolax (Lexbor): main text plus metadata, pure and fast.

``extract(html, url)`` is the one public function, returning an
:class:`~monitor.models.Extracted`. It never raises: a page the parser cannot make sense of
yields an empty ``Extracted``, so one bad page can never stop a check of a source.
"""

from __future__ import annotations

import logging
from datetime import datetime

from selectolax.lexbor import LexborDocumentOptions, LexborHTMLParser

from monitor.collector import collector_paused
from monitor.extract._content import Elements, extract_text, headline_zone, text_from_markup, text_to_story_end
from monitor.extract._dates import LABELLED_READ, find_date, find_labelled_date
from monitor.extract._metadata import Metadata, date_from_url, plausible_date, read_metadata
from monitor.extract._nesting import TOO_DEEP, too_deep
from monitor.models import Extracted

__all__ = ["TOO_DEEP", "extract", "plausible_date", "too_deep"]

logger = logging.getLogger(__name__)

_STRUCTURED_BODY_SHARE = 0.5  # of the JSON-LD articleBody below which the markup's text is given up


def extract(html: str | bytes, url: str | None = None) -> Extracted:
    """Extract title, main text, byline, publication date, canonical URL, language and outlet.

    ``html`` is the page's text, or that text in UTF-8 (:func:`monitor.fetch.decode.page_utf8`
    gives a fetched page so, without decoding what is UTF-8 already).

    The cyclic garbage collector is paused meanwhile (:mod:`monitor.collector`).

    A page that breaks the parser raises: the parsing worker that runs this (:mod:`monitor.workers`)
    tells a page that exhausted its memory from one that tripped a bug, and the pipeline records either
    against the page's URL.
    """
    with collector_paused():
        return _extract(html, url)


def _byline_date(elements: Elements, meta: Metadata) -> datetime | None:
    before, after = headline_zone(elements, meta.titles)
    return find_date(after, meta.language, before) or find_labelled_date(
        text_to_story_end(elements, LABELLED_READ), meta.language
    )


def _parse(raw: bytes) -> LexborHTMLParser:
    """Parse UTF-8 without mutation events.

    Nothing here depends on what they do (a ``<selectedcontent>`` mirroring its ``<option>``),
    and the tree builds faster.
    """
    return LexborHTMLParser(raw, options=LexborDocumentOptions.WO_EVENTS)


def _extract(html: str | bytes, url: str | None) -> Extracted:
    if not html:
        return Extracted()
    # Text goes to Lexbor as UTF-8, encoded here as selectolax would: the tags are counted on it.
    raw = html.encode("utf-8", "ignore") if isinstance(html, str) else html
    if too_deep(raw):
        logger.warning("skipping %s: %s", url or "<document>", TOO_DEEP)
        return Extracted()
    tree = _parse(raw)
    body = tree.body
    elements = Elements(body) if body is not None else None
    meta = read_metadata(tree, url, elements.signals if elements is not None else None)
    text = (
        extract_text(elements, meta.title, meta.titles, meta.description)
        if elements is not None
        else ""
    )
    # The markup wins unless it lost most of the story (a JavaScript app shell, say): the
    # structured copy is often shortened, and has no headings or lists. It is measured by its
    # text, read only where its source is long enough: its own markup is no story.
    if len(text) < _STRUCTURED_BODY_SHARE * len(meta.article_body):
        structured = text_from_markup(meta.article_body)
        if len(text) < _STRUCTURED_BODY_SHARE * len(structured):
            text = structured
    published = meta.published
    if published is None and elements is not None:  # the weakest evidence, read last
        published = _byline_date(elements, meta)
    elif meta.dated_times and elements is not None and elements.after_story(meta.dated_times[0][0]):
        # A <time> below the story may be another's (a related story's, a comment's): one not
        # below it, the URL's date or the byline's wins over it where they give another day.
        other = next(
            (date for node, date in meta.dated_times if not elements.after_story(node)), None
        ) or date_from_url(url) or _byline_date(elements, meta)
        if other is not None and published is not None and other.date() != published.date():
            published = other
    return Extracted(
        title=meta.title,
        text=text,
        byline=meta.byline,
        published=published,
        canonical_url=meta.canonical_url,
        language=meta.language,
        outlet=meta.outlet,
    )
