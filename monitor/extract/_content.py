"""Main-text extraction: find the article container, drop boilerplate, write paragraphs.

The steps follow what a careful reader does with a news page: skip what is never prose (scripts,
forms, navigation), look for the box the CMS put the story in, and failing that, for the part of
the page where paragraphs of real sentences cluster; then read it block by block, leaving out
blocks that are mostly links (related stories, tag lists) or bylines, captions and share bars.
"""

from __future__ import annotations

import html
import operator
import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from heapq import heapify, heappop, heappush
from itertools import chain, compress

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.extract._boilerplate import NAMES_READ, is_boilerplate, is_certain_boilerplate, names_container
from monitor.extract._metadata import SIGNAL_TAGS, clean_space, reads_as
from monitor.extract._nesting import too_deep
from monitor.extract._phrases import Phrases

# Never prose: left out with everything inside before anything is measured.
_JUNK = frozenset(
    {
        "script", "style", "template", "iframe", "svg", "canvas", "button", "select", "input",
        "textarea", "object", "embed", "video", "audio", "map", "dialog", "figcaption", "link",
        "meta", "rt", "rp", "annotation",
    }
)  # fmt: skip
# (<rt> and <rp> are ruby annotations: the reading of a Japanese or Chinese word printed above
# it, which inside the text would split every annotated word. A formula's <annotation> is its
# source, TeX mostly, beside the rendering the reader sees.)
# Left out of the walk: junk, and nodes that are not elements (text without data, comments).
_SKIPPED = _JUNK | {"-text", "-comment", "-doctype", "-document"}
# Where metadata is read from (title, headline, JSON-LD, canonical link, dates), and junk that
# may hold such elements (a <figcaption> its photo's <time>, a <video> its <meta> tags). Not a
# drawing (<svg>) or a formula's source: their elements are theirs, an icon's <title> ("Facebook
# icon") never the page's, as HTML leaves SVG titles out of a document's title.
_SIGNAL_HOLDERS = SIGNAL_TAGS | (
    _JUNK
    - {"meta", "script", "link", "style", "template", "iframe", "input", "textarea", "embed"}
    - {"svg", "annotation"}
)
_SET_APART = _SKIPPED | _SIGNAL_HOLDERS  # one look-up for the elements that are neither
# Usually boilerplate, but some sites put the story inside one: judged like boilerplate classes.
# A <noscript> mostly holds a tracking pixel, but Blogger serves whole posts in one.
_BOILERPLATE_TAGS = frozenset({"nav", "aside", "footer", "menu", "form", "fieldset", "noscript"})
# Tags that say what an element is: boilerplate, or the story's container.
_NAMED_TAGS = frozenset({"article", "main"}) | _BOILERPLATE_TAGS

# Containers that CMSs put the story in, by class name, strongest first; an element of a later
# rank is considered only when no earlier rank holds enough prose.
_STORY_CLASSES = frozenset(
    {
        "entry-content", "post-content", "article-content", "article-body", "articleBody",
        "article__body", "story-body", "story-content", "post-body", "entry-body", "content-body",
        "body-text", "article-text", "news-text", "field-name-body", "c-entry-content",
        "rich-text", "post-entry", "entry", "post-text", "blog-content", "single-content",
        "text-content", "main-text",
    }
)  # fmt: skip
_POST_CLASSES = frozenset({"hentry", "post", "blog-post", "type-post"})
_RANKS = 4
_PROTECTED_TAGS = frozenset({"html", "body", "main", "article"})
_DIALOG_ROLES = frozenset({"dialog", "alertdialog"})  # ARIA roles of an overlay

