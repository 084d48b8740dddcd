"""The rule query language: its syntax tree and its parser (pure).

Grammar, loosest binding first::

    query    := or
    or       := and ("OR" and)*
    and      := unary (["AND"] unary)*              two clauses side by side: both
    unary    := "NOT" unary | near
    near     := primary (["NOT"] ("NEAR/n" | "ONEAR/n") primary)*
    primary  := "(" or ")" | FIELD ":" primary | "phrase" | word | word* | @list

``#`` starts a comment that runs to the end of the line; a comment just above a clause
of the top-level ``OR`` names that clause in ``monitor rules test``, and so does one in a group
of clauses that the whole query puts first under conditions (``( clauses ) AND ...``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TypeAlias



class QuerySyntaxError(ValueError):
    """A query that cannot be parsed; ``position`` counts characters from 1."""

    def __init__(self, position: int, message: str) -> None:
        super().__init__(f"position {position}: {message}")
        self.position = position


@dataclass(frozen=True)
class Words:
    """A word or a quoted phrase: its words side by side, each as written in the query."""

    words: tuple[str, ...]
    source: str
    ids: tuple[int, ...] = ()  # each word's matcher, once compiled


@dataclass(frozen=True)
class ListRef:
    """``@name``: any entry of a named list; ``@name.surnames``: any surname of its people."""

    name: str
    surnames: bool
    source: str


@dataclass(frozen=True)
class Pattern:
    """A regular expression (the older ``patterns`` key), matched over a unit's folded text."""

    regex: re.Pattern[str]
    source: str


@dataclass(frozen=True)
class Near:
    """``left NEAR/n right``: both within ``distance`` words; ``ordered``: left first.

    ``veto``: the spans of ``left`` with no ``right`` that near (``NOT NEAR``), a local exclusion.
    ``distance`` -1 (only built from the older ``context`` key) means overlapping.
    """

    left: Node
    right: Node
    distance: int
    ordered: bool
    veto: bool
    source: str


@dataclass(frozen=True)
class Any_:
    """``a OR b``: either."""

    items: tuple[Node, ...]
    source: str
    labels: tuple[str, ...] = ()  # per item, the comment naming it (the top level's, or a group's with comments)
    places: bool = False  # every item has places in the text (set once compiled)

    @cached_property
    def phrases(self) -> tuple[dict[int, tuple[tuple[int, ...], ...]], tuple[Node, ...]]:
        """Its phrases by a word of each (its matcher's id, once compiled), and its other items.

        Most phrases of a list are not in a given article: the words an article holds are met with these at once,
        not each phrase's looked up. The longest word, not the first: "the" of "the ambassador" is in every
        article, "ambassador" is not.
        """
        by_word: dict[int, tuple[tuple[int, ...], ...]] = {}
        for item in self.items:
            if isinstance(item, Words):
                word = max(zip(item.words, item.ids), key=lambda pair: len(pair[0]))[1]
                by_word[word] = (*by_word.get(word, ()), item.ids)
        return by_word, tuple(item for item in self.items if not isinstance(item, Words))


@dataclass(frozen=True)
class All:
    """``a AND b``: both."""

    items: tuple[Node, ...]
    source: str


@dataclass(frozen=True)
class Not:
    """``NOT a``: the unit does not hold ``a``."""

    item: Node
    source: str


@dataclass(frozen=True)
class Field:
    """``title:a``, ``lead:a``, ``paragraph:a``, ``article:a``: ``a`` looked for there; ``sentence:a``: in one sentence."""

    name: str
    item: Node
    source: str


Node: TypeAlias = Words | ListRef | Pattern | Near | Any_ | All | Not | Field
Positional = (Words, ListRef, Pattern, Near)


def positional(node: Node) -> bool:
    """Whether a node has places in the text (words, phrases, lists, NEAR, OR of them), as NEAR needs."""
    if isinstance(node, Any_):
        return node.places or all(positional(item) for item in node.items)
    return isinstance(node, Positional)


COMMENT = re.compile(r"#[^\n]*")  # to the end of its line

