"""Main-text extraction: find the article container, drop boilerplate, write paragraphs.

The steps follow what a careful reader does with a news page: skip what is never prose (scripts,
forms, navigation), look for the box the CMS put the story in, and failing that, for the part of
the page where paragraphs of real sentences cluster; then read it block by block, leaving out
blocks that are mostly links (related stories, tag lists) or bylines, captions and share bars.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.extract._metadata import clean_space

# Never prose: removed wholesale before anything is measured.
_JUNK_TAGS = [
    "script", "style", "noscript", "template", "iframe", "svg", "canvas", "button", "select",
    "input", "textarea", "nav", "aside", "footer", "object", "embed", "video", "audio", "map",
    "dialog", "menu", "figcaption", "link", "meta", "head",
]  # fmt: skip

# Containers that CMSs put the story in, strongest first.
_CONTAINER_SELECTORS = (
    '[itemprop="articleBody"]',
    ".entry-content, .post-content, .article-content, .article-body, .articleBody, .article__body,"
    " .story-body, .story-content, .post-body, .entry-body, .content-body, .body-text,"
    " .article-text, .news-text, .field-name-body, .c-entry-content, .rich-text",
    "article",
    '[role="main"], main, #content, .content, #main',
)

# A class or id token that marks boilerplate. Tokens are split on white space, "-" and "_".
_BOILERPLATE = re.compile(
    r"(?:^|[\s_-])(?:"
    r"nav|navbar|navigation|menu|breadcrumbs?|skip|toolbar|masthead|"
    r"share|shares|sharing\w*|share(?:bar|buttons?|tools|links|this)|social\w*|"
    r"related\w*|recommended|recirc|more-stories|popular|trending|outbrain|taboola|"
    r"newsletter\w*|subscribe|subscription|signup|promo|"
    r"ad|ads|adv|advert\w*|sponsor\w*|"
    r"cookie\w*|consent|gdpr|banner|popup|modal|"
    r"comments?|commentlist|disqus|respond|"
    r"footer|sidebar\w*|widget|"
    r"captions?|credits?|byline|author|dateline|date|time|timestamp|meta|bio|"
    r"tags?|tagcloud|pagination|pager|rating"
    r")(?:$|[\s_-])",
    re.IGNORECASE,
)

_BLOCK_TAGS = frozenset(
    {
        "p", "div", "section", "article", "main", "header", "h1", "h2", "h3", "h4", "h5", "h6",
        "ul", "ol", "li", "dl", "dt", "dd", "blockquote", "pre", "table", "tbody", "thead",
        "tfoot", "tr", "figure", "address", "hr", "center", "details", "summary", "form",
        "fieldset", "body", "html",
    }
)  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_PARAGRAPH_TAGS = ("p", "pre", "blockquote", "li", "h2", "h3", "h4", "td", "dd")
_MIN_PARAGRAPH = 25  # characters: shorter blocks are labels, not prose
_MIN_CONTAINER = 300  # characters of prose before a CMS container is trusted


@dataclass
class _Block:
    """One block of text as read from the page, with how much of it is link text."""

    tag: str
    text: str
    link_chars: int


def extract_text(tree: LexborHTMLParser, title: str | None) -> str:
    """The main text of a parsed page, paragraphs separated by a blank line."""
    body = tree.body
    if body is None:
        return ""
    body.strip_tags(_JUNK_TAGS)
    container = _known_container(body) or _densest_container(body)
    if container is None:
        return ""
    _drop_boilerplate(container)
    blocks = _read_blocks(container)
    return "\n\n".join(_keep_blocks(blocks, title))


def _known_container(body: LexborNode) -> LexborNode | None:
    """The first CMS container (by priority) that holds a real amount of prose.

    Several matches side by side with prose in each (the posts of a live blog) make their
    common parent the container.
    """
    for selector in _CONTAINER_SELECTORS:
        lengths = {node: _prose_length(node) for node in body.css(selector)}
        if not lengths:
            continue
        best = max(lengths, key=lambda node: lengths[node])
        groups: dict[LexborNode, list[int]] = {}
        for node, length in lengths.items():
            if length and node.parent is not None:
                groups.setdefault(node.parent, []).append(length)
        parent = max(groups, key=lambda node: sum(groups[node]), default=None)
        if parent is not None and len(groups[parent]) > 1:
            if sum(groups[parent]) >= max(_MIN_CONTAINER, 1.5 * lengths[best]):
                return parent
        if lengths[best] >= _MIN_CONTAINER:
            return best
    return None


def _prose_length(node: LexborNode) -> int:
    """Characters in the paragraphs of a node: prose, as opposed to menus and link lists."""
    return sum(
        len(text) for p in node.css("p") if len(text := p.text(deep=True).strip()) >= _MIN_PARAGRAPH
    )


def _densest_container(body: LexborNode) -> LexborNode | None:
    """The element where paragraphs cluster, scored on parents and grandparents of paragraphs."""
    scores: dict[LexborNode, float] = {}
    for paragraph in body.css(", ".join(_PARAGRAPH_TAGS)):
        text = paragraph.text(deep=True).strip()
        if len(text) < _MIN_PARAGRAPH:
            continue
        score = 1.0 + text.count(",") + text.count("，") + min(len(text) / 100, 3.0)
        parent = paragraph.parent
        if parent is None:
            continue
        scores[parent] = scores.get(parent, 0.0) + score
        grandparent = parent.parent
        if grandparent is not None:
            scores[grandparent] = scores.get(grandparent, 0.0) + score / 2
    if not scores:
        return body
    return max(scores, key=lambda node: scores[node] * (1 - _link_density(node)))


def _link_density(node: LexborNode) -> float:
    """Share of a node's text that sits inside links."""
    total = len(node.text(deep=True))
    if total == 0:
        return 1.0
    linked = sum(len(a.text(deep=True)) for a in node.css("a"))
    return min(linked / total, 1.0)


