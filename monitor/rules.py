"""Rules: which passages of an article are mentions for the beat (pure, no I/O).

A rule (a ``[[rules]]`` table of config.toml) is compiled once, at start-up, by
:func:`compile_rules`; a bad rule is a :class:`~monitor.errors.ConfigError` that
names it. :meth:`Ruleset.match` then runs every rule over one article's text.

What a rule means
-----------------
``terms``
    Phrases, matched case-insensitively on word boundaries. Each word of a phrase
    also finds its plural, possessive and simple inflections ("ambassador" finds
    "ambassadors", "ambassador's"; "swap" finds "swapped"; "expel" finds
    "expelled"), and words may be joined by spaces, a hyphen or a dash
    ("prisoner swap" finds "prisoner-swap"). A word written in capitals
    ("US", "U.S.", "POW") is an acronym: it matches case-sensitively, with or
    without dots, so "US" finds "U.S." but never the pronoun "us". Russian words
    find their common case endings ("посол" finds "посла", "послом", "послы";
    "обмен заключёнными" finds "обмена заключенными").
``patterns``
    Regular expressions (case-insensitive unless they say ``(?-i:...)``), for
    constructions a phrase cannot express.
``context``
    Phrases of which at least one must occur in the same scope, *outside* the term
    matches: a context word that is part of the matched phrase adds no evidence, so
    the term "Russian ambassador" does not satisfy the context "Russian" on its own.
    A pattern, by contrast, may span its own evidence ("Whelan ... left out of a
    deal"), so context inside a pattern's match counts.
``exclude``
    Phrases that veto the whole scope they occur in ("goodwill ambassador").
``scope``
    The unit that context and exclude are judged on: ``sentence``,
    ``paragraph`` (the default) or ``article``.

What a match quotes
-------------------
Alerts quote the passage, and the novelty check compares passages, so a passage
is short and faithful: the sentence holding the match for ``scope = "sentence"``;
otherwise the run of sentences, within one paragraph, from the first to the last
sentence holding a match (one passage per paragraph). The passage is taken from
the original text, white space collapsed. One :class:`~monitor.models.Match` is
returned per distinct passage per rule; its ``terms`` are the configured terms
that matched, then the text each pattern matched.

Text is compared after a one-for-one character folding (curly quotes and
apostrophes, non-breaking and other spaces, dashes, "ё"), so every offset in the
folded text is an offset in the original.

How matching stays cheap
------------------------
Most articles are not about the beat, and most of an article that is holds no match, so
the regexes run only where a match can be. Literals every match must contain are read off
each term's and pattern's parse tree: an article holding none of a few of them (the
*trigger*) is dismissed with ``in`` tests on its bytes, before it is folded; a paragraph is
searched only if it holds every literal set of some term or pattern (its *gates*); and in
a paragraph each regex is tried only where one of the literal strings its matches begin
with (its *heads*) occurs, found by one small regex. All of this is lowercase text
compared with lowercase literals, which re.IGNORECASE also matches through a few odd
characters ("ſ" for "s", "ı" for "i", "ᲀ" for "в", "İ", the Kelvin sign): an article
holding one of those is searched the plain way, every regex over every paragraph.
"""

from __future__ import annotations

import re
import re._parser as _sre_parse  # the stdlib's own regex parser, to find a pattern's literals
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from re._casefix import _EXTRA_CASES  # what re.IGNORECASE equates beyond str.lower()
from typing import Any, NamedTuple, cast

from monitor.config import RuleSettings
from monitor.errors import ConfigError
from monitor.models import Match

Span = tuple[int, int]
# Strings a match must contain: every set must have a member in the text. A literal is
# lowercase, or keeps its capitals where the pattern is case-sensitive ("Bout", not "about").
Gate = tuple[frozenset[str], ...]
# A gate as it is looked up: each set's literals cut to what unfolded text holds, smallest set first.
Lookups = tuple[tuple[str, ...], ...]
# Shorter literals are too common to be worth a look.
_MIN_LITERAL = 3
# Heads are spelt out to this length, and optional parts no further than this many heads.
_HEAD_LENGTH = 6
_MAX_HEADS = 64
_ASCII = bytes(range(128))
# Non-ASCII characters whose lowercase holds an ASCII letter: the Kelvin sign ("k") and "İ"
# ("i" and a combining dot). Lowering only ASCII bytes leaves them, re.IGNORECASE does not.
_ASCII_LOOKALIKES = frozenset("\u212a\u0130")

# One-for-one replacements, so that folded and original offsets coincide.
_FOLD: dict[str, str] = (
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u02bc\u2032\uff07", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033", '"'),
        **dict.fromkeys("\u00a0\u2007\u202f\u2009\u200a\u2002\u2003\u2004\u2005\u2006\u2008\u205f\u3000", " "),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"),
        "ё": "е",
        "Ё": "Е",
        "\u0130": "I",  # the one character whose lower() is two characters long
    }
)
# re.sub touches only the few characters to fold; str.translate would look up every one.
_FOLDABLE = re.compile("[" + re.escape("".join(_FOLD)) + "]")