_TOKEN = re.compile(
    r"""(?P<space>\s+)|(?P<comment>\#[^\n]*)|(?P<open>\()|(?P<close>\))
      |(?P<phrase>"[^"]*"?)
      |(?P<near>(?:NEAR|ONEAR)/(?P<distance>\d+)(?![^\s()"]))
      |(?P<bad_near>(?:NEAR|ONEAR)(?![\w'\u2019])[^\s()"]*)
      |(?P<op>(?:AND|OR|NOT)(?![^\s()"]))
      |(?P<field>(?:title|lead|sentence|paragraph|article):)
      |(?P<bad_field>[^\W\d_]+:(?=[^\s/:]))
      |(?P<list>@[\w]+(?:\.surnames)?(?![^\s()"]))
      |(?P<bad_list>@[^\s()"]*)
      |(?P<lower_near>(?i:o?near)/\d+(?![^\s()"]))
      |(?P<word>[^\s()"#]+)""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    start: int
    end: int
    comment: str  # the comment on the lines just above, if any


def _tokens(query: str) -> Iterator[_Token]:
    comment = ""
    for m in _TOKEN.finditer(query):
        kind = m.lastgroup
        if kind == "comment":  # a comment of several lines is read whole
            comment = f"{comment} {m.group()[1:].strip()}".strip()
            continue
        if kind == "space":
            continue
        assert kind is not None
        if kind == "phrase" and (len(m.group()) < 2 or not m.group().endswith('"')):
            raise QuerySyntaxError(m.start() + 1, "unclosed quote")
        if kind == "bad_field":  # read as a word, "headline:sanctions" was the phrase "headline sanctions"
            raise QuerySyntaxError(m.start() + 1, f"{m.group()!r} is no field: the fields are title:, lead:, "
                                                  "sentence:, paragraph: and article: (a word with a colon goes in "
                                                  "quotes)")
        if kind == "bad_list":  # read as words, "@people.surname" was the phrase "people surname"
            raise QuerySyntaxError(m.start() + 1, f"{m.group()!r}: a list is @name, and the surnames of a list of "
                                                  "people @name.surnames")
        if kind == "lower_near":  # read as words, "near/5" was the phrase "near 5"
            raise QuerySyntaxError(m.start() + 1, f"{m.group()!r}: the operator is written in capitals, "
                                                  f"{m.group().upper()}")
        if kind in ("word", "phrase") and (problem := misplaced_wildcard(m.group().strip('"'))):
            raise QuerySyntaxError(m.start() + 1, problem)
        if kind == "bad_near":  # read as a word, it made the rule one that never matches
            operator = m.group().split("/")[0]
            raise QuerySyntaxError(m.start() + 1, f"{m.group()!r}: {operator} takes a distance in words, as in "
                                                  f"{operator}/5 (the word itself: \"{operator.lower()}\")")
        yield _Token(kind, m.group(), m.start(), m.end(), comment)
        comment = ""


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = list(_tokens(query))
        self.at = 0

    def peek(self, offset: int = 0) -> _Token | None:
        at = self.at + offset
        return self.tokens[at] if at < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def where(self) -> int:
        token = self.peek()
        return token.start + 1 if token else len(self.query) + 1

    def fail(self, message: str) -> QuerySyntaxError:
        return QuerySyntaxError(self.where(), message)

    def source(self, start: int) -> str:
        end = self.tokens[self.at - 1].end
        return " ".join(COMMENT.sub("", self.query[start:end]).split())

    def parse(self) -> Node:
        if not self.tokens:
            raise QuerySyntaxError(1, "the query is empty")
        node = self.any_(top=True)
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek().text!r}")  # type: ignore[union-attr]
        return node

    def any_(self, top: bool = False) -> Node:
        start = self.peek().start if self.peek() else 0  # type: ignore[union-attr]
        labels = [self.peek().comment if self.peek() else ""]  # type: ignore[union-attr]
        items = [self.all_()]
        while (token := self.peek()) is not None and token.kind == "op" and token.text == "OR":
            self.take()
            labels.append(token.comment or (self.peek().comment if self.peek() else ""))  # type: ignore[union-attr]
            items.append(self.all_())
        if len(items) == 1:
            return items[0]
        return Any_(tuple(items), self.source(start), tuple(labels) if top or any(labels) else ())

    def all_(self) -> Node:
        start = self.where() - 1
        items = [self.unary()]
        while (token := self.peek()) is not None and token.kind != "close" and token.text != "OR":
            if token.kind == "op" and token.text == "AND":
                self.take()
            items.append(self.unary())
        return items[0] if len(items) == 1 else All(tuple(items), self.source(start))

    def unary(self) -> Node:
        token = self.peek()
        if token is not None and token.kind == "op" and token.text == "NOT":
            self.take()
            item = self.unary()
            return Not(item, self.source(token.start))
        return self.near()

    def near(self) -> Node:
        start = self.where() - 1
        node = self.primary()
        while True:
            token, following = self.peek(), self.peek(1)
            veto = token is not None and token.text == "NOT" and following is not None and following.kind == "near"
            operator = following if veto else token
            if operator is None or operator.kind != "near":
                return node
            self.take()
            if veto:
                self.take()
            right = self.primary()
            for side in (node, right):
                if not positional(side):
                    raise QuerySyntaxError(operator.start + 1, f"{operator.text} joins words, phrases, lists or "
                                           "NEAR clauses (or OR of them), not AND, NOT or fields")
            distance = int(operator.text.split("/")[1])
            node = Near(node, right, distance, operator.text.startswith("ONEAR"), veto, self.source(start))

    def primary(self) -> Node:
        token = self.peek()
        if token is None:
            raise self.fail("the query ends where a word, phrase or ( was expected")
        if token.kind == "open":
            self.take()
            node = self.any_()
            closing = self.peek()
            if closing is None or closing.kind != "close":
                raise QuerySyntaxError(token.start + 1, "this ( is never closed")
            self.take()
            return node
        if token.kind == "field":
            self.take()
            item = self.primary()
            return Field(token.text[:-1], item, self.source(token.start))
        if token.kind == "phrase":
            self.take()
            words = tuple(split_words(token.text[1:-1]))
            if not words:
                raise QuerySyntaxError(token.start + 1, "an empty phrase")
            return Words(words, token.text)
        if token.kind == "list":
            self.take()
            name, _, part = token.text[1:].partition(".")
            return ListRef(name, bool(part), token.text)
        if token.kind == "word":
            self.take()
            words = tuple(split_words(token.text))
            if not words:
                raise QuerySyntaxError(token.start + 1, f"{token.text!r} has no letters to match")
            return Words(words, token.text)
        raise self.fail(f"unexpected {token.text!r}")


def misplaced_wildcard(text: str) -> str | None:
    """Why a ``*`` in ``text`` matches nothing, if one does: it stands at the end of a word, for any ending; inside
    or before one it split the word in two ("sanc*ion" was "sanc*" then "ion"), or was dropped ("*bank")."""
    for word in text.split():
        if "*" in word.rstrip("*") or word.count("*") > 1:
            return (f"{word!r}: * stands at the end of a word, for any ending (sanction* finds sanctions and "
                    "sanctioned)")
    return None


def parse(query: str) -> Node:
    """The syntax tree of a query; a :class:`QuerySyntaxError` says where it goes wrong."""
    try:
        return _Parser(query).parse()
    except RecursionError:  # thousands of nested parentheses: the parser descends once a level
        raise QuerySyntaxError(1, "the query is nested too deeply (parentheses in parentheses)") from None


_PHRASE_WORD = re.compile(r"(?:[^\W\d_]\.){2,}|[\w'\u2019.]+\*?")
_WORD_CHARACTER = re.compile(r"\w")


def split_words(phrase: str) -> list[str]:
    """The words of a phrase as written (hyphens and spaces part them; ``*`` stays on its word)."""
    return [word for word in _PHRASE_WORD.findall(phrase) if _WORD_CHARACTER.search(word)]
