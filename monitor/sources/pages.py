"""Links from a listing page: the ``links`` CSS selector, resolved against ``<base href>``."""

from __future__ import annotations

from ada_url import join_url
from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.errors import UnsupportedContentError
from monitor.extract import TOO_DEEP, too_deep
from monitor.fetch.decode import page_utf8
from monitor.models import Link, Page
from monitor.sources.links import make_link

__all__ = ["page_links"]


def page_links(page: Page, selector: str) -> list[Link]:
    """Links picked by ``selector``, in document order (not yet deduplicated or filtered).

    A selected element that is not itself a link (``h3`` instead of ``h3 a``)
    contributes the first link inside it, so a selector written for the
    headline still works.
    """
    body = page_utf8(page)
    if too_deep(body):  # the parser's time grows with the square of the depth: 0.32 MB took 5.7 s
        raise UnsupportedContentError(page.url, TOO_DEEP)
    tree = LexborHTMLParser(body)
    base = page.url
    base_node = tree.css_first("base[href]")
    if base_node is not None:
        try:  # as a browser does: an invalid <base href> leaves the page's own URL as the base
            base = join_url(page.url, base_node.attributes.get("href") or "")
        except ValueError:
            pass
    links: list[Link] = []
    for node in tree.css(selector):
        anchor = node if node.attributes.get("href") is not None else node.css_first("a[href]")
        if anchor is None:
            continue
        link = make_link(anchor.attributes.get("href"), base, _title(node, anchor), None)
        if link is not None:
            links.append(link)
    return links


def _title(node: LexborNode, anchor: LexborNode) -> str | None:
    text = anchor.text(separator=" ", strip=True) or node.text(separator=" ", strip=True)
    return text or anchor.attributes.get("title")