def _fold(text: str) -> str:
    """``text`` with quotes, spaces, dashes and "ё" folded, one character for one."""
    return _FOLDABLE.sub(lambda m: _FOLD[m.group()], text)


# Words of a phrase are joined by spaces, or one hyphen/dash/line break, never a paragraph break.
_GAP = r"(?:[^\S\n]+(?:[-\n][^\S\n]*)?|[-\n][^\S\n]*)"
_POSSESSIVE = r"(?:'s|')?"
# Short words that take no inflection inside a phrase ("the" must not find "thing").
_FUNCTION_WORDS = frozenset(
    "a an the and or of to in on at by for from with as into over than via de la le".split()
)
_VOWELS = frozenset("aeiou")

# Russian noun and adjective endings, longest first; enough for the common cases.
_RU_ENDINGS = sorted(
    set(
        "а я о е ы и у ю ь й ом ем ой ей ою ею ам ям ах ях ов ев ами ями ия ии ию ией ием иям иями иях "
        "ий ый ая яя ое ее ые ие ого его ому ему ым им ую юю ых их ыми ими ья ье ьи ью ьев ьям ьями ьях".split()
    ),
    key=lambda ending: (-len(ending), ending),
)
_RU_ENDING = "(?:" + "|".join(_RU_ENDINGS) + ")"
# A fleeting vowel ("посол" -> "посла") takes every ending but the bare "е", which
# would turn "посол" into the everyday word "после" ("after").
_RU_OBLIQUE = "(?:" + "|".join(e for e in _RU_ENDINGS if e != "е") + ")"
_RU_VOWELS = frozenset("аеиоуыэюяьй")

