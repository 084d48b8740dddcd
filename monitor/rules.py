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
import re._parser as _sre_parse  # the stdlib's own regex parser, to find a pattern's literals
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from monitor.config import RuleSettings
from monitor.errors import ConfigError
from monitor.models import Match

Span = tuple[int, int]
# Lowercase strings a match must contain: every set must have a member in the text.
Gate = tuple[frozenset[str], ...]
# Shorter literals are too common to be worth a look.
_MIN_LITERAL = 3

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
    trigger: tuple[str, ...] | None  # a literal of each term and pattern; None: some have none
    gates: tuple[tuple[tuple[str, ...], ...], ...]  # every literal set of each term and pattern
    context: re.Pattern[str] | None
    exclude: re.Pattern[str] | None
    scope: str

    def may_match(self, lowered: str) -> bool:
        """Whether ``lowered`` (an article, lowercased) holds the literals some term or pattern needs.

        ``in`` is many times faster than a regex search: most articles are dismissed here,
        before they are folded or split.
        """
        return self.trigger is None or (
            any(literal in lowered for literal in self.trigger) and self._passes_gates(lowered)
        )

    def hits(self, text: str, folded: str, lowered: str, paragraphs: Sequence[Span]) -> list[_Hit]:
        """The non-empty occurrences of terms and patterns in ``folded``, in text order.

        Only the paragraphs holding every literal set of some term or pattern are searched
        (for a rule that passed :meth:`may_match`).
        """
        if self.trigger is None:
            return self._hits_in(text, folded, 0, len(folded))
        starts = [start for start, _ in paragraphs]
        candidates = set()
        for literal in self.trigger:
            at = lowered.find(literal)
            while at >= 0:
                candidates.add(bisect_right(starts, at) - 1)
                at = lowered.find(literal, at + len(literal))
        found = []
        for index in sorted(candidates):
            start, end = paragraphs[index]
            if self._passes_gates(lowered[start:end]):
                found.extend(self._hits_in(text, folded, start, end))
        return found

    def _passes_gates(self, lowered: str) -> bool:
        """Whether ``lowered`` holds every literal set of some term or pattern."""
        return any(all(any(literal in lowered for literal in need) for need in gate) for gate in self.gates)

    def _hits_in(self, text: str, folded: str, start: int, end: int) -> list[_Hit]:
        found = []
        for m in self.find.finditer(folded, start, end):
            m_start, m_end = m.span()
            if m_start == m_end:
                continue
            label = self.labels[int(m.lastgroup[2:])]  # type: ignore[index]
            found.append(_Hit(m_start, m_end, label or " ".join(text[m_start:m_end].split()), bool(label)))
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
        unfolded = text.lower()
        rules = [rule for rule in self._rules if rule.may_match(unfolded)]
        if not rules:
            return []
        folded = _fold(text)
        lowered = folded.lower()
        paragraphs = _paragraphs(folded)
        matches: list[Match] = []
        for rule in rules:
            hits = rule.hits(text, folded, lowered, paragraphs)
            if not hits:
                continue
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
        gates = [_gate(_phrase(term)) for term in rule.terms]
        for position, pattern in enumerate(rule.patterns):
            group = f"(?P<_t{len(alternatives)}>{_scoped(pattern)})"
            try:
                if re.compile(group, re.IGNORECASE).fullmatch(""):
                    problems.append(f"{where}.patterns[{position}]: {pattern!r} matches the empty string")
            except re.error as exc:
                problems.append(f"{where}.patterns[{position}]: {pattern!r} cannot be used: {exc}")
            alternatives.append(group)
            gates.append(_gate(group))
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
                trigger=_trigger(gates),
                gates=_needs_of(gates),
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
    for m in regex.finditer(_fold(passage)):
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


def _gate(regex: str) -> Gate:
    """The literals any match of ``regex`` must contain, lowercased (empty: none known).

    A conjunction of alternatives read off the parse tree: "(?:swap|trad)\\w+ for
    (?:prisoners|Americans)" needs one of {swap, trad} and one of {prisoners, americans}.
    Lowercasing a match keeps its lowercased literals, so the gate never drops a match.
    """
    try:
        needs = _needs(list(_sre_parse.parse(regex, re.IGNORECASE)))
    except re.error:
        return ()
    return tuple(need for need in needs if min(map(len, need)) >= _MIN_LITERAL)


def _needs(items: list[tuple[object, object]]) -> list[frozenset[str]]:
    """The literal sets required by a sequence of parsed regex items (see :func:`_gate`)."""
    needs: list[frozenset[str]] = []
    run = ""
    for op, av in items:
        if op is _sre_parse.LITERAL:
            run += chr(av).lower()  # type: ignore[call-overload]
            continue
        if run:
            needs.append(frozenset([run]))
            run = ""
        if op is _sre_parse.SUBPATTERN:
            needs.extend(_needs(list(av[3])))  # type: ignore[index]
        elif op is _sre_parse.ATOMIC_GROUP:
            needs.extend(_needs(list(av)))  # type: ignore[call-overload]
        elif op in (_sre_parse.MAX_REPEAT, _sre_parse.MIN_REPEAT, _sre_parse.POSSESSIVE_REPEAT):
            if av[0] >= 1:  # type: ignore[index]
                needs.extend(_needs(list(av[2])))  # type: ignore[index]
        elif op is _sre_parse.BRANCH:
            options: set[str] = set()
            for branch in av[1]:  # type: ignore[index]
                best = max(_needs(list(branch)), key=lambda need: min(map(len, need)), default=None)
                if best is None:
                    break
                options |= best
            else:
                needs.append(frozenset(options))
    if run:
        needs.append(frozenset([run]))
    return needs


def _trigger(gates: Sequence[Gate]) -> tuple[str, ...] | None:
    """The smallest, longest literal set of each gate, as one set; None if a gate is empty.

    A text holding none of these literals cannot match the rule.
    """
    if not all(gates):
        return None
    return _minimal(
        literal for gate in gates for literal in min(gate, key=lambda need: (len(need), -min(map(len, need))))
    )


def _needs_of(gates: Sequence[Gate]) -> tuple[tuple[tuple[str, ...], ...], ...]:
    """Every gate's literal sets, as literals that can be looked for in unfolded text."""
    return tuple(tuple(_minimal(need) for need in gate) for gate in gates)


def _minimal(literals: Iterable[str]) -> tuple[str, ...]:
    """The literals, each cut to its longest run without a folded character, none containing another.

    Folding changes quotes, spaces, dashes and "е" (from "ё"): a run without them is found
    in the text before folding as well as after. A literal that contains another adds nothing.
    """
    runs = {max(re.split(r"['\" \-еЕ]", literal), key=len) for literal in literals}
    return tuple(sorted(run for run in runs if run and not any(other != run and other in run for other in runs)))


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