_BLOCK_TAGS = frozenset(
    {
        "p", "div", "section", "article", "main", "header", "h1", "h2", "h3", "h4", "h5", "h6",
        "ul", "ol", "li", "dl", "dt", "dd", "blockquote", "pre", "table", "tbody", "thead",
        "tfoot", "tr", "figure", "address", "hr", "center", "details", "summary", "form",
        "fieldset", "body", "html",
    }
)  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_PICTURE_TAGS = frozenset({"img", "picture"})
_PICTURE_SCAN = 32  # elements of an inline box looked at for a picture (a hostile page nests thousands)
_SCRIPT_LINK = 'a[href^="javascript:" i]'  # a link to a script, whatever the scheme's case
# Tag ids below this are Lexbor's own table (LXB_TAG__LAST_ENTRY), the same in every document;
# a tag it does not know (a custom element) gets the address of the document's entry for it.
_LEXBOR_TAGS = 0xC4
_TAG_NAMES: dict[int, str] = {}  # the names of Lexbor's own tags met so far, by id
_TEXT_ID = LexborHTMLParser("text").body.first_child.tag_id  # type: ignore[union-attr]  # every text node's
_CHUNK = 512  # elements: the walk grows its arrays by this many at a time
_LINE_BREAK = "\u2028"  # stands for <br> while a block is read; source newlines are just space
_WORDS = re.compile(r"[^\W_]+")  # the words of a name or a heading, apart at any mark
_ANCHOR_WORDS = 3  # words of an id from which it may be a heading's anchor, not a part's name
_SENTENCE_ENDS = (".", "!", "?", "…", '"', "”", "“", "»", "«", ")", "。", "！", "？")
_ITEM_TAGS = frozenset({"li", "dd", "tr"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_TITLE_HEADINGS = frozenset({"h1", "h2"})  # where a story's own headline may stand
_SUBHEADINGS = _HEADINGS - {"h1"}
_TEASER = 300  # characters of a teaser card's summary at most
_SUBHEADED = 150  # characters of the paragraphs either side of a linked subheading
_LINK_LIST = 0.4  # share of link text above which a block is navigation, not story
_PROSE_AROUND_LINKS = 40  # characters outside links that make such a block a sentence with a link...
_PROSE_LINKS = 0.7  # ...unless links are more than this share of it
_MIN_PARAGRAPH = 25  # characters: shorter blocks are labels, not prose
_WIDEN = 0.7  # share of prose in what a parent adds for the container to grow into it
_LABEL = 60  # characters: a shorter block may be a label (a heading, "Tags:")
_LINES = 6  # short blocks in a row from which they are lines of the text, not labels
_BYLINE = re.compile(r"(?:by|von|par|por|door|av|af|di)\s+\w", re.IGNORECASE)
# 12:30, 6.8.2009, 06/08/09, 2009-08-06: each opens with a digit, written first so that the
# search skips to digits in C instead of trying each form at every character (3× faster).
_DATE_OR_TIME = re.compile(r"\d(?:\d?:\d{2}|\d?[./]\s?\d{1,2}[./]\s?\d{2,4}|\d{3}-\d{2}-\d{2})")
_CREDIT = 200  # characters: a longer block naming a photographer is prose about them
# A picture's credit or caption set as text, or a source line: it opens with the label of one
# ("Foto:", "Image:", "Abbildung 3:", "Quelle:"), or carries a copyright sign ("... © AFP").
_CREDIT_LABEL = re.compile(
    r"\W*(?:fotos?|photos?|bild(?:er)?|titelbild|bildquelle|fotocredit|image|credits?"
    r"|quellen?|source|fuente|источник|copyright|abbildung(?: \d+)?|abb\.)\s*:",
    re.IGNORECASE,
)
_COPYRIGHT = re.compile(r"(?:^|[\s|(])©")
_APPEAL = 350  # characters: a longer last paragraph is story, whatever it asks
_STORY_NOUNS = "(?:stories|articles|posts|news|reading|on this topic)"
# Appeals to the reader, in the languages of the corpora: subscribe, follow us, our app, support
# or donate, newsletters, "you may also like". Matched against lower-cased text: five times
# faster than with re.IGNORECASE.
_APPEALS = Phrases(
    "subscribe", "sign up", "newsletter", r"follow (?:us|the \w+|@)",
    r"download (?:our|the) \w* ?app",
    "support (?:our|us|local|independent)", "donate to (?:our|us|local|independent)",
    "become a (?:member|subscriber|patron)", "make your contribution",
    "if you (?:enjoyed|liked) (?:reading )?this",
    "abonnier", "folgen sie uns", "folge uns", "unterstützen sie", "jetzt spenden",
    "könnte (?:sie|dich) auch interessieren",
    "abonnez", "suivez-nous", "soutenez", "faites un don", "inscrivez-vous",
    "suscr[ií]b", "siguenos", "síguenos", "únete", "hazte miembro",
    "canal de (?:telegram|youtube|whatsapp)", "подпис[ыа]", "наш канал",
    # sharing, letters to the editor, the reader's support, news by mail or app
    "share (?:this|the) (?:article|story|post)", "artikel teilen", "partager cet",
    "compartir (?:esta|la)", "letter to the editor", "leserbrief", "your support",
    "stay up[- ]to[- ]date", "nichts mehr (?:verpassen|versäumen)",
    "in your (?:inbox|postfach)", "in dein (?:inbox|postfach)", "straight to your",
    # comment sections' prompts
    *(
        f"{word} (?:kommentare|comments?|reply)"
        for word in ("keine", "no", "view", "leave a", "add a")
    ),
    "kommentieren", "kommentar schreiben", "einloggen", "eingeloggt", "logged in", "log in to",
    "anmelden, um",
    # disclosures of advertising and affiliate links
    "affiliate", "advertisers", "provision vom", "enthält werbung", "sponsored post",
    "publicidad", "publicité",
    # disclaimers of a contributor's opinion ("the views expressed are the author's own")
    "views expressed", r"do(?:es)? not necessarily reflect", "meinung des autors", "meinung der autorin",
    "nicht notwendigerweise", "n'engagen?t que", "no refleja necesariamente", "no necesariamente refleja",
)  # fmt: skip
_AD_LABEL = re.compile(r"\W*anzeige\b")  # "Anzeige" opening a text: an advertisement
# A block that only says an advertisement stands there (the slot itself is a script's): sites set
# the label in the story's own box, between its paragraphs, in the language of the page.
_AD_SLOT = re.compile(
    r"\W*(?:advertisements?|advertising|ads?|sponsored(?: content)?|anzeigen?|werbung|publicité|publicidad"
    r"|pubblicità|реклама|(?:the )?(?:story|article) continues below(?: this)? advertisement)\W*",
    re.IGNORECASE,
)
# Headings of the links templates put after a story: related, recommended, most read.
_MORE_STORIES = Phrases(
    *(
        f"{word} {_STORY_NOUNS}"
        for word in (
            "related", "similar", "recommended", "more", "most popular", "most read", "popular",
            "trending", "latest",
        )
    ),
    "you (?:may|might) also like", "read (?:more|next|also)", "^most (?:popular|read)$",
    "^related$",
    "ähnliche (?:beiträge|artikel|themen)", "mehr zum thema",
    "weitere (?:artikel|beiträge|nachrichten)", "das könnte sie auch interessieren",
    "lesen sie auch", "auch interessant", "zum weiterlesen", "meistgelesen",
    "à lire aussi", "lire aussi", "sur le même sujet", "dans la même rubrique",
    "te puede interesar", "noticias relacionadas", "lee también", "más noticias",
    "читайте также", "по теме", "похожие (?:статьи|новости)", "другие новости",
)  # fmt: skip  # matched against lower-cased text
# A label over the next story an infinite scroll renders under the page's own, in the box of
# that story or right above it (matched against lower-cased text).
_NEXT_STORY = Phrases(
    r"next (?:story|article|post)", "up next", "read next", "coming up next",
    "nächster artikel", "nächste geschichte", "article suivant",
    r"siguiente (?:noticia|artículo|nota)", "следующая (?:новость|статья)",
)  # fmt: skip
# Names of the box under a headline that holds its byline or date: a story's head, not a section's.
_BYLINE_NAMES = re.compile(r"(?<![a-z])(?:byline|author|date|timestamp|published|autor|auteur)")
_STORY_HEAD = 12  # elements either side of a headline searched for its byline or date
_HEADLINE_ELEMENTS = 256  # elements a headline holds at most (a word in a box of its own, each: some dozens)
_BOX_HEADLINES = 16  # headlines of one box judged as another story's, at most
_HEADING_CHARS = 1000  # characters a section's heading holds at most
# Attributes in which infinite-scroll templates give each story's box the story's URL.
_URL_ATTRIBUTES = frozenset(
    {"data-url", "data-href", "data-permalink", "data-link", "data-canonical", "data-article-url", "data-share-url"}
)
_ZONE_BEFORE = 150  # characters before the headline read for a dateline (a kicker line)
_ZONE_AFTER = 300  # and after it (the byline, the date line; not yet the story)
_BLOG_HEADLINES = frozenset({"h2", "h3"})  # a blog post's headline, where the site's name has the <h1>
_STORY_LINE = 100  # characters of a block's own text from which it is story, not a byline
_AFTERWORD = 0.2  # prose after the container, as a share of its own, below which it is a note
_DOMINATED = 0.5  # a CMS box with less prose than this share of the densest part is a teaser
_MIN_CONTAINER = 300  # characters of prose before a CMS container is trusted
_UNNAMED = 1000  # characters of prose left out by names, from which names are not trusted
_SCATTERED = 0.5  # share of the page's prose the story holds, without a CMS container
_SCATTERED_LINKS = 0.5  # share of link text in what gathering it adds, above which it is not
_SUMMARY = 80  # characters of a declared summary from which it is the story's, not the site's
_LINK_POST = 5  # times the text kept that a story's box holds for its link lists to be the story


@dataclass
class _Block:
    """One block of text as read from the page, with how much of it is link text."""

    tag: str
    text: str
    link_chars: int
    parent: int = -1  # the position of the block element's parent


def _skipped_space(node: LexborNode) -> str:
    """The white space-only text nodes right before a text node, back to the previous text."""
    spaces = []
    sibling = node.prev
    while sibling is not None:
        if sibling.is_empty_text_node:
            spaces.append(sibling.text_content or "")
        elif sibling.text_content is not None:
            break
        sibling = sibling.prev
    return "".join(reversed(spaces))


class Elements:
    """The page's elements in document order, each measured once, in arrays indexed by position.

    Text is kept the way it sits between tags: an element's head (its text before its first
    child element) and its tail (the text after it, up to its next sibling). A paragraph is the
    text a block element holds outside its child blocks (inline markup included); it is prose
    when it has enough characters outside links. The page is walked once, junk left out; every
    figure is then computed in one pass in reverse document order, which meets each element after
    all of its descendants: linear in the page, whatever the nesting depth. Boilerplate is
    detached in the arrays only, the DOM is never changed. The walk also collects the elements
    metadata is read from, sparing a search of the page for them.
    """

    def __init__(self, root: LexborNode) -> None:
        self.nodes = [root]
        self.tags = [root.tag or ""]
        self.parent = [-1]
        self.size = [1]  # elements in the subtree, so a subtree is nodes[i : i + size[i]]
        self.heads = [""]
        self.tails = [""]
        self.own_chars = [0]  # characters of the text directly inside (white space aside)
        self.commas = [0]  # commas in that text: lists and long sentences
        # Metadata elements (and junk that may hold some) below the root, with their tags, in
        # document order.
        self.signals: list[tuple[str, LexborNode]] = []
        self.headlines: list[int] = []  # positions of the <h1> elements
        self.times: list[int] = []  # and of the <time> elements
        self.story_end = 0  # the position past the story's container, once extract_text found it
        self._blocks: dict[int, int] = {}  # the block each inline element climbed from sits in (block_of)
        self._times_after: frozenset[int] | None = None  # the <time>s past the story, by mem_id (after_story)
        self._walk(root)
        count = len(self.tags)
        self.chars = [0] * count  # characters inside
        self.links = [0] * count  # characters inside links
        self.inline_chars = [0] * count  # characters of an inline element (its block counts them)
        # Characters a block's paragraph holds, its inline elements' included (an inline element's: its
        # inline_chars).
        self.own_text: list[int] = []
        self.prose = [0] * count  # characters of prose paragraphs inside
        self.own_score = [0.0] * count  # evidence of this block's own paragraph
        self.child_score = [0.0] * count  # evidence of the paragraphs among its children
        self.alive = [True] * count
        self._measure()

    def _walk(self, root: LexborNode) -> None:
        """Record the elements depth first, without recursion: a child iterator per open element.

        Junk elements are left out with their subtrees, and comments; the text on either side
        of one joins up. Text nodes of ASCII white space only (two thirds of all text nodes: the
        layout of the source) are skipped by Lexbor without becoming Python objects; only where
        such a node sits between two texts does it count, and there it is read back: between
        two text nodes of one head or tail here, between heads and tails by ``spaced``.

        A link whose target is a script (``javascript:``) is no link: its text is the page's own.
        Lexbor finds them by one selector, in C, sparing a read of every link's target here
        (and a search of the page's source for the scheme, which took longer).
        """
        script_links = {node.mem_id for node in root.css(_SCRIPT_LINK)}
        nodes, tags, parent, size = self.nodes, self.tags, self.parent, self.size
        heads, tails, own_chars, commas = self.heads, self.tails, self.own_chars, self.commas
        signals = self.signals
        count = 1
        up = 0  # the innermost open element
        last = -1  # its last closed child: text goes to that one's tail, else to up's head
        room = 1  # elements the arrays of defaults have room for
        # Names by tag id: a name is decoded into a new string at every read, an id is a number.
        # Lexbor's own tags keep their ids from page to page: their names are remembered here.
        names = _TAG_NAMES.copy()
        children = root.iter(True, True)  # include_text, skip_empty: by position, faster
        outer: list[Iterator[LexborNode]] = []  # the child iterators of up's ancestors
        head_pieces: dict[int, list[str]] = {}  # the slots of more than one text node, by position
        tail_pieces: dict[int, list[str]] = {}
        while True:
            for node in children:
                tag_id = node.tag_id  # read first: elements outnumber texts, and have no text to read
                if tag_id == _TEXT_ID:
                    text = node.text_content
                    if text is None:
                        continue
                    # Text after a comment or junk, and maybe skipped white space, joins the slot's: its pieces are
                    # joined once the walk is done (joined at each, 150,000 pieces of one head took seconds).
                    if last < 0:
                        if heads[up]:
                            head_pieces.setdefault(up, [heads[up]]).extend((_skipped_space(node), text))
                        else:
                            heads[up] = text
                    elif tails[last]:
                        tail_pieces.setdefault(last, [tails[last]]).extend((_skipped_space(node), text))
                    else:
                        tails[last] = text
                    chars = len(text.strip())
                    if not chars:  # white space beyond ASCII's (a no-break space)
                        continue
                    own_chars[up] += chars
                    if "," in text:  # a test is cheaper than a count, a call
                        commas[up] += text.count(",")
                    if not text.isascii() and ("，" in text or "、" in text):  # CJK commas
                        commas[up] += text.count("，") + text.count("、")
                    continue
                try:  # a subscript costs less than a call to get; a tag is new on a page once
                    tag = names[tag_id]
                except KeyError:
                    tag = names[tag_id] = node.tag or ""
                    if tag_id < _LEXBOR_TAGS:
                        _TAG_NAMES[tag_id] = tag
                if tag in _SET_APART:
                    if tag in _SIGNAL_HOLDERS:
                        signals.append((tag, node))
                        if tag == "h1":
                            self.headlines.append(count)
                        elif tag == "time":
                            self.times.append(count)
                    if tag in _SKIPPED:
                        continue
                elif tag == "a" and script_links and node.mem_id in script_links:
                    tag = "span"
                nodes.append(node)
                tags.append(tag)
                parent.append(up)
                if count == room:  # the arrays of defaults grow a chunk at a time
                    room += _CHUNK
                    size += [1] * _CHUNK
                    heads += [""] * _CHUNK
                    tails += [""] * _CHUNK
                    own_chars += [0] * _CHUNK
                    commas += [0] * _CHUNK
                up, last = count, -1
                count += 1
                outer.append(children)
                children = node.iter(True, True)
                break
            else:  # up closes
                size[up] = count - up
                up, last = parent[up], up
                if not outer:
                    break
                children = outer.pop()
        for figures in (size, heads, tails, own_chars, commas):
            del figures[count:]  # the room left over
        for slots, pieces in ((heads, head_pieces), (tails, tail_pieces)):
            for i, parts in pieces.items():
                slots[i] = "".join(parts)

    def spaced(self, before: int, empty: list[int], after: int) -> bool:
        """Whether the source has white space between the texts of two slots the walk kept.

        A slot is an element's head (``2 * i``) or tail (``2 * i + 1``); ``empty`` are the
        slots between, which kept no text. Their text nodes, if any, were white space only.
        """
        return (
            self._source_text(before)[-1:].isspace()
            or any(map(self._source_text, empty))
            or self._source_text(after)[:1].isspace()
        )

    def _source_text(self, slot: int) -> str:
        """A head's or tail's text nodes as the page has them, skipped white space included."""
        node = self.nodes[slot >> 1]
        sibling = node.next if slot & 1 else node.first_child
        texts = []
        while sibling is not None:
            text = sibling.text_content
            if text is not None:
                texts.append(text)
            elif (sibling.tag or "") not in _SKIPPED:
                break  # the next element the walk kept: the slot ends
            sibling = sibling.next
        return "".join(texts)

    def _measure(self) -> None:
        """Fill the figures, children before parents (a hot loop: plain lists, few branches)."""
        tags, parent = self.tags, self.parent
        chars, links, prose = self.chars, self.links, self.prose
        own_score, child_score = self.own_score, self.child_score
        inline = self.own_text = self.own_chars[:]  # characters not yet claimed by a block
        inline_links = [0] * len(tags)
        inline_chars = self.inline_chars
        commas = self.commas[:]
        for i in range(len(tags) - 1, -1, -1):
            own = inline[i]
            if own:
                tag = tags[i]
                own_links = own if tag == "a" else inline_links[i]
                if tag in _BLOCK_TAGS or not i:
                    chars[i] += own
                    links[i] += own_links
                    plain = own - own_links
                    if plain >= _MIN_PARAGRAPH:
                        prose[i] += plain
                        # min(plain / 100, 3.0), without the call
                        score = 1.0 + commas[i] + (plain / 100 if plain <= 300 else 3.0)
                        own_score[i] = score
                        if i:
                            child_score[parent[i]] += score
                else:
                    up = parent[i]
                    inline_chars[i] = own
                    inline[up] += own
                    inline_links[up] += own_links
                    commas[up] += commas[i]
            if i and chars[i]:
                up = parent[i]
                chars[up] += chars[i]
                links[up] += links[i]
                prose[up] += prose[i]

    def score(self, i: int) -> float:
        """Paragraph evidence: paragraphs among the children, half for the grandchildren's."""
        grandchildren = 0.0
        j, end = i + 1, i + self.size[i]
        while j < end:
            if self.parent[j] == i:
                grandchildren += self.child_score[j]
            j += self.size[j]
        return self.child_score[i] + grandchildren / 2

    def prose_after(self, i: int) -> int:
        """Prose in the siblings that follow element ``i``."""
        total, j, end = 0, i + self.size[i], self.parent[i] + self.size[self.parent[i]]
        while j < end:
            total += self.prose[j]
            j += self.size[j]
        return total

    def block_of(self, i: int) -> int:
        """The block element that is ``i`` or holds it (the root at most). Each climb is remembered for the elements
        it passed: climbed anew for each inline box, 15,000 boxes inside 15,000 inline elements took 13 s."""
        passed = []
        block = i
        while block > 0 and self.tags[block] not in _BLOCK_TAGS:
            known = self._blocks.get(block)
            if known is not None:
                block = known
                break
            passed.append(block)
            block = self.parent[block]
        for j in passed:
            self._blocks[j] = block
        return block

    def after_story(self, node: LexborNode) -> bool:
        """Whether a ``<time>`` element comes after the story's container (once :func:`extract_text` found it): in
        the list of related stories or the comments below it, or a sidebar's list of events."""
        if not self.story_end:
            return False
        if self._times_after is None:  # found once: looked for at each call, 14,000 dates took 16 s
            self._times_after = frozenset(self.nodes[i].mem_id for i in self.times if i >= self.story_end)
        return node.mem_id in self._times_after

    def contains(self, i: int, j: int) -> bool:
        return i <= j < i + self.size[i]

    def link_density(self, i: int) -> float:
        return self.links[i] / self.chars[i] if self.chars[i] else 1.0

    def remove(self, i: int) -> None:
        """Detach a subtree and take its text out of every ancestor's figures."""
        self.remove_all((i,))

    def remove_all(self, roots: Iterable[int]) -> None:
        """Detach subtrees, none inside another, and take their text out of every ancestor's figures in one pass up
        the arrays: each ancestor is met once, however many of them it holds. Walked up from each in turn, 10,000
        boxes 10,000 elements deep took 9 s."""
        chars, links, prose, parent = self.chars, self.links, self.prose, self.parent
        gone: dict[int, list[int]] = {}  # by ancestor: the chars, links and prose it loses
        for i in roots:
            self.alive[i : i + self.size[i]] = [False] * self.size[i]
            up = parent[i]
            if up >= 0:
                self.child_score[up] -= self.own_score[i]
                lost = gone.setdefault(up, [0, 0, 0])
                lost[0] += chars[i]
                lost[1] += links[i]
                lost[2] += prose[i]
        # Descendants before ancestors (an ancestor comes first in document order): each is done once its losses are in.
        pending = [-i for i in gone]
        heapify(pending)
        while pending:
            i = -heappop(pending)
            lost = gone[i]
            chars[i] -= lost[0]
            links[i] -= lost[1]
            prose[i] -= lost[2]
            up = parent[i]
            if up < 0:
                continue
            if up in gone:
                above = gone[up]
                above[0] += lost[0]
                above[1] += lost[1]
                above[2] += lost[2]
            else:
                gone[up] = lost[:]
                heappush(pending, -up)


def extract_text(
    elements: Elements, title: str | None, titles: tuple[str, ...] = (), description: str = ""
) -> str:
    """The main text of a walked page, paragraphs separated by a blank line.

    ``description`` is the summary the page declares: where the page shows it but it was left
    out, and what was chosen holds no story's worth of prose (a video's page, its summary in
    a box named "caption"), it is the story's first paragraph.
    """
    given = elements
    page_prose = elements.prose[0]
    top = _main_container(elements, titles)
    if (
        elements.prose[top] < _MIN_CONTAINER
        and page_prose - elements.prose[top] >= _UNNAMED
        and not _holds_story(elements, top)
    ):
        # Names left the page without a story's worth of prose, though it has plenty, and no
        # story container (a short post above its comments): they misled (a live ticker's
        # entries, a forum's posts, named "comment"). The page is read again as it is, its
        # story where paragraphs cluster, or failing that where most of its prose is: a
        # forum's posts, each one paragraph deep in boxes of its own, are outnumbered in
        # paragraphs by a list of teasers beside them.
        elements = Elements(elements.nodes[0])
        dense = _widen(_densest_container(elements), elements)
        center = _prose_center(elements)
        if elements.contains(center, dense) or elements.contains(dense, center):
            top = _gather_scattered(dense, elements)
        else:
            top = center
    blocks = _read_blocks(elements, top)
    given.story_end = top + elements.size[top]  # the same positions, if the page was walked again
    every_title = (title or "", *titles)
    kept = _keep_blocks(blocks, every_title)
    if _is_link_post(elements, top, blocks, kept):
        kept = _keep_blocks(blocks, every_title, links_are_story=True)
    if elements.prose[top] < _MIN_CONTAINER and _shows_left_out(elements, description):
        kept.insert(0, description)
    return "\n\n".join(kept)


def _shows_left_out(tree: Elements, description: str) -> bool:
    """Whether an element left out shows the page's declared summary as its own text.

    A short summary ("Latest news from ...") is the site's tagline, not the story's.
    """
    if len(description) < _SUMMARY:
        return False
    for i, head in enumerate(tree.heads):
        if len(head) >= len(description) and not tree.alive[i] and clean_space(head) == description:
            return True
    return False


def _is_link_post(tree: Elements, top: int, blocks: list[_Block], kept: list[str]) -> bool:
    """Whether the story is its links: a digest of links or a list of deals, posted as a story.

    Link lists are dropped as navigation, and on such a page that leaves a closing line at
    most. It is told by its box, named as a story, holding far more link text than anything
    kept, on a page without prose anywhere else to be the story instead. A section front's
    list of headlines, named as no story, stays empty: rules must not fire on it.
    """
    return (
        tree.prose[0] < _MIN_CONTAINER
        and _LINK_POST * sum(map(len, kept)) < sum(len(block.text) for block in blocks)
        and _in_story(tree, top)
    )


def text_to_story_end(tree: Elements, limit: int) -> str:
    """The page's text down to the end of the story's container (all of it before that is known),
    boilerplate included (bylines sit in boxes named "meta"), its first ``limit`` characters or so."""
    heads, tails = tree.heads, tree.tails
    end = tree.story_end or len(tree.tags)
    step = 256  # elements joined at a time: the length is checked once per step
    texts = []
    size = 0
    for start in range(0, end, step):
        stop = min(start + step, end)
        texts.append(" ".join(chain.from_iterable(zip(heads[start:stop], tails[start:stop]))))
        size += len(texts[-1])
        if size >= limit:
            break
    return " ".join(texts)  # its white space as it is: the dates' patterns take any run of it


def headline_zone(tree: Elements, titles: tuple[str, ...]) -> tuple[str, str]:
    """The text before and after the headline, where bylines and datelines sit ("" without one).

    The headline is the first ``<h1>`` that reads as a declared title. The zone after it
    ends where the story begins: its first long block. Boilerplate is not left out here:
    templates name the byline's box "byline" or "meta".

    Where no ``<h1>`` reads as a title (blog templates give it to the site's name and the post's
    title an ``<h2>`` or ``<h3>``), the first of those that does is the headline, and only the
    text after it is given: before it sits the masthead, with its date of today.
    """
    tags, heads, tails = tree.tags, tree.heads, tree.tails
    h = next((h for h in tree.headlines if _is_headline(tree, h, titles)), -1)
    before: list[str] = []
    if h < 0:
        h = next(
            (i for i, tag in enumerate(tags) if tag in _BLOG_HEADLINES and _is_headline(tree, i, titles)), -1
        )
        if h < 0:
            return "", ""
    else:
        size = 0
        for j in range(h - 1, -1, -1):
            if size >= _ZONE_BEFORE:
                break
            before += (tails[j], heads[j])
            size += len(tails[j]) + len(heads[j])
    after: list[str] = []
    size = 0
    for j in range(h + tree.size[h], len(tags)):
        if size >= _ZONE_AFTER or tree.own_chars[j] >= _STORY_LINE:
            break  # the story begins: its dates are events, not the publication
        after += (heads[j], tails[j])
        size += len(heads[j]) + len(tails[j])
    return clean_space(" ".join(reversed(before))), clean_space(" ".join([tails[h], *after]))


def text_from_markup(fragment: str) -> str:
    """Paragraphs of a snippet that may hold HTML (JSON-LD ``articleBody`` sometimes does).

    Some CMSs write that HTML escaped ("&lt;p&gt;There are..."), as if for an attribute: it is
    unescaped, else its tags would be read as words.
    """
    if "<" not in fragment and "&lt;" in fragment:
        fragment = html.unescape(fragment)
    if "<" not in fragment:
        lines = (clean_space(line) for line in fragment.splitlines())
        return "\n\n".join(line for line in lines if line)
    raw = fragment.encode("utf-8", "ignore")
    if too_deep(raw):  # escaped in the page ("\u003cx>", "&lt;x&gt;"), its nesting escaped the page's guard
        return ""
    body = LexborHTMLParser(raw).body  # a document's body: its root is every top node
    if body is None:
        return ""
    return "\n\n".join(block.text for block in _read_blocks(Elements(body), 0))


def _main_container(tree: Elements, titles: tuple[str, ...]) -> int:
    """The position of the element that holds the story, boilerplate and other stories detached."""
    ranked = _judge_names(tree, titles)
    _detach_other_stories(tree, titles)
    _detach_listed_stories(tree, titles, ranked[2])
    dense = _densest_container(tree)
    known = _known_container(ranked, tree, dense)
    if known >= 0:
        return _widen(known, tree)
    return _gather_scattered(_widen(dense, tree), tree)


def _detach_other_stories(tree: Elements, titles: tuple[str, ...]) -> None:
    """Detach the other stories an infinite-scroll template renders under the page's own.

    For an alerter this is the dangerous failure: a rule would fire on the next story, which
    the alert does not link to. Such a template repeats itself: each story is a container named
    as one (``<article>``, ``post``, ``entry-content``...) holding its own ``<h1>`` headline,
    side by side with the page's own. Page builders also give every section its ``<h1>`` in a
    box of its own, but not in a story container, so those stay. The page's story is the one
    whose headline reads as a declared title, else the first. Where one reads as the title,
    a box of another kind is another story by what heads it (:func:`_is_next_story`).
    """
    tags, parent, alive = tree.tags, tree.parent, tree.alive
    headlines = [i for i in tree.headlines if alive[i]]
    if len(headlines) < 2:
        return
    anchor = next((i for i in headlines if _is_headline(tree, i, titles)), -1)
    titled = anchor >= 0
    if not titled:
        anchor = headlines[0]
    # Each of the anchor's ancestors, with its child on the way down to the anchor; and, for the elements a climb from
    # a headline passed, where it ended. Climbed anew for each headline, a title 12,000 elements deep and 24,000
    # other headlines took 8 s.
    toward_anchor: dict[int, int] = {}
    child = anchor
    while parent[child] >= 0:
        toward_anchor[parent[child]] = child
        child = parent[child]
    climbed: dict[int, int] = {}
    judged: dict[int, int] = {}  # headlines judged so far in each box
    for i in headlines:
        if not alive[i] or tree.contains(anchor, i) or tree.contains(i, anchor):
            continue  # one headline inside the other (broken markup): no two stories side by side
        wrapper, passed = i, []  # climbs to the child of the lowest element that holds both headlines
        while parent[wrapper] >= 0 and parent[wrapper] not in toward_anchor:
            if wrapper in climbed:
                wrapper = climbed[wrapper]
                break
            passed.append(wrapper)
            wrapper = parent[wrapper]
        climbed.update(dict.fromkeys(passed, wrapper))
        # A box of more headlines than a story's template gives one is judged by its first few: each judgement reads
        # the box up to its headline, and 5,500 headlines in one box took 7 s.
        judged[wrapper] = judged.get(wrapper, 0) + 1
        if judged[wrapper] > _BOX_HEADLINES:
            continue
        own = toward_anchor[parent[wrapper]]
        if (
            tags[own] == tags[wrapper] and _is_story(tree, own) and _is_story(tree, wrapper)
        ) or (titled and _is_next_story(tree, anchor, own, i, wrapper)):
            tree.remove(wrapper)


def _is_next_story(tree: Elements, anchor: int, own: int, h: int, box: int) -> bool:
    """Whether the box an ``<h1>`` heads, beside the page's own headline, holds another story.

    An infinite scroll renders the next story in a box repeating the template's: in a feed
    beside the page's, nested at the end of its ``<article>``, or in a box of its own under a
    label ("Next story"). Its ``<h1>`` is at the box's top, and the page's story keeps a story's
    worth of prose outside the box. Such a box is a story's by what heads it: the label, a URL
    of its own where the page's box gives its URL in the same attribute, or a byline or a date
    beside the headline, as beside the page's. A headline that is all link is a teaser card's
    ("Read next", opening the story's box), however signed. A long read or a page builder
    heads its sections with ``<h1>`` too, styled as the headline and in boxes alike, but with
    no byline or date; a section inside the story's box, with the headline outside, leaves too
    little prose outside. A box holding several headlines with bylines (a live blog's entries) holds other
    stories only where the page's own story sits in a box like theirs, beside them. ``own``
    is the box of the page's headline beside ``box``.
    """
    outer = tree.parent[box]
    if (
        tree.prose[outer] - tree.prose[box] < _MIN_CONTAINER
        or _prose_before(tree, box, h) >= _STORY_LINE
        or tree.links[h] >= tree.chars[h]  # a teaser card's headline, linked
    ):
        return False
    if _labelled_next(tree, box, h) or _other_url(tree, anchor, own, h, box):
        return True
    if not (_heads_story(tree, own, anchor) and _heads_story(tree, box, h)):
        return False
    start = bisect_left(tree.headlines, box)
    heads = sum(1 for j in tree.headlines[start:] if j < box + tree.size[box] and tree.alive[j])
    return heads == 1 or _repeats(tree, anchor, h, box)


def _prose_before(tree: Elements, box: int, h: int) -> int:
    """Prose inside an element before a heading it holds."""
    total, j = 0, box + 1
    while j < h:
        if tree.contains(j, h):
            j += 1  # an ancestor of the heading: its children before it are read
        else:
            total += tree.prose[j] if tree.alive[j] else 0
            j += tree.size[j]
    return total


def _labelled_next(tree: Elements, box: int, h: int) -> bool:
    """Whether a label over the next story ("Next story", "Up next") stands in its box before its
    headline, or is the element right before the box (not a box of its own: the page's story
    may hold a "Read next" card)."""
    parent, start = tree.parent, box
    before = box - 1
    while before > parent[box] and parent[before] != parent[box]:
        before = parent[before]
    if before > parent[box] and tree.size[before] <= _STORY_HEAD:
        start = before
    heads, tails = tree.heads, tree.tails
    for j in range(start, h):
        for text in (heads[j], "" if tree.contains(j, h) else tails[j]):
            if text and len(text) < _LABEL and _NEXT_STORY.search(text.lower()):
                return True
    return False


def _other_url(tree: Elements, anchor: int, own: int, h: int, box: int) -> bool:
    """Whether a box around a headline names a URL (``data-url``...) other than the one the page's
    box names in the same attribute: the address of the story it holds, which a scroll puts in
    the browser's address bar when the reader gets there."""
    urls = _box_urls(tree, anchor, own)
    return any(urls.get(name, value) != value for name, value in _box_urls(tree, h, box).items())


def _box_urls(tree: Elements, h: int, box: int) -> dict[str, str]:
    """The URLs the elements from a headline up to its box give in attributes such as ``data-url``."""
    urls: dict[str, str] = {}
    j = h
    while True:
        for name, value in tree.nodes[j].attributes.items():
            if name in _URL_ATTRIBUTES and value:
                urls.setdefault(name, value)
        if j == box:
            return urls
        j = tree.parent[j]


def _repeats(tree: Elements, anchor: int, h: int, box: int) -> bool:
    """Whether an element from a headline up to its box repeats one around the page's headline, by
    tag and classes, below the element holding both: the page's story sits in a box like it."""
    outer = tree.parent[box]
    own = set()
    j = tree.parent[anchor]
    while j != outer:
        own.add(_box_names(tree, j))
        j = tree.parent[j]
    j = tree.parent[h]
    while True:
        names = _box_names(tree, j)
        if (names[1] or names[0] == "article") and names in own:
            return True
        if j == box:
            return False
        j = tree.parent[j]


def _box_names(tree: Elements, i: int) -> tuple[str, str]:
    """An element's tag and its classes, in order."""
    return tree.tags[i], " ".join(sorted((tree.nodes[i].attributes.get("class") or "").split()))


def _heads_story(tree: Elements, box: int, h: int) -> bool:
    """Whether a byline or a date stands beside a headline in its box: above it in the element
    holding the headline (a kicker line; not in the teasers or the text before it), or under it
    before the text begins."""
    tags, heads, size = tree.tags, tree.heads, tree.size
    end = min(h + size[h] + _STORY_HEAD, box + size[box])
    j = max(tree.parent[h] + 1, h - _STORY_HEAD)
    while j < end:
        if h <= j < h + size[h]:
            j = h + size[h]  # the headline's own words
            continue
        if j > h and tree.own_chars[j] >= _STORY_LINE:
            return False  # the text begins
        text = heads[j].strip()
        if (
            tags[j] == "time"
            or (text and (_is_byline(text) or _is_dateline(text)))
            or _BYLINE_NAMES.search((tree.nodes[j].attributes.get("class") or "").lower())
        ):
            return True
        j += 1
    return False


def _detach_listed_stories(tree: Elements, titles: tuple[str, ...], stories: list[int]) -> None:
    """Detach the stories listed beside the page's own when only that one is headed by its title.

    Some templates render the page's story as the first of a list of whole stories, each an
    ``<article>`` (or a post's box) headed by an ``<h2>``, not an ``<h1>`` as
    :func:`_detach_other_stories` needs: an investigation's earlier parts, an infinite scroll.
    Their common parent looks like a live blog's, whose posts are read together; but a live
    blog's title heads the page, outside every post. Here one of the siblings is headed by the
    declared title: that one is the story, and the others headed by headlines of their own are
    not. Boxes of one page (a recipe's title box, its ingredients) are told by the one headed by
    the title holding too little prose to be a story.
    """
    groups: dict[tuple[int, str], list[int]] = {}
    for i in dict.fromkeys(stories):  # a candidate is listed once for each of its names
        if tree.prose[i] and tree.alive[i]:
            groups.setdefault((tree.parent[i], tree.tags[i]), []).append(i)
    for members in groups.values():
        if len(members) < 2:
            continue
        headed = [i for i in members if _headed_by(tree, i, titles)]
        if len(headed) != 1 or tree.prose[headed[0]] < _MIN_CONTAINER:
            continue
        for i in members:
            if i != headed[0] and _headed_by(tree, i, ()):
                tree.remove(i)


def _headed_by(tree: Elements, i: int, titles: tuple[str, ...]) -> bool:
    """Whether an element holds an ``<h1>`` or ``<h2>``; with ``titles``, whether its first reads as one of them."""
    tags = tree.tags
    for j in range(i + 1, i + tree.size[i]):
        if tags[j] in _TITLE_HEADINGS and tree.alive[j]:
            return not titles or _is_headline(tree, j, titles)
    return False


def _in_story(tree: Elements, i: int) -> bool:
    """Whether an element is or is inside one named as a whole story."""
    up = i
    while up >= 0 and not _is_story(tree, up):
        up = tree.parent[up]
    return up >= 0


def _holds_story(tree: Elements, i: int) -> bool:
    """Whether an element is, is inside or holds one named as a whole story, with prose."""
    if _in_story(tree, i):
        return True
    prose, alive = tree.prose, tree.alive
    return any(
        prose[j] and alive[j] and _is_story(tree, j) for j in range(i + 1, i + tree.size[i])
    )


def _is_story(tree: Elements, i: int) -> bool:
    """Whether an element is named as a whole story: ``<article>``, a post or a story body."""
    attrs = tree.nodes[i].attributes
    rank = _container_rank(
        tree.tags[i],
        attrs.get("class") or "",
        attrs.get("id") or "",
        attrs.get("itemprop") or "",
        attrs.get("role") or "",
    )
    return 0 <= rank <= 2


def _known_container(ranked: list[list[int]], tree: Elements, dense: int) -> int:
    """The first CMS container (by rank) that holds a real amount of prose, or -1.

    Several matches side by side with prose in each (the posts of a live blog) make their
    common parent the container. A match is passed over when the densest part of the page lies
    outside it and holds much more prose: templates reuse the names for teaser boxes.
    """
    for ranked_candidates in ranked:
        candidates = list(compress(ranked_candidates, map(tree.alive.__getitem__, ranked_candidates)))
        if not candidates:
            continue
        best = max(candidates, key=lambda i: tree.prose[i])
        groups: dict[int, list[int]] = {}
        for i in candidates:
            if tree.prose[i] and tree.parent[i] >= 0:
                groups.setdefault(tree.parent[i], []).append(tree.prose[i])
        parent = max(groups, key=lambda i: sum(groups[i]), default=-1)
        siblings = groups.get(parent, [])
        if len(siblings) > 1 and sum(siblings) >= max(_MIN_CONTAINER, 1.5 * tree.prose[best]):
            best = parent
        if tree.prose[best] >= _MIN_CONTAINER and (
            tree.contains(best, dense) or tree.prose[best] >= _DOMINATED * tree.prose[dense]
        ):
            return best
    return -1


@lru_cache(maxsize=8192)
def _container_rank(tag: str, classes: str, id_: str, itemprop: str, role: str) -> int:
    """How strongly an element's names say it holds the story: 0 (strongest) to 3, or -1."""
    if itemprop == "articleBody":
        return 0
    names = set(classes.split())
    if not names.isdisjoint(_STORY_CLASSES):
        return 1
    if tag == "article" or not names.isdisjoint(_POST_CLASSES):
        return 2
    if tag == "main" or role == "main" or "content" in names or id_ in ("content", "main"):
        return 3
    return -1


def _densest_container(tree: Elements) -> int:
    """The element where paragraphs cluster: most paragraph evidence, discounted for links."""
    best, best_score = 0, 0.0
    child_score, alive = tree.child_score, tree.alive
    # Most elements have no paragraphs among their children: passed over in C.
    for i in compress(range(len(child_score)), child_score):
        if child_score[i] <= 0 or not alive[i]:
            continue
        score = tree.score(i) * (1 - tree.link_density(i))
        if score > best_score:
            best, best_score = i, score
    return best


def _widen(i: int, tree: Elements) -> int:
    """Climb to the parent while what it adds is mostly prose.

    Many CMSs split one story over sibling boxes (a lede box, text blocks between images);
    the best single box then holds only part of it. A little prose after the box, though, is
    a call to action or a note on the site, not more story, unless the parent also adds a
    story's worth before the box: then the box was the second half of a story cut in two.
    """
    while i > 0:
        up = tree.parent[i]
        extra_chars = tree.chars[up] - tree.chars[i]
        if extra_chars:
            extra_prose = tree.prose[up] - tree.prose[i]
            extra_links = tree.links[up] - tree.links[i]
            if extra_prose < _WIDEN * extra_chars or extra_links > 0.3 * extra_chars:
                break
            after = tree.prose_after(i)
            if 0 < after < _AFTERWORD * tree.prose[i] and extra_prose - after < _MIN_CONTAINER:
                break
        i = up
    return i


def _gather_scattered(i: int, tree: Elements) -> int:
    """The lowest ancestor holding half the page's prose, where the densest part holds less.

    Some pages set each paragraph in a box of its own, boxes apart (a recipe's introduction,
    ingredients and steps, a page builder's sections): no element has many paragraphs among
    its children, and the densest one is a single step. Without a CMS container to go by,
    the story is then where most of the page's prose is, unless what that adds is mostly links.
    """
    half = _SCATTERED * tree.prose[0]
    up = i
    while up > 0 and tree.prose[up] < half:
        up = tree.parent[up]
    if tree.links[up] - tree.links[i] > _SCATTERED_LINKS * (tree.chars[up] - tree.chars[i]):
        return i
    return up


def _prose_center(tree: Elements) -> int:
    """The lowest element that holds half the page's prose."""
    half = _SCATTERED * tree.prose[0]
    i = 0
    while True:
        j, end = i + 1, i + tree.size[i]
        while j < end and (tree.prose[j] < half or not tree.alive[j]):
            j += tree.size[j]
        if j >= end:
            return i
        i = j


def _is_headline(tree: Elements, h: int, titles: tuple[str, ...]) -> bool:
    """Whether an ``<h1>`` reads as one of the titles the page declares (:func:`reads_as`).

    One holding more than :data:`_HEADLINE_ELEMENTS` elements is no headline, and its text is not read: headlines
    nested in one another (broken markup, or a hostile page's 14,000) made reading each one's text quadratic.
    """
    if tree.size[h] > _HEADLINE_ELEMENTS:
        return False
    headline = clean_space(tree.nodes[h].text())
    return any(reads_as(headline, title) for title in titles)


def _judge_names(tree: Elements, titles: tuple[str, ...]) -> list[list[int]]:
    """Read every class and id once: detach boilerplate, and rank the story containers.

    Links are left to the block they sit in (dropped with it when it is mostly links): their
    names say what they point to ("author", "tag"), and cutting them out garbles sentences.

    Page-wide wrappers carry boilerplate names too (``socialicons-sticky``, WordPress's
    ``tag-x`` classes on the article, a story inside an ``<aside>``), so structural tags, and
    matches that hold much of the page's prose or text, are kept. Not so an overlay that is
    never the story (a consent popup, a login dialog, a lightbox): however much text it holds,
    it counts as a page's wrapper only if it holds an ``<h1>``.
    """
    ranked: list[list[int]] = [[] for _ in range(_RANKS)]
    total_text = tree.chars[0] or 1
    total_prose = tree.prose[0] or 1
    removed_until = 0  # elements come in document order: skip those inside a removed subtree
    nodes, tags, chars, prose = tree.nodes, tree.tags, tree.chars, tree.prose
    headlines = tree.headlines
    own_headlines: list[int] | None = None  # those that read as a title, read once needed (rarely)
    removed: list[int] = []  # detached together once all are judged (Elements.remove_all)
    # Elements without text do no harm. Removing a subtree changes the figures of its ancestors
    # only, which come earlier: which of the later elements hold text, and their figures, stay the same.
    for i in compress(range(len(tags)), map(operator.or_, chars, tree.inline_chars)):
        if i <= removed_until:
            continue
        tag = tags[i]
        if tag == "a":
            continue
        attrs = nodes[i].attributes
        if not attrs and tag not in _NAMED_TAGS:
            continue  # neither names nor a tag that says what it is (one in four)
        classes, id_ = attrs.get("class") or "", attrs.get("id") or ""
        marker = f"{classes} {id_}" if classes or id_ else ""
        if len(marker) > NAMES_READ:
            classes, id_ = _first_names(classes), _first_names(id_)
            marker = f"{classes} {id_}"
        # A dialog (a consent box, a sign-up prompt) is an overlay whatever its names ("cmpbox"), as its role says.
        dialog = attrs.get("role") in _DIALOG_ROLES
        if tag in _BOILERPLATE_TAGS or dialog or (
            marker
            and tag not in _PROTECTED_TAGS
            and is_boilerplate(marker)
            and not (
                id_
                and _is_heading_anchor(tree, i, id_)
                and not is_boilerplate(classes)
                and not is_certain_boilerplate(marker)
            )
            and not _in_sentence(tree, i)
        ):
            certain = dialog or is_certain_boilerplate(marker)
            wrapper = chars[i] >= (0.25 if names_container(marker) else 0.6) * total_text
            story = prose[i] >= 0.3 * total_prose and not certain
            if certain and wrapper:  # a page's wrapper holds its headline; an overlay does not
                start = bisect_left(headlines, i)
                wrapper = start < len(headlines) and headlines[start] < i + tree.size[i]
            elif not (certain or wrapper or story) and prose[i] >= _MIN_CONTAINER:
                # A box named as boilerplate ("modal", "panel") that holds the page's headline
                # and a story's worth of prose is the story, shown over a list of teasers.
                if own_headlines is None:
                    own_headlines = [h for h in headlines if _is_headline(tree, h, titles)]
                start = bisect_left(own_headlines, i)
                wrapper = start < len(own_headlines) and own_headlines[start] < i + tree.size[i]
            if not (wrapper or story):
                removed_until = i + tree.size[i] - 1
                removed.append(i)
                continue
        if not prose[i]:
            continue  # no container of the story
        itemprop, role = attrs.get("itemprop") or "", attrs.get("role") or ""
        if len(itemprop) + len(role) > NAMES_READ:
            itemprop, role = _first_names(itemprop), _first_names(role)
        rank = _container_rank(tag, classes, id_, itemprop, role)
        if rank >= 0:
            # A candidate counts once for each name it carries (class, id, itemprop, role, tag):
            # the weight the choice among sibling candidates was tuned with.
            names = (
                ("class" in attrs)
                + ("id" in attrs)
                + ("itemprop" in attrs)
                + ("role" in attrs)
                + (tag in _NAMED_TAGS)
            )
            ranked[rank] += [i] * names
    tree.remove_all(removed)
    return ranked


def _first_names(names: str) -> str:
    """The whole names within the first :data:`NAMES_READ` characters of an attribute (a longer first one, cut)."""
    if len(names) <= NAMES_READ:
        return names
    end = names.rfind(" ", 0, NAMES_READ + 1)
    return names[: end if end > 0 else NAMES_READ]


def _in_sentence(tree: Elements, i: int) -> bool:
    """Whether an inline element is part of a sentence: its ``<p>`` holds a paragraph's worth besides it.

    A dateline, a name or a term marked up in the story's first sentence ("<span
    class=dateline>KOBE –</span> A total of ...") belongs to it, whatever its box is named:
    cutting it out garbles the sentence. Such an element goes or stays with its paragraph.
    Only a ``<p>``: templates put credits and share prompts beside the text of a ``<div>``. Nor a picture's
    caption or credit, in an inline box holding the picture ("<span class=storyimage><img><span class=caption>©
    Getty Images</span></span> The reason why ..."): kept, it made the paragraph read as a credit, dropped whole.
    Only the first elements of the box are looked at.
    """
    if tree.chars[i] or not tree.inline_chars[i]:
        return False  # a block, or an inline element holding one
    up = tree.parent[i]
    box = up if tree.tags[up] not in _BLOCK_TAGS else i
    if not _PICTURE_TAGS.isdisjoint(tree.tags[box + 1 : box + min(tree.size[box], _PICTURE_SCAN)]):
        return False
    block = tree.block_of(up)
    return tree.tags[block] == "p" and tree.own_text[block] - tree.inline_chars[i] >= _MIN_PARAGRAPH


def _is_heading_anchor(tree: Elements, i: int, id_: str) -> bool:
    """Whether an element's id is its heading's words, an anchor to a section of the text.

    Documentation tools and long reads give each section the id of its heading
    ("sharing-with-a-single-developer", "Social_media_reaction"), which can hold any word a
    template's part is named by. Some cut it to its first words and set a word of their own
    before it and a counter after ("nav_nur_die_folie__1" for "Nur die Folie bleibt zurück"):
    the id then holds the heading's first words. The heading is the element itself, or the
    heading a section opens with. A name of a word or two is a part's, titled after it
    ("comments", "related stories"); so is one whose heading reads as a label over other
    stories ("you may also like").
    """
    heading = i if tree.tags[i] in _HEADINGS else i + 1
    if (heading >= i + tree.size[i] or tree.tags[heading] not in _HEADINGS or tree.size[heading] > _HEADLINE_ELEMENTS
            or tree.chars[heading] > _HEADING_CHARS):
        return False  # no heading, or one holding others or a story's text (nested 4,000 deep: each one's read whole)
    words = _WORDS.findall(id_.lower())
    while words and words[-1].isdigit():
        words.pop()  # the tool's counter after the heading's words
    text = tree.nodes[heading].text()
    heading_words = _WORDS.findall(text.lower())
    if words[:1] != heading_words[:1]:
        words = words[1:]  # the tool's own word before the heading's
    return len(words) >= _ANCHOR_WORDS and heading_words[: len(words)] == words and not _heads_more_stories(text)


def _read_blocks(tree: Elements, top: int) -> list[_Block]:
    """Serialise an element's subtree into blocks, tracking link text, skipping detached parts.

    An element closes where its subtree ends in the arrays, so the open ones wait on a stack.
    A <br> has no content: it opens and closes at once. Heads and tails are slots (``2 * i``
    and ``2 * i + 1``): where two texts would run together, the white space the walk skipped
    between them is looked up.
    """
    tags, heads, tails, size, alive = tree.tags, tree.heads, tree.tails, tree.size, tree.alive
    blocks: list[_Block] = []
    parts: list[str] = []
    link_chars = 0
    link_depth = 0
    block_tags: list[str] = [tags[top] or "div"]
    block_parents: list[int] = [tree.parent[top]]  # the parent element of each open block
    opened: list[int] = []  # innermost last
    previous = 0  # the slot of the last text added
    empty: list[int] = []  # the slots passed since, without text

    def flush() -> None:
        nonlocal link_chars
        text = "".join(parts)
        if _LINE_BREAK in text:
            text = "\n".join(clean_space(line) for line in text.split(_LINE_BREAK)).strip()
        else:
            text = clean_space(text)
        if text:
            blocks.append(_Block(block_tags[-1], text, link_chars, block_parents[-1]))
        parts.clear()
        link_chars = 0

    def add(text: str, slot: int) -> None:
        nonlocal link_chars, previous
        if (
            parts
            and not parts[-1][-1].isspace()
            and not text[0].isspace()
            and tree.spaced(previous, empty, slot)
        ):
            parts.append(" ")
        empty.clear()
        previous = slot
        parts.append(text)
        if link_depth:
            link_chars += len(text.strip())

    ends: list[int] = []  # where the subtree of each open element ends
    i, end = top, top + size[top]
    while True:
        while ends and ends[-1] <= i:
            ends.pop()
            closed = opened.pop()
            tag = tags[closed]
            if tag == "a":
                link_depth -= 1
            elif tag in _BLOCK_TAGS:
                if parts:
                    flush()
                block_tags.pop()
                block_parents.pop()
            if closed != top:
                if tails[closed]:
                    add(tails[closed], 2 * closed + 1)
                else:
                    empty.append(2 * closed + 1)
        if i == end:
            break
        if not alive[i]:
            if tails[i]:
                add(tails[i], 2 * i + 1)
            else:
                empty.append(2 * i + 1)
            i += size[i]
            continue
        tag = tags[i]
        if tag in _BLOCK_TAGS:
            if parts:
                flush()
            block_tags.append(tag)
            block_parents.append(tree.parent[i])
        elif tag == "a":
            link_depth += 1
        elif tag == "br":
            parts.append(_LINE_BREAK)
        elif tag in _CELL_TAGS:
            parts.append(" ")
        if heads[i]:
            add(heads[i], 2 * i)
        else:
            empty.append(2 * i)
        opened.append(i)
        ends.append(i + size[i])
        i += 1
    flush()
    return blocks


def _keep_blocks(
    blocks: list[_Block], titles: tuple[str, ...], links_are_story: bool = False
) -> list[str]:
    """The blocks that are story text.

    Left out: link lists (related stories, tag clouds), a lone byline, date or time, the repeated
    headline, an advertisement's label ("Advertisement", "Anzeige"), and a short label whose
    section was left out ("More on this topic" above a list of links) or that ends the text
    ("Comments closed"). A short ``<p>`` is the author's when it ends the text or a sentence.
    Short items of a list or a table are content, not labels, and so are six or more short
    blocks in a row: a text written line by line (a poem, a CJK blog's lines, a list set as
    paragraphs), where labels come alone or in pairs. When labels are all a page has (a short
    notice, a stub), they are its text: a page is never emptied by this rule alone. With
    ``links_are_story`` (a post of links), link lists are kept.
    """
    title_keys = {clean_space(title).lower() for title in titles}
    # An advertisement's label goes as if the slot had never been there: a short paragraph above it
    # is judged by what follows the slot, not left out as a label of it.
    blocks = [block for block in blocks if _AD_SLOT.fullmatch(block.text) is None]
    plain = [
        not (
            (_is_link_list(b) and not links_are_story)
            or _is_dateline(b.text)
            or _is_byline(b.text)
            or _is_credit(b.text)
            or (b.tag not in _ITEM_TAGS and _heads_more_stories(b.text))
            or (b.tag == "h1" and b.text.lower() in title_keys)
        )
        for b in blocks
    ]
    if not links_are_story:
        _keep_linked_subheadings(blocks, plain)
    keep = plain[:]
    run = 0  # short blocks kept so far in a row, from the end
    for i in range(len(blocks) - 1, -1, -1):  # backwards: a label above a dropped label goes too
        block = blocks[i]
        if not keep[i] or len(block.text) >= _LABEL:
            run = 0
            continue
        run += 1
        if run > _LINES:
            keep[i] = True  # the rest of the run was kept as it reached _LINES: set once, not the run again at each
            # block (a page of 160,000 short lines took 23 s)
        elif run == _LINES:
            keep[i : i + run] = [True] * run
        elif i + 1 < len(blocks):
            # A short sentence in a <p> is the author's ("Be there or be square!"), even when
            # the label after it goes: a sign-off is followed by the template's leftovers.
            sentence = block.tag == "p" and block.text.endswith(_SENTENCE_ENDS)
            # An item of a list or table is content, unless it stands alone right above what is
            # left out for what it is: there a row or item heads a list of links or share
            # buttons ("More on this topic", "Share this article").
            in_list = i > 0 and plain[i - 1] and blocks[i - 1].tag in _ITEM_TAGS
            item = block.tag in _ITEM_TAGS and (plain[i + 1] or in_list)
            keep[i] = keep[i + 1] or sentence or item
        else:
            # The author's own last paragraph, however short ("— Reuters", a closing line in
            # <strong>), is story; a label at the end is a heading or an unpunctuated box.
            keep[i] = block.tag == "p" or (
                block.tag not in _HEADINGS and block.text.endswith(_SENTENCE_ENDS)
            )
    if not links_are_story:
        _drop_teaser_summaries(blocks, keep)
    if not any(keep):
        keep = plain
    texts = [block.text for block, kept in zip(blocks, keep, strict=True) if kept]
    while len(texts) > 1 and _is_appeal(texts[-1]):
        texts.pop()
    start = 0  # disclosures ("this post contains affiliate links") and appeals above the story
    while start < len(texts) - 1 and _is_appeal(texts[start]):
        start += 1
    return texts[start:]


def _keep_linked_subheadings(blocks: list[_Block], plain: list[bool]) -> None:
    """Keep a subheading that is all one link where it stands between paragraphs of the story.

    A list article links each item's heading (the game, the product, the place it reviews),
    and documentation and long reads link each heading to itself (a permalink anchor): such a
    heading is all link text, and was dropped as a link list. Such a subheading stands between
    two long paragraphs of the text, all three in one box, the one below a ``<p>`` without
    links. A teaser card keeps its linked headline in a box of its own: a "read also" card
    set inside the story holds no paragraph beside it, and in a list of cards the paragraph
    above is the previous card's summary, in another box. (Sections that each open with a
    linked heading, in a box per section, lose their headings still: not told from cards.)
    """
    for i in range(1, len(blocks) - 1):
        block = blocks[i]
        if block.tag not in _SUBHEADINGS or plain[i] or block.link_chars < len(block.text):
            continue
        before, after = blocks[i - 1], blocks[i + 1]
        if (
            plain[i - 1]
            and plain[i + 1]
            and after.tag == "p"
            and after.parent == block.parent == before.parent
            and len(before.text) >= _SUBHEADED
            and len(after.text) >= _SUBHEADED
            and not after.link_chars
        ):
            plain[i] = True


def _drop_teaser_summaries(blocks: list[_Block], keep: list[bool]) -> None:
    """Leave out the summaries of teaser cards that end the text.

    A card is a headline that is all one link, left out as a link list, above a short
    paragraph: its summary, kept as prose. Two or more such cards, and nothing else kept
    after them, are a list of other stories under the story, when the text above them is
    longer than they are: a section front's cards are all it has.
    """
    summaries: list[int] = []
    summary = -1  # the kept block after the headline being looked for
    for i in range(len(blocks) - 1, -1, -1):
        block = blocks[i]
        if keep[i]:
            if summary >= 0 or block.tag in _HEADINGS or len(block.text) > _TEASER:
                break
            summary = i
        elif summary >= 0 and block.tag in _SUBHEADINGS and block.link_chars >= len(block.text):
            summaries.append(summary)
            summary = -1
    if len(summaries) < 2:
        return
    story = sum(len(block.text) for block in compress(blocks[: summaries[-1]], keep))
    if story > sum(len(blocks[i].text) for i in summaries):  # a section front is all cards
        for i in summaries:
            keep[i] = False


def _is_appeal(text: str) -> bool:
    """Whether a paragraph asks the reader to subscribe, follow, share, donate or sign up,
    discloses advertising ("this post contains affiliate links"), or disclaims a contributor's
    opinion ("the views expressed are the author's own").

    Templates put such notes in the story's own box, written as prose, so neither their
    names nor their links give them away. Only short ones at either end of the text go, one
    after the other: there the outlet speaks, not the story.
    """
    if len(text) > _APPEAL:
        return False
    lowered = text.lower()
    return _APPEALS.search(lowered) or _AD_LABEL.match(lowered) is not None


def _is_link_list(block: _Block) -> bool:
    """Mostly link text: a menu, a list of related stories, "read more".

    A sentence that links a long name keeps words of its own around the link ("a new report
    released on Monday by <a>Stanford University's Center on Poverty and Inequality</a> calls
    that into question"); a link list's entries have a date or a source beside them at most.
    """
    links, size = block.link_chars, len(block.text)
    if links <= _LINK_LIST * size:
        return False
    return size - links < _PROSE_AROUND_LINKS or links > _PROSE_LINKS * size


def _is_byline(text: str) -> bool:
    """A short block that names the author: "By Jane Doe", "Von Max Muster"."""
    return len(text) < _LABEL and _BYLINE.match(text) is not None


def _heads_more_stories(text: str) -> bool:
    """A label over links to other stories ("Related stories", "Mehr zum Thema", "Read more").

    The links under it are left out as links, but teaser cards keep their summaries, which
    keep the label: it goes by what it says. Not an item of a list, which is an entry ("Read
    the latest news" in a list of what an app does), not the heading of one.
    """
    return len(text) < _LABEL and _MORE_STORIES.search(text.lower())


def _is_credit(text: str) -> bool:
    """A picture's credit or caption, or a source line, left as a block of its own ("Foto:
    dpa", "… © AFP", "Quelle: Landesregierung").

    Templates set captions in ``<p>`` or ``<div>`` as often as in ``<figcaption>``. A block of
    several lines with a copyright sign is left alone: that is a page's own signed text.
    """
    if len(text) > _CREDIT:
        return False
    if ":" in text and _CREDIT_LABEL.match(text) is not None:  # a label ends in a colon
        return True
    return "©" in text and "\n" not in text and _COPYRIGHT.search(text) is not None


def _is_dateline(text: str) -> bool:
    """A short block that is a date or a time, with at most a word or two around it."""
    if len(text) >= 50 or _DATE_OR_TIME.search(text) is None:
        return False
    return sum(map(str.isalpha, text)) <= 15