_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
# A candidate sentence end: the punctuation, closing quotes, space, and a capital, digit or
# opening quote after it. (The word before it is read off separately: a leading lazy
# ``\S*?`` would be retried from every character of every word.)
_SENTENCE_END = re.compile(r"""([.!?\u2026]+)["')\]]*\s+(?=["'(\[]?[A-Z\u00c0-\u00deА-Я0-9])""")
# Words after which a full stop does not end a sentence.
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr st sen rep gov gen lt col maj capt sgt adm cmdr jr sr prof rev hon
    amb ambs pres no nos vs etc inc ltd corp co dept est approx fig
    jan feb mar apr jun jul aug sep sept oct nov dec""".split()
)


class _Hit(NamedTuple):
    """One occurrence of a term or pattern in the folded text."""

    start: int
    end: int
    label: str  # the configured term, or the original text a pattern matched
    term: bool  # a term (context inside it does not count) rather than a pattern


class _Article:
    """An article as the prefilter reads it: its bytes, each literal looked up at most once.

    Lowering a whole text is slow (most pages hold curly quotes, which makes every character
    a two-byte one), so ASCII literals are looked up in the UTF-8 bytes with ASCII letters
    lowered, and other literals in the text's non-ASCII characters alone, lowered: a literal
    in the lowered text is in one of these (its non-ASCII characters contiguous once ASCII
    is dropped), as long as no character lowers across the two (:data:`_ASCII_LOOKALIKES`).
    """

    def __init__(self, text: str) -> None:
        self._data = text.encode("utf-8", "surrogatepass")
        self._lowered = self._data.lower()
        self._foreign = self._data.translate(None, _ASCII).decode("utf-8", "surrogatepass")
        self._foreign_lowered = self._foreign.lower()
        self._seen: dict[str, bool] = {}

    def holds_any(self, characters: Iterable[str]) -> bool:
        """Whether the text holds one of these non-ASCII characters, as written or lowered."""
        return any(c in self._foreign or c in self._foreign_lowered for c in characters)

    def __contains__(self, literal: str) -> bool:
        found = self._seen.get(literal)
        if found is None:
            probe, where = _probe(literal)
            found = self._seen[literal] = probe in (self._lowered, self._data, self._foreign_lowered)[where]  # type: ignore[operator]
        return found


@lru_cache(maxsize=1024)
def _probe(literal: str) -> tuple[bytes | str, int]:
    """What :class:`_Article` looks for, and where: 0 lowered bytes, 1 bytes as written, 2 foreign characters."""
    if literal.isascii():
        return literal.encode(), 0 if literal.islower() else 1
    return "".join(c for c in literal.lower() if not c.isascii()), 2


class _Document:
    """An article folded for the regexes: its paragraphs, their sentences, where heads occur.

    ``anchored`` False (the text holds a character that lowercase literals would miss) has
    every regex run over every whole unit instead. ``region`` is the stretch of text the
    rule being run has business in: the paragraphs that hold its trigger.
    """

    def __init__(self, text: str, anchored: bool) -> None:
        self.text = text
        self.folded = _fold(text)
        self.lowered = self.folded.lower()
        self.paragraphs = _paragraphs(self.folded)
        self.anchored = anchored
        self.region: Span = (0, len(text))
        self._ascii = self.lowered.isascii()
        self._occurrences: dict[tuple[tuple[str, ...], Span], list[tuple[int, str]]] = {}
        self._sentences: dict[Span, list[Span]] = {}

    def occurrences(self, literals: tuple[str, ...], start: int, end: int) -> list[tuple[int, str]]:
        """Where each literal occurs in ``[start, end)``, as (offset, literal), in text order.

        Lowercase literals are looked for in the lowered text, others as written; all of them
        at once, in the region (or the whole text, for a span outside it), with one
        ``str.find`` per occurrence: a regex alternation of the literals costs some 50 ns a
        character whatever its form, several times more.
        """
        span = self.region if self.region[0] <= start and end <= self.region[1] else (0, len(self.folded))
        found = self._occurrences.get((literals, span))
        if found is None:
            found = []
            for literal, lowered in _lookup_plan(literals, self._ascii):
                haystack = self.lowered if lowered else self.folded
                at = haystack.find(literal, *span)
                while at >= 0:
                    found.append((at, literal))
                    at = haystack.find(literal, at + 1, span[1])
            found.sort()
            self._occurrences[literals, span] = found
        if span == (start, end):
            return found
        return found[bisect_left(found, (start, "")) : bisect_left(found, (end, ""))]

    def holds(self, gate: Lookups, start: int, end: int) -> bool:
        """Whether ``[start, end)`` holds a literal of each set of ``gate``."""
        for need in gate:
            for literal in need:
                if (self.lowered if literal.islower() else self.folded).find(literal, start, end) >= 0:
                    break
            else:
                return False
        return True

    def sentences(self, paragraph: Span) -> list[Span]:
        """The sentences of a paragraph, split once for all the rules."""
        found = self._sentences.get(paragraph)
        if found is None:
            found = self._sentences[paragraph] = _sentences(self.folded, *paragraph)
        return found


@dataclass(frozen=True)
class _Scanner:
    """A regex, with where in a text its matches can begin: where one of its heads does."""

    regex: re.Pattern[str]
    heads: tuple[str, ...] | None  # lowercase, none beginning with another; None: a match may begin anywhere

    def finditer(self, doc: _Document, start: int, end: int) -> Iterator[re.Match[str]]:
        """What ``regex.finditer(doc.folded, start, end)`` finds, trying the regex only at heads.

        Every match begins with a head, so is not empty, and is tried where finditer would
        try it, resuming from the same place after it.
        """
        if self.heads is None or not doc.anchored:
            yield from self.regex.finditer(doc.folded, start, end)
            return
        at = start
        for begin, _ in doc.occurrences(self.heads, start, end):
            if begin >= at and (m := self.regex.match(doc.folded, begin, end)) is not None:
                yield m
                at = m.end()

    def search(self, doc: _Document, start: int, end: int) -> bool:
        """Whether ``regex`` occurs in ``doc.folded[start:end]`` (see :meth:`finditer`)."""
        return next(self.finditer(doc, start, end), None) is not None


@dataclass(frozen=True)
class _Alternative:
    """One term or pattern of a rule, alone: how far its matches reach, what they hold."""

    regex: re.Pattern[str]
    reach: int  # no match is longer
    # Literal sets, each with a member inside every match; only for a pattern that steps
    # through a long stretch of text, where looking for them first is cheaper than trying it.
    gate: Lookups


@dataclass(frozen=True)
class _Finder(_Scanner):
    """A rule's terms and patterns, tried in order only where one may begin and its literals are near.

    The patterns that span a sentence ("Russia ... {0,150}? ... U.S. ambassador") would step
    through the rest of the sentence from every "Russia"; most such steps are spared by
    looking for the pattern's other literals within its reach first.
    """

    alternatives: tuple[_Alternative, ...]  # ``regex`` is all of them, one named group each
    starting: dict[str, tuple[int, ...]]  # a head -> the alternatives whose matches may begin with it

    def hits(self, doc: _Document, start: int, end: int) -> Iterator[tuple[int, int, int]]:
        """(start, end, alternative) of the non-empty matches ``regex.finditer`` finds in a paragraph.

        At a place, finditer takes the first alternative that matches there; the others
        are not tried where their heads do not begin or their literals are not within reach.
        """
        if self.heads is None or not doc.anchored:
            for m in self.regex.finditer(doc.folded, start, end):
                if m.end() > m.start():
                    yield m.start(), m.end(), int(m.lastgroup[2:])  # type: ignore[index]
            return
        folded = doc.folded
        at = start
        for begin, head in doc.occurrences(self.heads, start, end):
            if begin < at:
                continue
            for index in self.starting[head]:
                alternative = self.alternatives[index]
                if alternative.gate and not doc.holds(alternative.gate, begin, min(end, begin + alternative.reach)):
                    continue
                found = alternative.regex.match(folded, begin, end)
                if found is not None:
                    yield begin, found.end(), index
                    at = found.end()
                    break


@dataclass(frozen=True)
class _Rule:
    """One compiled rule: where its terms and patterns occur, and what judges them."""

    name: str
    labels: tuple[str, ...]  # alternative -> configured term, in order ("" for a pattern)
    find: _Finder
    trigger: tuple[str, ...] | None  # one literal of each term and pattern is one of these; None: some have none
    gates: tuple[Lookups, ...]  # every literal set of each term and pattern
    context: _Scanner | None
    exclude: _Scanner | None
    scope: str
    letters: frozenset[str]  # the characters of its literals and heads, lowercase

    def may_match(self, article: _Article) -> bool:
        """Whether the article holds the literals some term or pattern needs.

        ``in`` is many times faster than a regex search: most articles are dismissed here,
        before they are folded or split.
        """
        return self.trigger is None or (
            any(literal in article for literal in self.trigger)
            and any(all(any(literal in article for literal in need) for need in gate) for gate in self.gates)
        )

    def paragraphs(self, doc: _Document) -> list[Span]:
        """The paragraphs that may hold a match: those holding a literal of the trigger (when anchored)."""
        if not doc.anchored or self.trigger is None:
            return doc.paragraphs
        starts = [start for start, _ in doc.paragraphs]
        holding = set()
        for literal in self.trigger:
            haystack = doc.lowered if literal.islower() else doc.folded
            at = haystack.find(literal)
            while at >= 0:
                holding.add(bisect_right(starts, at) - 1)
                at = haystack.find(literal, at + len(literal))
        return [doc.paragraphs[index] for index in sorted(holding)]

    def hits(self, doc: _Document, paragraphs: Sequence[Span]) -> list[_Hit]:
        """The non-empty occurrences of terms and patterns in these paragraphs, in text order."""
        found = []
        for start, end in paragraphs:
            for m_start, m_end, index in self.find.hits(doc, start, end):
                label = self.labels[index]
                found.append(_Hit(m_start, m_end, label or " ".join(doc.text[m_start:m_end].split()), bool(label)))
        return found

    def accepts(self, doc: _Document, start: int, end: int, hits: Sequence[_Hit]) -> bool:
        """Whether the unit ``[start, end)`` passes the exclude and context tests."""
        if self.exclude is not None and self.exclude.search(doc, start, end):
            return False
        if self.context is None:
            return True
        terms = [(hit.start, hit.end) for hit in hits if hit.term]
        return any(
            not any(c.start() < t_end and t_start < c.end() for t_start, t_end in terms)
            for c in self.context.finditer(doc, start, end)
        )


class Ruleset:
    """The compiled rules of a configuration; :meth:`match` is pure and thread-safe."""

    def __init__(self, rules: Sequence[_Rule]) -> None:
        self._rules = tuple(rules)
        self.names: tuple[str, ...] = tuple(rule.name for rule in rules)
        # Characters re.IGNORECASE takes for one of the rules' letters that lowercase literals miss.
        self._odd = _ASCII_LOOKALIKES | {
            chr(other) for rule in rules for letter in rule.letters for other in _EXTRA_CASES.get(ord(letter), ())
        }

    def match(self, text: str) -> list[Match]:
        """Every passage of ``text`` matched by each rule, in rule then text order.

        ``text`` is an article's text, paragraphs separated by blank lines (the
        title may come first as a paragraph of its own).
        """
        article = _Article(text)
        anchored = not article.holds_any(self._odd)
        rules = [rule for rule in self._rules if not anchored or rule.may_match(article)]
        if not rules:
            return []
        doc = _Document(text, anchored)
        matches: list[Match] = []
        for rule in rules:
            paragraphs = rule.paragraphs(doc)
            if not paragraphs:
                continue
            doc.region = (paragraphs[0][0], paragraphs[-1][1])
            hits = rule.hits(doc, paragraphs)
            if not hits:
                continue
            if rule.scope == "article" and not rule.accepts(doc, 0, len(doc.folded), hits):
                continue
            passages: dict[str, tuple[str, ...]] = {}
            for paragraph, p_hits in _group(doc.paragraphs, hits):
                if rule.scope == "paragraph" and not rule.accepts(doc, *paragraph, p_hits):
                    continue
                grouped = _group(doc.sentences(paragraph), p_hits)
                if rule.scope == "sentence":
                    for (s_start, s_end), s_hits in grouped:
                        if rule.accepts(doc, s_start, s_end, s_hits):
                            _add(passages, text, s_start, s_end, s_hits)
                else:
                    _add(passages, text, grouped[0][0][0], grouped[-1][0][1], p_hits)
            matches.extend(Match(rule.name, passage, terms) for passage, terms in passages.items())
        return matches


def compile_rules(rules: Sequence[RuleSettings]) -> Ruleset:
    """Compile the configured rules once; every problem is reported in one ConfigError."""
    problems: list[str] = []
    compiled: list[_Rule] = []
    for index, rule in enumerate(rules):
        where = f"rules[{index}] ({rule.name})"
        found = len(problems)
        for key in ("terms", "context", "exclude"):
            for position, phrase in enumerate(getattr(rule, key)):
                if not _words(phrase):
                    problems.append(f"{where}.{key}[{position}]: {phrase!r} has no words to match")
        alternatives = [f"(?P<_t{i}>{_phrase(term)})" for i, term in enumerate(rule.terms)]
        for position, pattern in enumerate(rule.patterns):
            group = f"(?P<_t{len(alternatives)}>{_scoped(pattern)})"
            try:
                if re.compile(group, re.IGNORECASE).fullmatch(""):
                    problems.append(f"{where}.patterns[{position}]: {pattern!r} matches the empty string")
            except re.error as exc:
                problems.append(f"{where}.patterns[{position}]: {pattern!r} cannot be used: {exc}")
            alternatives.append(group)
        if len(problems) > found:
            continue
        try:
            find, needs = _finder(alternatives)
        except re.error as exc:  # patterns that clash once combined, e.g. a group name used twice
            problems.append(f"{where}.patterns: the patterns cannot be combined: {exc}")
            continue
        context, exclude = _phrase_scanner(tuple(rule.context)), _phrase_scanner(tuple(rule.exclude))
        heads = [head for scanner in (find, context, exclude) if scanner for head in scanner.heads or ()]
        compiled.append(
            _Rule(
                name=rule.name,
                labels=(*rule.terms, *[""] * len(rule.patterns)),
                find=find,
                trigger=_trigger(needs),
                gates=needs,
                context=context,
                exclude=exclude,
                scope=rule.scope,
                letters=frozenset("".join(heads).lower() + "".join(map(str, needs)).lower()),
            )
        )
    if problems:
        raise ConfigError(problems)
    return Ruleset(compiled)


def highlight_spans(passage: str, terms: Iterable[str]) -> list[Span]:
    """Where ``terms`` (as in :attr:`Match.terms`) occur in ``passage``: sorted, merged spans.

    For ``monitor rules test``, which shows a passage with its matched terms marked.
    """
    regex = _phrases(tuple(terms))
    if regex is None:
        return []
    spans: list[Span] = []
    for m in regex.finditer(_fold(passage)):
        if spans and m.start() <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], m.end()))
        else:
            spans.append(m.span())
    return spans


@lru_cache(maxsize=64)
def _phrase_scanner(phrases: tuple[str, ...]) -> _Scanner | None:
    """A scanner finding any of ``phrases``, or None for none."""
    usable = tuple(_phrase(phrase) for phrase in phrases if _words(phrase))
    return _scanner(usable) if usable else None


@lru_cache(maxsize=256)
def _parsed(regex: str) -> _sre_parse.SubPattern | None:
    """The parse tree of ``regex`` (case-insensitive), or None if it is not a regex."""
    try:
        return _sre_parse.parse(regex, re.IGNORECASE)
    except re.error:
        return None


def _scanner(alternatives: Sequence[str]) -> _Scanner:
    """The alternatives as one case-insensitive regex, with their heads."""
    regex = re.compile("|".join(alternatives), re.IGNORECASE)
    heads = [_heads(parsed) if (parsed := _parsed(alternative)) else None for alternative in alternatives]
    return _Scanner(regex, _kept_heads(heads))


def _finder(alternatives: Sequence[str]) -> tuple[_Finder, tuple[Lookups, ...]]:
    """A rule's alternatives (terms and patterns, one named group each) as a :class:`_Finder`, and their gates."""
    regex = re.compile("|".join(alternatives), re.IGNORECASE)
    parsed = [_parsed(alternative) for alternative in alternatives]
    heads = [_heads(tree) if tree is not None and not _refers(tree) else None for tree in parsed]
    kept = _kept_heads(heads)
    # Every head of an alternative begins with exactly one kept head.
    starting = {
        head: tuple(index for index, own in enumerate(heads) if any(h.startswith(head) for h in own or ()))
        for head in kept or ()
    }
    gates = [_lookups(_gate(tree)) for tree in parsed]
    return _Finder(
        regex=regex,
        alternatives=tuple(
            _Alternative(
                regex=re.compile(alternative, re.IGNORECASE),
                reach=tree.getwidth()[1] if tree is not None else len(alternative),
                gate=gate if tree is not None and _steps_far(tree) else (),
            )
            for alternative, tree, gate in zip(alternatives, parsed, gates)
        ),
        heads=kept,
        starting=starting,
    ), tuple(gates)


