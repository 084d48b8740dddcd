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
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from monitor.config import RuleSettings
from monitor.errors import ConfigError
from monitor.models import Match

Span = tuple[int, int]

# One-for-one replacements, so that folded and original offsets coincide.
_FOLD = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u02bc\u2032\uff07", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033", '"'),
        **dict.fromkeys("\u00a0\u2007\u202f\u2009\u200a\u2002\u2003\u2004\u2005\u2006\u2008\u205f\u3000", " "),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"),
        "ё": "е",
        "Ё": "Е",
    }
)

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
# A candidate sentence end: the word before it, the punctuation, closing quotes, space,
# and a capital, digit or opening quote after it.
_SENTENCE_END = re.compile(
    r"""(\S*?)([.!?\u2026]+)["')\]]*\s+(?=["'(\[]?[A-Z\u00c0-\u00deА-Я0-9])"""
)
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


@dataclass(frozen=True)
class _Rule:
    """One compiled rule: where its terms and patterns occur, and what judges them."""

    name: str
    labels: tuple[str, ...]  # group name -> configured term, in group order ("" for a pattern)
    find: re.Pattern[str]  # terms and patterns, one named group each
    context: re.Pattern[str] | None
    exclude: re.Pattern[str] | None
    scope: str

    def hits(self, text: str, folded: str) -> list[_Hit]:
        """The non-empty occurrences of terms and patterns in ``folded``, in text order."""
        found = []
        for m in self.find.finditer(folded):
            start, end = m.span()
            if start == end:
                continue
            label = self.labels[int(m.lastgroup[2:])]  # type: ignore[index]
            found.append(_Hit(start, end, label or " ".join(text[start:end].split()), bool(label)))
        return found

    def accepts(self, folded: str, start: int, end: int, hits: Sequence[_Hit]) -> bool:
        """Whether the unit ``folded[start:end]`` passes the exclude and context tests."""
        if self.exclude is not None and self.exclude.search(folded, start, end):
            return False
        if self.context is None:
            return True
        terms = [(hit.start, hit.end) for hit in hits if hit.term]
        return any(
            not any(c_start < t_end and t_start < c_end for t_start, t_end in terms)
            for c_start, c_end in (m.span() for m in self.context.finditer(folded, start, end))
        )


class Ruleset:
    """The compiled rules of a configuration; :meth:`match` is pure and thread-safe."""

    def __init__(self, rules: Sequence[_Rule]) -> None:
        self._rules = tuple(rules)
        self.names: tuple[str, ...] = tuple(rule.name for rule in rules)

    def match(self, text: str) -> list[Match]:
        """Every passage of ``text`` matched by each rule, in rule then text order.

        ``text`` is an article's text, paragraphs separated by blank lines (the
        title may come first as a paragraph of its own).
        """
        folded = text.translate(_FOLD)
        paragraphs: list[Span] | None = None
        matches: list[Match] = []
        for rule in self._rules:
            hits = rule.hits(text, folded)
            if not hits:
                continue
            if paragraphs is None:
                paragraphs = _paragraphs(folded)
            if rule.scope == "article" and not rule.accepts(folded, 0, len(folded), hits):
                continue
            passages: dict[str, tuple[str, ...]] = {}
            for (p_start, p_end), p_hits in _group(paragraphs, hits):
                if rule.scope == "paragraph" and not rule.accepts(folded, p_start, p_end, p_hits):
                    continue
                sentences = _sentences(folded, p_start, p_end)
                grouped = _group(sentences, p_hits)
                if rule.scope == "sentence":
                    for (s_start, s_end), s_hits in grouped:
                        if rule.accepts(folded, s_start, s_end, s_hits):
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
            find = re.compile("|".join(alternatives), re.IGNORECASE)
        except re.error as exc:  # patterns that clash once combined, e.g. a group name used twice
            problems.append(f"{where}.patterns: the patterns cannot be combined: {exc}")
            continue
        compiled.append(
            _Rule(
                name=rule.name,
                labels=(*rule.terms, *[""] * len(rule.patterns)),
                find=find,
                context=_phrases(tuple(rule.context)),
                exclude=_phrases(tuple(rule.exclude)),
                scope=rule.scope,
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
    for m in regex.finditer(passage.translate(_FOLD)):
        if spans and m.start() <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], m.end()))
        else:
            spans.append(m.span())
    return spans


@lru_cache(maxsize=64)
def _phrases(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex finding any of ``phrases``, or None for none."""
    usable = [phrase for phrase in phrases if _words(phrase)]
    if not usable:
        return None
    return re.compile("|".join(_phrase(phrase) for phrase in usable), re.IGNORECASE)


def _words(phrase: str) -> list[str]:
    return [word for word in re.split(r"[\s-]+", phrase.translate(_FOLD)) if re.search(r"\w", word)]


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
    "U.S.") does not end a sentence: merging two sentences is the safer mistake.
    """
    spans = []
    for m in _SENTENCE_END.finditer(text, start, end):
        word, stop = m.group(1), m.group(2)
        if stop == "." and (word.lower() in _ABBREVIATIONS or len(word) == 1 or "." in word):
            continue
        spans.append((start, m.start(2) + len(stop)))
        start = m.end()
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