def _drop_boilerplate(container: LexborNode) -> None:
    """Detach descendants whose class or id marks them as boilerplate.

    A match that holds most of the container's text is kept: page-wide wrappers carry names like
    ``content-with-sidebar`` too.
    """
    total = len(container.text(deep=True)) or 1
    pending = list(container.iter())
    doomed: list[LexborNode] = []
    while pending:
        node = pending.pop()
        attrs = node.attributes
        marker = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"
        if marker.strip() and _BOILERPLATE.search(marker):
            if len(node.text(deep=True)) < 0.6 * total:
                doomed.append(node)
                continue
        pending.extend(node.iter())
    for node in doomed:
        node.remove()


def _read_blocks(container: LexborNode) -> list[_Block]:
    """Serialise a container into blocks, tracking link text, without recursion (deep pages)."""
    blocks: list[_Block] = []
    parts: list[str] = []
    link_chars = 0
    link_depth = 0
    block_tags: list[str] = [container.tag or "div"]
    stack: list[LexborNode | str] = [container]

    def flush() -> None:
        nonlocal link_chars
        text = "\n".join(clean_space(line) for line in "".join(parts).split("\n")).strip()
        if text:
            blocks.append(_Block(block_tags[-1], text, link_chars))
        parts.clear()
        link_chars = 0

    while stack:
        item = stack.pop()
        if isinstance(item, str):  # closing marker: "/tag"
            tag = item[1:]
            if tag == "a":
                link_depth -= 1
            else:
                flush()
                block_tags.pop()
            continue
        if item.is_text_node:
            text = item.text_content or ""
            parts.append(text)
            if link_depth:
                link_chars += len(text.strip())
            continue
        if not item.is_element_node:
            continue
        tag = item.tag or ""
        if tag == "br":
            parts.append("\n")
            continue
        if tag in _BLOCK_TAGS:
            flush()
            block_tags.append(tag)
            stack.append("/" + tag)
        elif tag == "a":
            link_depth += 1
            stack.append("/a")
        elif tag in _CELL_TAGS:
            parts.append(" ")
        children = list(item.iter(include_text=True))
        children.reverse()
        stack.extend(children)
    flush()
    return blocks


def _keep_blocks(blocks: list[_Block], title: str | None) -> list[str]:
    """The blocks that are story text: not link lists, not the repeated headline."""
    title_key = clean_space(title or "").lower()
    kept: list[str] = []
    for block in blocks:
        length = len(block.text)
        if block.link_chars > 0.5 * length and not (block.tag == "p" and length < 80):
            continue
        if block.tag == "h1" and (not kept or clean_space(block.text).lower() == title_key):
            continue
        kept.append(block.text)
    return kept