@lru_cache(maxsize=256)
def _lookup_plan(literals: tuple[str, ...], ascii_text: bool) -> tuple[tuple[str, bool], ...]:
    """Each literal with whether to look for it lowercased; none that cannot be in an ASCII text."""
    return tuple((literal, literal.islower()) for literal in literals if literal.isascii() or not ascii_text)


def _kept_heads(heads: Sequence[set[str] | None]) -> tuple[str, ...] | None:
    """The heads of some alternatives, but those another head begins with; None if one has none."""
    if any(alternative_heads is None for alternative_heads in heads):
        return None
    every = {head for alternative_heads in heads for head in alternative_heads or ()}
    return tuple(sorted(h for h in every if not any(h[:n] in every for n in range(1, len(h)))))


def _steps_far(tree: _sre_parse.SubPattern) -> bool:
    """Whether a parsed regex repeats a construct other than one character many times (a gap)."""
    for op, av in cast("Iterable[tuple[Any, Any]]", tree):
        if op in _REPEATS:
            _, high, body = av
            if high >= 20 and not (len(body) == 1 and body[0][0] in (_sre_parse.IN, _sre_parse.LITERAL,
                                                                        _sre_parse.NOT_LITERAL, _sre_parse.ANY)):
                return True
            if _steps_far(body):
                return True
        elif op is _sre_parse.SUBPATTERN and _steps_far(av[3]) or op is _sre_parse.BRANCH and any(_steps_far(branch) for branch in av[1]):
            return True
    return False


