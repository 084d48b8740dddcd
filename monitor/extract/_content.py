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
    "input", "textarea", "object", "embed", "video", "audio", "map", "dialog", "figcaption",
    "link", "meta", "head",
]  # fmt: skip
# Usually boilerplate, but some sites put the story inside one: judged like boilerplate classes.
_BOILERPLATE_TAGS = frozenset({"nav", "aside", "footer", "menu"})

# Containers that CMSs put the story in, strongest first.
_CONTAINER_SELECTORS = (
    '[itemprop="articleBody"]',
    ".entry-content, .post-content, .article-content, .article-body, .articleBody, .article__body,"
    " .story-body, .story-content, .post-body, .entry-body, .content-body, .body-text,"
    " .article-text, .news-text, .field-name-body, .c-entry-content, .rich-text, .post-entry,"
    " .entry, .post-text, .blog-content, .single-content, .text-content, .main-text",
    "article, .hentry, .post, .blog-post, .type-post",
    '[role="main"], main, #content, .content, #main',
)

# A class or id that marks boilerplate: a word between "-", "_" or white space, or, for words that
# also start container names (Blogger's "date-outer", WordPress's "tag-x"), the last word of a name.
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
    r"captions?|credits?|byline|author|dateline|timestamp|bio|"
    r"tags|tag-?(?:list|cloud|links)|pagination|pager|rating"
    r")(?:$|[\s_-])"
    r"|(?:^|[\s_-])(?:date|time|meta|tag)(?:$|\s)",
    re.IGNORECASE,
)
# Marks a story container; such a node is only dropped when it is small.
_CONTENT_HINT = re.compile(r"article|content|entry|story|post|main|text|body", re.IGNORECASE)
_PROTECTED_TAGS = frozenset({"html", "body", "main", "article"})

_BLOCK_TAGS = frozenset(
    {
        "p", "div", "section", "article", "main", "header", "h1", "h2", "h3", "h4", "h5", "h6",
        "ul", "ol", "li", "dl", "dt", "dd", "blockquote", "pre", "table", "tbody", "thead",
        "tfoot", "tr", "figure", "address", "hr", "center", "details", "summary", "form",
        "fieldset", "body", "html",
    }
)  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_MIN_PARAGRAPH = 25  # characters: shorter blocks are labels, not prose
_MIN_CONTAINER = 300  # characters of prose before a CMS container is trusted


_MAX_CLIMB = 64  # ancestors credited with a paragraph's text: bounds work on absurd nesting


@dataclass
class _Block:
    """One block of text as read from the page, with how much of it is link text."""

    tag: str
    text: str
    link_chars: int


@dataclass
class _Measure:
    """Text measured once per page: what each element holds, read without recursion."""

    prose: dict[LexborNode, int]  # characters of real paragraphs (not link text) inside
    chars: dict[LexborNode, int]  # all characters inside
    links: dict[LexborNode, int]  # characters inside links inside
    scores: dict[LexborNode, float]  # paragraph evidence credited to parents and grandparents

    def link_density(self, node: LexborNode) -> float:
        chars = self.chars.get(node, 0)
        return self.links.get(node, 0) / chars if chars else 1.0


def extract_text(tree: LexborHTMLParser, title: str | None) -> str:
    """The main text of a parsed page, paragraphs separated by a blank line."""
    body = tree.body
    if body is None:
        return ""
    body.strip_tags(_JUNK_TAGS)
    _drop_boilerplate(body, _measure(body))
    measure = _measure(body)
    container = _known_container(body, measure) or _densest_container(body, measure)
    blocks = _read_blocks(container)
    return "\n\n".join(_keep_blocks(blocks, title))


def _measure(root: LexborNode) -> _Measure:
    """Credit every text node to its nearest block element, then to that block's ancestors."""
    own: dict[LexborNode, list[int]] = {}  # block -> [chars, link chars, commas]
    for node in root.traverse(include_text=True, skip_empty=True):
        if not node.is_text_node:
            continue
        text = node.text_content or ""
        length = len(text.strip())
        if not length:
            continue
        parent = node.parent
        linked = False
        while parent is not None and parent.tag not in _BLOCK_TAGS:
            linked = linked or parent.tag == "a"
            parent = parent.parent
        if parent is None:
            continue
        counts = own.setdefault(parent, [0, 0, 0])
        counts[0] += length
        counts[1] += length if linked else 0
        counts[2] += text.count(",") + text.count("，") + text.count("、")
    measure = _Measure({}, {}, {}, {})
    for block, (chars, linked, commas) in own.items():
        plain = chars - linked
        is_paragraph = plain >= _MIN_PARAGRAPH
        score = 1.0 + commas + min(plain / 100, 3.0)
        node: LexborNode | None = block
        for level in range(_MAX_CLIMB):
            if node is None:
                break
            measure.chars[node] = measure.chars.get(node, 0) + chars
            measure.links[node] = measure.links.get(node, 0) + linked
            if is_paragraph:
                measure.prose[node] = measure.prose.get(node, 0) + plain
                if level in (1, 2):
                    measure.scores[node] = measure.scores.get(node, 0.0) + score / level
            node = node.parent
    return measure


def _known_container(body: LexborNode, measure: _Measure) -> LexborNode | None:
    """The first CMS container (by priority) that holds a real amount of prose.

    Several matches side by side with prose in each (the posts of a live blog) make their
    common parent the container.
    """
    prose = measure.prose
    for selector in _CONTAINER_SELECTORS:
        lengths = {node: prose.get(node, 0) for node in body.css(selector)}
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


def _densest_container(body: LexborNode, measure: _Measure) -> LexborNode:
    """The element where paragraphs cluster: most paragraph evidence, discounted for links."""
    scores = measure.scores
    if not scores:
        return body
    return max(scores, key=lambda node: scores[node] * (1 - measure.link_density(node)))


def _drop_boilerplate(body: LexborNode, measure: _Measure) -> None:
    """Detach elements whose tag, class or id marks them as boilerplate.

    Page-wide wrappers carry such names too (``socialicons-sticky``, WordPress's ``tag-x``
    classes on the article, a story inside an ``<aside>``), so structural tags, and matches that
    hold much of the page's prose or text, are kept.
    """
    total_text = measure.chars.get(body, 0) or 1
    total_prose = measure.prose.get(body, 0) or 1
    pending = list(body.iter())
    doomed: list[LexborNode] = []
    while pending:
        node = pending.pop()
        attrs = node.attributes
        marker = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"
        if node.tag in _BOILERPLATE_TAGS or (
            _BOILERPLATE.search(marker) and node.tag not in _PROTECTED_TAGS
        ):
            text_share = measure.chars.get(node, 0) / total_text
            if text_share < (0.25 if _CONTENT_HINT.search(marker) else 0.6):
                if measure.prose.get(node, 0) < 0.3 * total_prose:
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