def _refers(tree: _sre_parse.SubPattern) -> bool:
    """Whether a parsed regex refers to a group by number, which would change meaning alone."""
    for op, av in cast("Iterable[tuple[Any, Any]]", tree):
        if op in (_sre_parse.GROUPREF, _sre_parse.GROUPREF_EXISTS):
            return True
        nested = av if isinstance(av, (list, tuple)) else ()
        for item in nested:
            if isinstance(item, _sre_parse.SubPattern) and _refers(item):
                return True
            if isinstance(item, list) and any(isinstance(x, _sre_parse.SubPattern) and _refers(x) for x in item):
                return True
    return False


@lru_cache(maxsize=64)
def _phrases(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex finding any of ``phrases``, or None for none."""
    usable = [phrase for phrase in phrases if _words(phrase)]
    if not usable:
        return None
    return re.compile("|".join(_phrase(phrase) for phrase in usable), re.IGNORECASE)


def _words(phrase: str) -> list[str]:
    return [word for word in re.split(r"[\s-]+", _fold(phrase)) if re.search(r"\w", word)]


def _phrase(phrase: str) -> str:
    """The regex of one phrase: its words' forms joined by gaps, on word boundaries."""
    return r"(?<!\w)" + _GAP.join(_forms(word) for word in _words(phrase)) + r"(?!\w)"


def _forms(word: str) -> str:
    """The regex of one word with the inflections it may take."""
    letters = word.replace(".", "")
    if len(letters) >= 2 and letters.isalpha() and letters.isupper():
        # An acronym: case-sensitive, dots optional, plural or possessive.
        dotted = r"\.?".join(re.escape(letter) for letter in letters) + r"\.?"
        return f"(?-i:{dotted}(?:s|'s)?)"
    if not word.isalpha() or len(word) < 3 or word.lower() in _FUNCTION_WORDS:
        return re.escape(word)
    if re.search("[а-яА-Я]", word):
        return _russian_forms(word.lower())
    return _english_forms(word.lower())


def _english_forms(word: str) -> str:
    """Plural, third person, past, gerund and possessive of a regular English word."""
    last = word[-1]
    if last == "y" and word[-2] not in _VOWELS:
        forms = f"{word[:-1]}(?:y|ies|ied|ying)"  # embassy -> embassies
    elif last == "e":
        forms = f"{word[:-1]}(?:e|es|ed|ing)"  # exchange -> exchanged, exchanging
    elif word.endswith(("s", "x", "z", "ch", "sh")):
        forms = f"{word}(?:es|ed|ing)?"
    elif last not in _VOWELS:
        forms = f"{word}(?:s|es|{last}?ed|{last}?ing)?"  # swap -> swapped, recall -> recalled
    else:
        forms = f"{word}(?:s|es|ed|ing)?"
    return forms + _POSSESSIVE


def _russian_forms(word: str) -> str:
    """A Russian word's stem with the common noun and adjective endings."""
    if word[-1] in _RU_VOWELS:
        for ending in _RU_ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= 3:
                return f"{word[: -len(ending)]}{_RU_ENDING}?"
        return word
    forms = f"{word}{_RU_ENDING}?"
    if len(word) >= 5 and word[-2] in "ое" and word[-3] not in _RU_VOWELS:
        forms = f"(?:{forms}|{word[:-2]}{word[-1]}{_RU_OBLIQUE})"  # посол -> посла, послом
    return forms


def _gate(parsed: list[tuple[object, object]] | None) -> Gate:
    """The literals any match of a parsed regex must contain, lowercased (empty: none known).

    A conjunction of alternatives read off the parse tree: "(?:swap|trad)\\w+ for
    (?:prisoners|Americans)" needs one of {swap, trad} and one of {prisoners, americans}.
    Lowercasing a match keeps its lowercased literals, so the gate never drops a match.
    """
    if parsed is None:
        return ()
    return tuple(need for need in _needs(parsed, ignorecase=True) if min(map(len, need)) >= _MIN_LITERAL)


def _needs(items: list[tuple[Any, Any]], ignorecase: bool) -> list[frozenset[str]]:
    """The literal sets required by a sequence of parsed regex items (see :func:`_gate`).

    A case-sensitive run keeps its case: "(?-i:Bout)" needs "Bout", which "about" does not hold.
    """
    needs: list[frozenset[str]] = []
    run = ""
    for op, av in items:
        if op is _sre_parse.LITERAL:
            run += chr(av).lower() if ignorecase else chr(av)
            continue
        if run:
            needs.append(frozenset([run]))
            run = ""
        if op is _sre_parse.SUBPATTERN:
            _, added, removed, body = av
            inner = (ignorecase or bool(added & re.IGNORECASE)) and not removed & re.IGNORECASE
            needs.extend(_needs(list(body), inner))
        elif op is _sre_parse.ATOMIC_GROUP:
            needs.extend(_needs(list(av), ignorecase))
        elif op in (_sre_parse.MAX_REPEAT, _sre_parse.MIN_REPEAT, _sre_parse.POSSESSIVE_REPEAT):
            if av[0] >= 1:
                needs.extend(_needs(list(av[2]), ignorecase))
        elif op is _sre_parse.BRANCH:
            options: set[str] = set()
            for branch in av[1]:
                best = max(_needs(list(branch), ignorecase), key=lambda need: min(map(len, need)), default=None)
                if best is None:
                    break
                options |= best
            else:
                needs.append(frozenset(options))
    if run:
        needs.append(frozenset([run]))
    return needs


def _trigger(gates: Sequence[Sequence[Sequence[str]]]) -> tuple[str, ...] | None:
    """A few literals of which every match of the rule holds one; None if a gate is empty.

    Each gate (a term or pattern) is covered by one of its literal sets all of whose members
    hold a chosen literal. Every literal chosen is one more scan of each article, so the sets
    are chosen greedily, most gates covered per literal added first, then longest (rarest):
    "ambassador" covers most of the ambassador patterns at once.
    """
    if not all(gates):
        return None
    chosen: list[str] = []
    uncovered = list(gates)
    while uncovered:
        options = [need for gate in uncovered for need in gate]
        scores = [_score(need, chosen, uncovered) for need in options]
        chosen += options[max(range(len(options)), key=scores.__getitem__)]  # the first best, as max() picks
        uncovered = [gate for gate in uncovered if not any(_covered(need, chosen) for need in gate)]
    return _minimal(chosen)


def _score(need: Sequence[str], chosen: list[str], uncovered: Sequence[Sequence[Sequence[str]]]) -> tuple[float, int]:
    """Gates newly covered per literal added by choosing ``need``, then its shortest literal's length."""
    added = [literal for literal in need if not any(_covers(c, literal) for c in chosen)]
    gain = sum(any(_covered(other, chosen + added) for other in gate) for gate in uncovered)
    return gain / max(len(added), 1), min(map(len, need))


def _covered(need: Sequence[str], chosen: Sequence[str]) -> bool:
    """Whether every literal of ``need`` holds a chosen one, so a text holding the need holds a chosen literal."""
    return all(any(_covers(c, literal) for c in chosen) for literal in need)


def _lookups(gate: Gate) -> Lookups:
    """A gate's literal sets as literals that can be looked for in unfolded text, smallest set first."""
    return tuple(sorted((_minimal(need) for need in gate), key=len))


def _minimal(literals: Iterable[str]) -> tuple[str, ...]:
    """The literals, each cut to its longest run without a folded character, none covering another.

    Folding changes quotes, spaces, dashes and "е" (from "ё"): a run without them is found
    in the text before folding as well as after. A literal that holds another adds nothing.
    """
    runs = {max(re.split(r"['\" \-еЕ]", literal), key=len) for literal in literals}
    return tuple(sorted(run for run in runs if run and not any(other != run and _covers(other, run) for other in runs)))


def _covers(literal: str, other: str) -> bool:
    """Whether every text holding ``other`` holds ``literal`` (lowercase ones are looked up lowercased)."""
    return literal in (other.lower() if literal.islower() else other)


def _heads(parsed: list[tuple[object, object]]) -> set[str] | None:
    """Lowercase strings one of which begins every match of a parsed regex; None if a match may begin anywhere.

    Read off the front of the parse tree: zero-width assertions are skipped; literals, small
    character classes, alternatives and optional parts are spelt out (to _HEAD_LENGTH
    characters; optional parts while there are at most _MAX_HEADS strings).
    """
    heads = {head for head, _ in _front(parsed, _HEAD_LENGTH)}
    return None if "" in heads else heads


# A head, and whether it is all of the match so far (so what follows may be added to it).
_Front = set[tuple[str, bool]]
_UNKNOWN: _Front = {("", False)}
_ZERO_WIDTH = (_sre_parse.AT, _sre_parse.ASSERT, _sre_parse.ASSERT_NOT)
_REPEATS = (_sre_parse.MAX_REPEAT, _sre_parse.MIN_REPEAT, _sre_parse.POSSESSIVE_REPEAT)


def _front(items: Sequence[tuple[object, object]], room: int) -> _Front:
    """The heads, of up to ``room`` characters, of a sequence of parsed regex items (see :func:`_heads`)."""
    at = 0
    while at < len(items) and items[at][0] in _ZERO_WIDTH:
        at += 1
    if at == len(items):
        return {("", True)}
    first = _front_of(*items[at], room)
    rests: dict[int, _Front] = {}
    heads = set()
    for head, whole in first:
        if not whole or len(head) >= room:
            heads.add((head, False))
            continue
        if len(head) not in rests:
            rests[len(head)] = _front(items[at + 1 :], room - len(head))
        heads.update((head + tail, more) for tail, more in rests[len(head)])
    return heads if len(heads) <= _MAX_HEADS else {(head, False) for head, _ in first}


def _front_of(op: Any, av: Any, room: int) -> _Front:
    """The heads, of up to ``room`` characters, of one parsed regex item."""
    if op is _sre_parse.LITERAL:
        letter = chr(av).lower()
        return {(letter, True)} if len(letter) == 1 else _UNKNOWN
    if op is _sre_parse.IN:
        if not all(item_op is _sre_parse.LITERAL for item_op, _ in av):
            return _UNKNOWN
        letters = {chr(code).lower() for _, code in av}
        return {(letter, True) for letter in letters} if all(len(x) == 1 for x in letters) else _UNKNOWN
    if op is _sre_parse.SUBPATTERN:
        return _front(av[3], room)
    if op is _sre_parse.ATOMIC_GROUP:
        return _front(av, room)
    if op is _sre_parse.BRANCH:  # as many heads as the pattern spells out: no blow-up to guard against
        return set().union(*(_front(branch, room) for branch in av[1]))
    if op in _REPEATS:
        low, high, body = av
        inner = _front(body, room)
        heads = inner if low == high == 1 else {(head, whole and high == 1) for head, whole in inner}
        return heads | {("", True)} if low == 0 else heads
    return _UNKNOWN


def _scoped(pattern: str) -> str:
    """Turn leading global flags ``(?i)`` into a scoped group, so patterns can be combined."""
    flags = re.match(r"\(\?([aiLmsux]+)\)", pattern)
    return f"(?{flags.group(1)}:{pattern[flags.end():]})" if flags else pattern


def _paragraphs(text: str) -> list[Span]:
    """The spans of the paragraphs of ``text`` (separated by blank lines)."""
    spans, start = [], 0
    for gap in _PARAGRAPH_BREAK.finditer(text):
        spans.append((start, gap.start()))
        start = gap.end()
    spans.append((start, len(text)))
    return spans


def _sentences(text: str, start: int, end: int) -> list[Span]:
    """The spans of the sentences of ``text[start:end]``.

    A full stop after an abbreviation, an initial or a dotted acronym ("Mr.", "J.",
    "U.S.") does not end a sentence: merging two sentences is the safer mistake. The word
    before a stop runs back to a space, or to the end of the previous candidate stop.
    """
    spans = []
    after = start
    for m in _SENTENCE_END.finditer(text, start, end):
        stop = m.group(1)
        if stop == ".":
            before = text[after:m.start()]
            words = before.split()
            word = words[-1] if words and not before[-1].isspace() else ""
            if word.lower() in _ABBREVIATIONS or len(word) == 1 or "." in word:
                after = m.end()
                continue
        spans.append((start, m.end(1)))
        start = after = m.end()
    spans.append((start, end))
    return spans


def _group(units: Sequence[Span], hits: Sequence[_Hit]) -> list[tuple[Span, list[_Hit]]]:
    """The units holding hits, each with its hits (a hit belongs to the unit it starts in)."""
    starts = [unit[0] for unit in units]
    grouped: dict[int, list[_Hit]] = {}
    for hit in hits:
        grouped.setdefault(bisect_right(starts, hit.start) - 1, []).append(hit)
    return [(units[index], unit_hits) for index, unit_hits in grouped.items()]


def _add(passages: dict[str, tuple[str, ...]], text: str, start: int, end: int, hits: Sequence[_Hit]) -> None:
    """Record the passage ``text[start:end]`` with its terms, merging duplicates."""
    passage = " ".join(text[start:end].split())
    terms = passages.get(passage, ()) + tuple(hit.label for hit in hits)
    passages[passage] = tuple(dict.fromkeys(terms))
