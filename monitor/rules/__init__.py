"""Rules: which passages of an article are mentions for the beat (pure, no I/O).

A rule (a ``[[rules]]`` table of config.toml) is compiled once, at start-up, by
:func:`compile_rules`; a bad rule is a :class:`~monitor.errors.ConfigError` naming the
rule and, for a query, the position. :meth:`Ruleset.match` then runs every rule over one
article; :meth:`Ruleset.explain` says why each passage matched or was vetoed.

A rule's ``query`` is a Boolean query with proximity (the language is described in
:mod:`monitor.rules._query` and in docs/configuration.md); ``@name`` refers to a list of phrases
(``[lists]``) or of people (``[[people]]``, shipped in ``people.toml``). The older keys keep
their meaning: ``terms`` are phrases, ``patterns`` regular expressions, ``context`` phrases
of which one must occur in the scope outside the terms, and ``exclude`` phrases that veto
the scope (query matches too).

Most articles are not about the beat: each rule keeps the literals every match must hold
(read off its query), and an article lacking them is dismissed with ``in`` tests before
it is split into words.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import cached_property, lru_cache
from itertools import chain, repeat
from operator import itemgetter
from typing import TypeAlias

from monitor.collector import collector_paused
from monitor.config import PersonSettings, RuleSettings
from monitor.errors import ConfigError
from monitor.models import Explanation, Match
from monitor.rules._engine import Article, Holds, Judge, Person, Trace, Vocabulary, judgement
from monitor.rules._query import (
    COMMENT,
    All,
    Any_,
    Field,
    ListRef,
    Near,
    Node,
    Not,
    Pattern,
    QuerySyntaxError,
    Words,
    misplaced_wildcard,
    parse,
    positional,
    split_words,
)
from monitor.rules._text import Text, searchable
from monitor.sentences import Span
from monitor.rules._words import WordMatcher, matcher

_CYRILLIC = re.compile("[а-яёА-ЯЁ]")
_KELVIN = "\u212a"  # lowercases to "k"
# Latin letters with accents ("é", "ä", "ß"): written in UTF-8 from the byte 0xC3; only these
# three other characters lowercase to one of them ("Ÿ", capital "ẞ", the Angstrom sign).
_LATIN_1 = re.compile("[\u00c0-\u00ff]")
_TO_LATIN_1 = "\u0178\u1e9e\u212b"
# Passages kept per rule and article, the first in the text: novelty is judged for each, so a page that repeats a
# matching paragraph a thousand times costs the writer no more than fifty do. Ten, as alerts quote (monitor.ingest),
# hid the news behind ten passages alerted before: a timeline or a live blog's older items.
MAX_PASSAGES = 50
# Characters of one quoted passage: a paragraph of news is a few hundred, and a page's run-on "sentence" of
# hundreds of kilobytes would otherwise be stored as a mention and mailed whole.
MAX_PASSAGE_CHARS = 1500

__all__ = ["Explanation", "Ruleset", "compile_rules", "highlight_spans"]


@dataclass(frozen=True)
class Needs:
    """A formula over literals (lowercase, or a name's or an acronym's as written) that every match of a rule
    satisfies: a cheap first test.

    ``literals``: one of them is in the text; ``parts``: all of them hold (``any_``: one of
    them). No literals and no parts: nothing is known, every text may match. ``title``: this formula holds in the
    article's title (``title:``), its literals, if any, given as this one's too (the title is in the text): "ambassador"
    in a story's body does not pass a clause that needs it in the headline.
    """

    literals: tuple[str, ...] = ()
    parts: tuple[Needs, ...] = ()
    any_: bool = False
    title: Needs | None = None

    @staticmethod
    def either(*options: tuple[str, ...]) -> Needs:
        """One of the literals of each option; nothing known if an option has none."""
        if not options or not all(options):
            return NOTHING
        return _one_of(frozenset(literal for option in options for literal in option))

    @cached_property  # asked again at every level of a formula as it is built
    def odds(self) -> float:
        """A rough chance that a text satisfies the formula: each literal of n letters is found 4^(4-n) of the time.

        Cyrillic literals count for nothing: in the many texts without Cyrillic they cost no scan.
        """
        if self.title is not None:
            return self.title.odds
        if self.literals:
            return min(1.0, sum(min(1.0, 4.0 ** (4 - len(lit))) for lit in self.literals if not _CYRILLIC.search(lit)))
        if not self.parts:
            return 1.0
        if self.any_:
            return min(1.0, sum(part.odds for part in self.parts))
        return min(part.odds for part in self.parts)

    @cached_property
    def searches(self) -> float:
        """Roughly, how few searches dismiss a text that fails the formula.

        Names are all found before, in one pass (see :class:`_Literals`), and Cyrillic literals
        are known absent from the many texts without Cyrillic: only lowercase ASCII literals count.
        """
        if self.title is not None:
            return self.title.searches
        if self.literals:
            return sum(lit.islower() and lit.isascii() for lit in self.literals)
        if not self.parts:
            return math.inf  # nothing dismisses a text
        if self.any_:
            return sum(part.searches for part in self.parts)
        return min(part.searches for part in self.parts)

    @staticmethod
    def all_of(parts: list[Needs]) -> Needs:
        known: list[Needs] = []
        for part in parts:  # nested conjunctions flattened, each part once
            for piece in (part.parts if part.parts and not part.any_ else (part,)):
                if piece != NOTHING and piece not in known:
                    known.append(piece)
        # The parts judged without a search first, then the likeliest to fail, and of those the cheapest:
        # most texts are dismissed by them.
        known.sort(key=lambda part: (part.searches > 0, part.odds, not part.literals, len(part.literals)))
        return known[0] if len(known) == 1 else Needs(parts=tuple(known))

    @staticmethod
    def any_of(parts: list[Needs]) -> Needs:
        if not parts or NOTHING in parts:
            return NOTHING
        # The alternatives that are sets of literals, as one set: one pass over them (a title's too, held in the whole
        # text: one of the set must be).
        literals = Needs.either(*(part.literals for part in parts if part.literals))
        composite = [part for part in parts if not part.literals]
        if not composite:
            return literals
        merged = ([literals] if literals.literals else []) + composite
        return merged[0] if len(merged) == 1 else Needs(parts=tuple(merged), any_=True)

    @staticmethod
    def every(formulas: Iterable[Needs]) -> set[str]:
        """Every literal of the formulas, each part walked once: the rules' formulas share most of theirs (a list's
        literals are a part of every formula built on it), and walking each where it is met was 300,000 steps."""
        found: set[str] = set()
        walked: set[int] = set()
        waiting = list(formulas)
        while waiting:
            needs = waiting.pop()
            if id(needs) not in walked:
                walked.add(id(needs))
                found.update(needs.literals)
                waiting += needs.parts
                if needs.title is not None:
                    waiting.append(needs.title)
        return found

    def holds(self, scan: _Scan) -> bool:
        """Whether the text of ``scan`` satisfies the formula."""
        if self.title is not None:  # in the whole text first, where most literals are known absent already
            return self.title.holds(scan) and self.title.holds(scan.title())
        if self.literals:
            seen = scan.seen
            for literal in self.literals:
                found = seen.get(literal)
                if found is None:
                    found = scan.look(literal)
                if found:
                    return True
            return False
        # Loops, not any() or all() over a generator: a text is dismissed here, a few dozen calls deep.
        if self.any_:
            for part in self.parts:
                if part.holds(scan):
                    return True
            return False
        # A part all of whose literals another formula found absent fails without a search.
        seen = scan.seen
        for part in self.parts:
            if part.literals and not any(map(seen.get, part.literals, repeat(True))):
                return False
        for part in self.parts:
            if not part.holds(scan):
                return False
        return True


NOTHING = Needs()  # nothing known: every text may match


@lru_cache(maxsize=4096)  # a list's literals recur in every formula built on it (3 % of compiling the beat's rules)
def _one_of(every: frozenset[str]) -> Needs:
    """One of ``every``, those held by another left out (see :meth:`Needs.either`).

    A literal holding another adds nothing: whatever holds "russian" holds "russia". Held as it is looked for (see
    _Scan.look): a lowercase literal in any case, a name only as written ("Black"), so "blackout" does not hold "Black",
    and of "Black" and "black" only "black" is needed; lowercase ones come first for that. Short ones, likelier to be
    found, are looked for first. Each is compared with the shorter ones kept (whatever holds one of the rest holds one
    of those), where comparing all pairs took a tenth of compiling the beat's rules.
    """
    kept: list[str] = []
    for literal in sorted(every, key=lambda lit: (len(lit), not lit.islower())):
        low = literal.lower()
        if not any(short in (low if short.islower() else literal) for short in kept):
            kept.append(literal)
    return Needs(tuple(sorted(kept, key=lambda lit: (len(lit), lit))))


def _in_title(needs: Needs) -> Needs:
    """``needs`` held in the title. A conjunction is each of its parts held there, so that they are ordered among
    the formula's other parts as they were, the likeliest to fail first."""
    if needs == NOTHING:
        return NOTHING
    if needs.parts and not needs.any_:
        return Needs.all_of([_in_title(part) for part in needs.parts])
    return Needs(literals=needs.literals, title=needs)


def _holding(literals: set[str]) -> dict[str, tuple[str, ...]]:
    """Each literal -> the other literals that hold it: where it is absent, so are they ("russia", "russian").

    A lowercase literal is held by the others lowercased, any other by them as written. Each literal's substrings
    are looked up (a few dozen), not every pair compared (half a million at 700 literals).
    """
    holding: dict[str, list[str]] = {literal: [] for literal in literals}
    for long in literals:
        for text, lowercase in ((long.lower(), True), (long, False)):
            for short in {text[start:end] for start in range(len(text)) for end in range(start + 1, len(text) + 1)}:
                if short != long and short in holding and short.islower() == lowercase:
                    holding[short].append(long)
    return {literal: tuple(longs) for literal, longs in holding.items()}


class _Literals:
    """The literals of a ruleset's formulas, and what spares a text some of the searches for them.

    A text is searched for a literal at most once, lowercased; one with a capital (a name:
    "Black"; an acronym: "US") must then be written so or all in capitals ("BLACK"). Where a literal is absent,
    so are the longer ones holding it ("russia", "russian"). A Cyrillic letter, in either case,
    is written in UTF-8 from the byte 0xD0 or 0xD1, and a text holding neither holds no Cyrillic
    literal: two searches for a byte, the quickest there are. So with an accented Latin letter
    ("échange", "Außenministerium") and the byte 0xC3.

    An ASCII literal is looked for in the text's UTF-8 bytes, lowercased byte by byte, a
    tenth of the cost of lowercasing the text: the same, as no character but "İ" (folded) and
    the Kelvin sign lowercases to an ASCII letter (a text with the sign is lowercased).

    The ASCII names and acronyms (some 85, a few of which a text may hold) are all found first,
    in one pass of one alternation over the bytes as written: it stops only at their capitals.
    """

    def __init__(self, literals: Iterable[str]) -> None:
        every = set(literals)
        self.holding = _holding(every)
        no_cyrillic = {literal: False for literal in every if _CYRILLIC.search(literal)}
        self.no_latin_1 = {literal: False for literal in every if _LATIN_1.search(literal)}
        # Lowercased, and for a name as written and in capitals (None for a lowercase literal).
        self.ascii = {literal: (literal.lower().encode(), None if literal.islower() else (
            literal.encode(), literal.upper().encode())) for literal in every if literal.isascii()}
        names = {literal for literal, (_, name) in self.ascii.items() if name is not None}
        written = {form for name in names for form in (name, name.upper())}
        self.names = re.compile(_alternation(written).encode()) if written else None
        # What the alternation matched (the longest of the forms beginning there) -> the names it holds.
        self.named = {form.encode(): tuple(name for name in names if form.startswith((name, name.upper())))
                      for form in written}
        no_names = dict.fromkeys(names, False)
        # What a text is known to lack before any search, by whether it may hold Cyrillic and accented Latin
        # letters: the names until they are found, and the literals of a script it lacks. Copied whole for each
        # text, a quarter of the cost of filling it.
        self.unseen = {(cyrillic, latin): {**no_names, **({} if cyrillic else no_cyrillic),
                                           **({} if latin else self.no_latin_1)}
                       for cyrillic in (False, True) for latin in (False, True)}

    def scan(self, text: str) -> _Scan:
        """The article's text (title and body) ready to be searched."""
        cased = searchable(text)
        written = cased.encode("utf-8", "surrogatepass")  # a page may hold a lone surrogate
        kelvin = _KELVIN in cased
        # No other character lowercases to a Cyrillic letter (tests/test_rules.py checks it).
        cyrillic = b"\xd0" in written or b"\xd1" in written
        # Nor to an accented Latin letter, but those three (tests/test_rules.py checks it), which make a text not plain.
        odd_latin = any(c in cased for c in _TO_LATIN_1)
        seen = self.unseen[cyrillic, odd_latin or b"\xc3" in written].copy()
        scan = _Scan(cased, written, seen, self.holding, {} if kelvin else self.ascii)
        named = False
        if self.names is not None:
            found = self.names.search(written)
            named = found is not None
            while found is not None:  # on from one place after each: names may overlap
                seen.update(dict.fromkeys(self.named[found.group()], True))
                found = self.names.search(written, found.start() + 1)
        scan.plain = not (kelvin or odd_latin or cyrillic or named)
        return scan

    def dismissal(self, formulas: Sequence[Needs]) -> tuple[bytes, ...] | None:
        """Lowercase literals, ASCII or with accented Latin letters, the absence of all of which fails every
        formula on a plain text (see :attr:`_Scan.plain`), as the bytes to look for in its ASCII-lowercased
        UTF-8; None if there are none such.

        A plain text answers every search but those for these literals as the empty text does: the
        formulas are judged on the empty text, and the literals looked for there are the ones. Most
        texts are dismissed by these searches, in C, without the formulas being walked in Python. An
        accented letter is looked for as written in either case ("é", "É"): the bytes are lowercased
        ASCII only.
        """
        scan = self.scan("")
        for literal in self.no_latin_1:  # looked for, as in a text holding accented letters
            del scan.seen[literal]
        before = set(scan.seen)
        if any(needs.holds(scan) for needs in formulas):
            return None
        looked = [literal for literal in scan.seen if literal not in before]
        # A literal found absent with a shorter one it holds needs no search of its own.
        looked = [literal for literal in looked if not any(literal in self.holding[short] for short in looked)]
        if not all(literal.islower() and (literal.isascii() or literal in self.no_latin_1) for literal in looked):
            return None
        return tuple(form.encode() for literal in looked for form in _cased_accents(literal))


class _Scan:
    """One article's text, each literal looked for in it at most once."""

    def __init__(self, cased: str, written: bytes, seen: dict[str, bool], holding: dict[str, tuple[str, ...]],
                 ascii: dict[str, tuple[bytes, tuple[bytes, bytes] | None]]) -> None:
        self.cased = cased  # as :func:`~monitor.rules._text.searchable` gives it
        self.written = written  # in UTF-8
        self.seen = seen  # literal -> whether the text holds it, once known
        self.holding = holding
        self.ascii = ascii
        self.low = self.written.lower()
        self._lowered: str | None = None
        # The article's title alone, scanned when a formula's title part first holds in the whole text; the whole
        # text where no title is given apart (the empty text the prefilter's dismissal is worked out on).
        self.title_text: str | None = None
        self.scan_title: Callable[[str], _Scan] | None = None
        self._title: _Scan | None = None
        # No name of the people lists, no Cyrillic or accented Latin letter, no Kelvin sign: only its ASCII
        # literals may be found.
        self.plain = False

    def title(self) -> _Scan:
        """Where a formula's ``title:`` parts are looked for."""
        if self.title_text is None or self.scan_title is None:
            return self
        if self._title is None:
            self._title = self.scan_title(self.title_text)
        return self._title

    @property
    def lowered(self) -> str:
        """The text lowercased, for a literal that is not ASCII: most texts are never asked for one."""
        if self._lowered is None:
            self._lowered = self.cased.lower()
        return self._lowered

    def look(self, literal: str) -> bool:
        """Whether the text holds a literal not looked for yet; what follows is recorded in :attr:`seen`."""
        forms = self.ascii.get(literal)
        if forms is not None:
            lowered, name = forms
            found = lowered in self.low and (name is None or name[0] in self.written or name[1] in self.written)
        elif literal.islower():
            found = literal in self.lowered
        else:
            found = literal.lower() in self.lowered and (literal in self.cased or literal.upper() in self.cased)
        self.seen[literal] = found
        if not found:
            for longer in self.holding[literal]:
                self.seen[longer] = False
        return found


def _cased_accents(literal: str) -> list[str]:
    """A lowercase literal with each accented Latin letter in either case ("échang": "échang", "Échang")."""
    forms = [""]
    for char in literal:
        cased = [char] if char.isascii() else [c for c in dict.fromkeys((char, char.upper())) if len(c) == 1]
        forms = [form + c for form in forms for c in cased]
    return forms


_Trie: TypeAlias = "dict[str, _Trie]"


def _alternation(strings: Iterable[str]) -> str:
    """A regular expression for any of ``strings``, the longest where several begin at one place.

    Written as a tree of common prefixes, so that a place is ruled out by one comparison per
    letter rather than one per string.
    """
    tree: _Trie = {}
    for string in strings:
        node = tree
        for char in string:
            node = node.setdefault(char, {})
        node[""] = {}

    def written(node: _Trie) -> str:
        branches = [re.escape(char) + written(rest) for char, rest in sorted(node.items()) if char]
        if "" in node:  # a string ends here: after the longer ones
            branches.append("")
        return branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"

    return written(tree)


@dataclass(frozen=True)
class _Rule:
    name: str
    node: Node
    scope: str
    needs: Needs  # an article that does not satisfy them cannot match
    cues: tuple[Node, ...]  # a unit that holds none of their places cannot match (it would have no hits)
    # The needs again, with the people named only in full needed by every word of a name: asked only of a text that
    # satisfies the needs, so that they alone order the searches and make the dismissal (see Ruleset._candidates).
    needs_in_full: Needs
    # The query's nodes compiled for judging units (see :func:`~monitor.rules._engine.judgement`), by id.
    judgements: dict[int, Holds] = field(init=False, repr=False, compare=False)
    # Its NOT NEARs, by id: an article's places are found once for every rule, and so are the vetoes among them.
    veto_ids: frozenset[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled: dict[int, Holds] = {}
        cues = {id(cue) for cue in self.cues}
        judgement(self.node, cues, compiled)
        # The clauses an explanation names are judged one by one, even where the query judges them as one list.
        if (named := _named_clauses(self.node)) is not None:
            for clause in named.items:
                judgement(clause, cues, compiled)
        object.__setattr__(self, "judgements", compiled)
        object.__setattr__(self, "veto_ids", frozenset(id(near) for near in _vetoes(self.node)))

    # A compiled ruleset crosses to each parsing worker as a pickle (a quarter of the CPU of compiling it there). The
    # judging functions are closures, and keyed by the ids of nodes that get new ids across: made again on arrival.
    def __getstate__(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}

    def __setstate__(self, state: dict[str, object]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
        self.__post_init__()


_LIST_REFERENCE = re.compile(r"@\w+(?:\.surnames)?")  # a list's node keeps the reference it was compiled from


class Ruleset:
    """The compiled rules of a configuration; :meth:`match` is pure and thread-safe."""

    def __init__(self, rules: Sequence[_Rule], vocabulary: Vocabulary) -> None:
        self._rules = tuple(rules)
        self._vocabulary = vocabulary
        self.names: tuple[str, ...] = tuple(rule.name for rule in rules)
        self._literals = _Literals(Needs.every(needs for rule in rules for needs in (rule.needs, rule.needs_in_full)))
        # The formula that dismisses a text with the fewest searches first: the literals it finds absent
        # spare the others those searches.
        self._by_searches = sorted(self._rules, key=lambda rule: rule.needs.searches)
        self._dismissal = self._literals.dismissal([rule.needs for rule in self._by_searches])

    def match(self, text: str, title: str = "") -> list[Match]:
        """Every passage of the body ``text`` matched by each rule (at most :data:`MAX_PASSAGES`), in rule then text order.

        ``text`` is an article's body, paragraphs separated by blank lines; the ``title`` is
        context for ``title:`` and ``article:``, never quoted.
        """
        rules = self._candidates(text, title)
        if not rules:
            return []
        with collector_paused():  # the article's words, places and spans make no cycles (most texts end above)
            return self._matches(rules, Article(title, text, self._vocabulary))

    def _matches(self, rules: list[_Rule], article: Article) -> list[Match]:
        matches = []
        for rule in rules:
            passages: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}  # passage -> terms, news
            for explanation in _judge(rule, article, explain=False):
                earlier = passages.get(explanation.passage)
                if earlier is None:
                    if len(passages) == MAX_PASSAGES:
                        break
                    passages[explanation.passage] = explanation.terms, explanation.news  # each term once already
                else:  # the same passage quoted from another unit
                    terms, news = earlier
                    passages[explanation.passage] = (tuple(dict.fromkeys(terms + explanation.terms)),
                                                     tuple(dict.fromkeys(news + explanation.news)))
            matches += [Match(rule.name, passage, terms, self.cues(passage), news)
                        for passage, (terms, news) in passages.items()]
        return matches

    def cues(self, passage: str) -> tuple[str, ...]:
        """The words of a passage that the rules' stems read (``expel*``, ``summon*``, ``nominat*``), as it writes
        them in lower case, the clause that fired or not: what makes a sentence news beside an earlier one that says
        the rest (:func:`monitor.dedup.seen_before`). "Russia expelled the US ambassador" matched on "US ambassador"
        and Russia alone, and a summons of the day before, its every other word the same, made the expulsion old
        news. Stems, not every word the rules know: those hold "the", "end" and "people", and a copy editor's "the
        end of the Cold War" would have been news."""
        return tuple(dict.fromkeys(self._cue.findall(passage))) if self._cue else ()

    @cached_property
    def _cue(self) -> re.Pattern[str] | None:
        """A word that begins with one of the rules' stems, as written in lower case (see :meth:`cues`). Compiled at
        the first passage: 7 % of compiling the beat's rules, which ``monitor once`` does to check them, and each
        parsing worker again as the rules arrive (a pattern crosses as its text)."""
        prefixes = self._vocabulary.prefixes
        return re.compile(rf"\b(?:{_alternation(prefixes)})\w*") if prefixes else None

    def explain(self, text: str, title: str = "") -> list[Explanation]:
        """Each unit that matched a rule, or held its words but was vetoed, with the reasons.

        Every rule is judged unless the dismissal's searches tell that none may match: a rule's near-misses are
        explained where its needs fail too ("China's new Ambassador to Russia" holds the post's words in its body,
        where a clause needing them in the headline cannot use them, and is explained as vetoed by "China").
        """
        if self._dismissed(self._literals.scan(f"{title}\n{text}")):
            return []
        article = Article(title, text, self._vocabulary)
        return [explanation for rule in self._rules for explanation in _judge(rule, article, explain=True)]

    def lists_found(self, rule: str, text: str, title: str = "") -> tuple[tuple[str, str], ...]:
        """The lists a rule refers to (``@name``, in its named clauses too) that hold words of the article or its title,
        each with the first it holds, in the query's order: what a passage the rule missed with no veto gave it to work
        with, for the rule's author (``monitor rules eval``)."""
        [judged] = [candidate for candidate in self._rules if candidate.name == rule]
        judge = Judge(Article(title, text, self._vocabulary))
        found = []
        for node in _nodes(judged.node):
            if isinstance(node, (ListRef, Any_)) and _LIST_REFERENCE.fullmatch(node.source) and positional(node):
                if places := judge.everywhere(node):
                    found.append((node.source, judge.article.text.quote(places[0])))
        return tuple(dict.fromkeys(found))

    def _candidates(self, text: str, title: str) -> list[_Rule]:
        """The rules whose needs the article satisfies, in their order: only these may match it.

        Most texts satisfy none; of those about the beat, many satisfy one rule only, and judging
        the other was most of the work spent on them.
        """
        scan = self._literals.scan(f"{title}\n{text}")
        if self._dismissed(scan):
            return []
        scan.title_text, scan.scan_title = title, self._literals.scan
        held = {id(rule) for rule in self._by_searches if rule.needs.holds(scan)
                and (rule.needs_in_full is rule.needs or rule.needs_in_full.holds(scan))}
        return [rule for rule in self._rules if id(rule) in held]

    def _dismissed(self, scan: _Scan) -> bool:
        """Whether a few searches in C tell that the text fails every rule's needs (see :meth:`_Literals.dismissal`)."""
        return scan.plain and self._dismissal is not None and not any(map(scan.low.__contains__, self._dismissal))


def _units(rule: _Rule, article: Article) -> list[Span]:
    paragraphs = article.body_paragraphs
    if rule.scope == "article":
        return [(paragraphs[0][0], paragraphs[-1][1])] if paragraphs else []
    if rule.scope == "sentence":
        return [sentence for paragraph in paragraphs for sentence in article.text.sentences(paragraph)]
    return paragraphs


def _judge(rule: _Rule, article: Article, explain: bool) -> Iterator[Explanation]:
    """The passages of one rule in one article: matches, and (``explain``) vetoed near-misses."""
    text = article.text
    holds = rule.judgements[id(rule.node)]
    quiet = Judge(article)
    # Where the cues' places begin, gathered in C: a unit in which none begins has no hits.
    cue_starts = sorted(set(map(itemgetter(0), chain.from_iterable(map(quiet.everywhere, rule.cues)))))
    for lo, hi in _units(rule, article):
        if not explain and bisect_left(cue_starts, lo) == bisect_left(cue_starts, hi):
            continue
        trace = Trace() if explain else None
        judge = quiet if trace is None else Judge(article, trace)
        found: list[Span] = []
        held = holds(judge, lo, hi, found)
        hits = sorted(set(found))  # each inside the unit: a node's places are cut to the range it is judged in
        vetoes: tuple[tuple[str, str], ...] = ()
        if trace is not None:
            vetoes = tuple(dict.fromkeys([*trace.vetoes, *(
                (clause, text.quote(span)) for span, near, clause in article.vetoed
                if near in rule.veto_ids and lo <= span[0] and span[1] <= hi)]))
        if held and hits:
            clauses = _clauses(rule, judge, lo, hi) if explain else ()
            context = tuple(trace.context) if trace else ()
            matched = judge.words_matched(hits)
            for passage, terms, sentences in _passages(article, matched):  # the words that matched
                news = tuple(text.quote_chars(chars) for chars, words in sentences
                             if _tells(holds, quiet, matched, words))
                yield Explanation(rule.name, passage, True, clauses, terms, context, vetoes, news=news)
        elif vetoes:
            chars = (_sentence_chars(article, lo)[0], _sentence_chars(article, hi - 1)[1])
            yield Explanation(rule.name, _bounded_quote(text, chars, text.starts[lo]), False, (), (), (), vetoes)


def _tells(holds: Holds, judge: Judge, hits: list[Span], sentence: Span) -> bool:
    """Whether a sentence of a passage tells the rule's news (:attr:`monitor.models.Match.news`): a word the rule read
    in it is no name ("the ambassador", "expelled"), it holds a word of the rules' stems (an event read only near the
    post: "Washington then recalled her", fifteen words on), or the rule holds in it alone ("Tracy left Moscow" under
    a headline naming the post). The others are context: a side's name ("Washington has not responded"), or nothing
    the rule read."""
    lo, hi = sentence
    article = judge.article
    inside = hits[bisect_left(hits, (lo,)) : bisect_left(hits, (hi,))]
    if any(article.text.cased[at][:1].islower() for at, _ in inside):
        return True
    return not article.stemmed.isdisjoint(article.text.words[lo:hi]) or holds(judge, lo, hi, [])


def _named_clauses(node: Node) -> Any_ | None:
    """The clauses an explanation names: the top-level OR, or a group of clauses the query puts first under
    conditions (``( clauses ) AND both sides named``), whose whole text, a page long, says nothing of why a passage
    matched. None where the query has neither."""
    if isinstance(node, All) and isinstance(node.items[0], Any_) and node.items[0].labels:
        node = node.items[0]
    return node if isinstance(node, Any_) and node.labels else None


def _clauses(rule: _Rule, judge: Judge, lo: int, hi: int) -> tuple[str, ...]:
    """The clauses of a query (:func:`_named_clauses`) that hold in a unit, by their comment or their text."""
    named = _named_clauses(rule.node)
    if named is None:
        return (rule.node.source,)
    quiet = Judge(judge.article)
    return tuple(label or item.source for item, label in zip(named.items, named.labels, strict=True)
                 if rule.judgements[id(item)](quiet, lo, hi, []))


def _passages(article: Article, hits: list[Span]) -> Iterator[tuple[str, tuple[str, ...], list[tuple[Span, Span]]]]:
    """Per paragraph holding hits (sorted): the run of sentences from the first hit to the last, the words hit, and
    the run's sentences (characters, words)."""
    text = article.text
    starts = article.paragraph_starts
    at = 0
    while at < len(hits):
        # A paragraph's hits follow each other: the next paragraph's first hit is found by one search.
        index = bisect_right(starts, hits[at][0]) - 1
        end = bisect_left(hits, (starts[index + 1],), at) if index + 1 < len(starts) else len(hits)
        p_hits = hits[at:end]
        at = end
        paragraph = text.paragraphs[index]
        sentences = text.sentence_spans(paragraph)
        first = text.sentence_of(paragraph, p_hits[0][0])
        last = text.sentence_of(paragraph, max(h[1] for h in p_hits) - 1)
        chars = (sentences[first][0][0], sentences[last][0][1])
        terms = tuple(dict.fromkeys(map(text.quote, p_hits)))
        start, end = _quoted(chars, text.starts[p_hits[0][0]])  # a long run's sentences outside its quote are not in it
        quoted = [sentence for sentence in sentences[first : last + 1] if start <= sentence[0][0] and sentence[0][1] <= end]
        yield _bounded_quote(text, chars, text.starts[p_hits[0][0]]), terms, quoted


def _sentence_chars(article: Article, word: int) -> Span:
    """The characters of the sentence holding ``word``, its closing stop included (a quote of words alone ends
    before it)."""
    text = article.text
    paragraph = text.paragraphs[bisect_right(article.paragraph_starts, word) - 1]
    return text.sentence_spans(paragraph)[text.sentence_of(paragraph, word)][0]


def _bounded_quote(text: Text, chars: Span, first_hit: int) -> str:
    """The passage ``chars`` quoted, or at most :data:`MAX_PASSAGE_CHARS` of it around its first hit, cut
    between words, an ellipsis marking each cut."""
    cut = _quoted(chars, first_hit)
    if cut == chars:
        return text.quote_chars(chars)
    # The words wholly inside the window: one hit at least, as the window opens before the first.
    cut = (text.starts[bisect_left(text.starts, cut[0])], text.ends[bisect_right(text.ends, cut[1]) - 1])
    quote = text.quote_chars(cut)
    return ("…" if cut[0] > chars[0] else "") + quote + ("…" if cut[1] < chars[1] else "")


def _quoted(chars: Span, first_hit: int) -> Span:
    """The characters of a passage a quote takes: all, or :data:`MAX_PASSAGE_CHARS` of them around its first hit."""
    start, end = chars
    if end - start <= MAX_PASSAGE_CHARS:
        return chars
    start = max(start, first_hit - MAX_PASSAGE_CHARS // 4)
    return start, min(end, start + MAX_PASSAGE_CHARS)


# ---------------------------------------------------------------- compiling


_LISTS_SHOWN = 12  # of a config's lists, named where a query refers to one it lacks


def _no_such_list(name: str, known: list[str]) -> str:
    """Why ``@name`` is not a list, with the closest name: a config with 140 lists named them all, a line of 1,700
    characters, and said nothing of where lists of people come from (a ``people_file`` replaces the shipped ones)."""
    shown = ", ".join(known[:_LISTS_SHOWN]) + (f" and {len(known) - _LISTS_SHOWN} more" if len(known) > _LISTS_SHOWN
                                               else "") if known else "none"
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean @{close[0]}?" if close else ""
    return (f"no list named @{name} (lists: {shown}{hint}): lists are defined in [lists], and lists of people by the"
            " [[people]] that name them (people_file replaces the people monitor ships)")


class _Compiler:
    """Turns queries into trees of matcher ids over one shared vocabulary."""

    def __init__(self, lists: Mapping[str, Sequence[str] | str], people: Sequence[PersonSettings]) -> None:
        self.matchers: dict[WordMatcher, int] = {}
        self.expanding: list[str] = []  # named clauses being expanded, to catch one that refers to itself
        self.order: list[WordMatcher] = []  # by id
        self.literals: list[tuple[str, ...]] = []  # by id, each matcher's (asked for at every phrase it is in)
        self.lists = lists
        self.people_settings: dict[str, list[PersonSettings]] = {}
        for person in people:
            for name in person.lists:
                self.people_settings.setdefault(name, []).append(person)
        self.people: dict[str, tuple[Person, ...]] = {}
        self.known_ids: dict[tuple[str, bool], tuple[int, ...]] = {}
        # Each word's matcher made once, its forms (some seventy for a Russian word) hashed into one set: the phrases
        # a word is in made it again each time, 6,200 matchers for the beat's 3,500.
        self.known_words: dict[tuple[str, bool], int] = {}
        self.known_needs: dict[tuple[int, bool], tuple[Node, Needs]] = {}
        # Each list or named clause compiled once, however often it is referred to (``@us`` in ten places): compiling
        # it anew each time was most of the compile, which every parsing worker pays as it starts.
        self.known_lists: dict[ListRef, Node] = {}

    def ids(self, phrase: str, name: bool = False) -> tuple[int, ...]:
        """The ids of a phrase's word matchers, each phrase's worked out once: a list is expanded wherever it is
        referred to."""
        if (phrase, name) not in self.known_ids:
            self.known_ids[phrase, name] = tuple(self.word_id(word, name) for word in split_words(phrase))
        return self.known_ids[phrase, name]

    def word_id(self, word: str, name: bool) -> int:
        if (word, name) not in self.known_words:
            self.known_words[word, name] = self.id(matcher(word, name))
        return self.known_words[word, name]

    def id(self, word: WordMatcher) -> int:
        if word not in self.matchers:
            self.matchers[word] = len(self.order)
            self.order.append(word)
            self.literals.append(word.literals)
        return self.matchers[word]

    def words(self, phrase: str) -> Words:
        words = tuple(split_words(phrase))
        if not words:
            raise ValueError(f"{phrase!r} has no words to match")
        if problem := misplaced_wildcard(phrase):
            raise ValueError(problem)
        return Words(words, phrase, self.ids(phrase))

    def node(self, node: Node) -> Node:
        if isinstance(node, Words):
            return Words(node.words, node.source, self.ids(" ".join(node.words)))
        if isinstance(node, ListRef):
            return self.list_ref(node)
        if isinstance(node, Any_):
            items = tuple(self.node(item) for item in node.items)
            return replace(node, items=items, places=all(positional(item) for item in items))
        if isinstance(node, All):
            return replace(node, items=tuple(self.node(item) for item in node.items))
        if isinstance(node, Near):
            left, right = self.node(node.left), self.node(node.right)
            for written, side in ((node.left, left), (node.right, right)):
                if not positional(side):  # a named clause: the parser saw only its name
                    raise ValueError(self.unjoinable(node, written))
            return replace(node, left=left, right=right)
        if isinstance(node, (Not, Field)):
            return replace(node, item=self.node(node.item))
        return node

    def unjoinable(self, near: Near, side: Node) -> str:
        """Why a NEAR cannot join a named clause of AND, NOT or a field, and what to write instead. Found as the
        rules compile: when matching, it raised on every article it could match, each then lost to the archive."""
        operator = f"{'ONEAR' if near.ordered else 'NEAR'}/{near.distance}"
        joins = f"{near.source}: {operator} joins words, phrases, lists or NEAR clauses"
        entry = self.lists.get(side.name) if isinstance(side, ListRef) else None
        if not isinstance(side, ListRef) or not isinstance(entry, str):
            return f"{joins}, not AND, NOT or fields"
        quoted = json.dumps(entry, ensure_ascii=False)  # as TOML writes it
        return (f"{joins}, and {side.source} is a query ({quoted}: a string in [lists] is one, whose words are each"
                f" required anywhere); for a phrase, write {side.name} = [{quoted}]")

    def list_ref(self, node: ListRef) -> Node:
        if node not in self.known_lists:
            self.known_lists[node] = self._list_ref(node)  # a list that fails raises each time: nothing is kept
        return self.known_lists[node]

    def _list_ref(self, node: ListRef) -> Node:
        if node.name in self.people_settings:
            if node.name not in self.people:
                self.people[node.name] = tuple(self.person(p) for p in self.people_settings[node.name])
            return node
        if node.name in self.lists:
            if node.surnames:
                raise ValueError(f"{node.source}: .surnames is for lists of people, and {node.name!r} is not one")
            entry = self.lists[node.name]
            if isinstance(entry, str):
                return self.clause(node, entry)
            try:
                phrases = tuple(self.words(phrase) for phrase in entry)
            except ValueError as exc:
                raise ValueError(f"in {node.source}: {exc}") from exc
            return Any_(phrases, node.source, places=True)
        raise ValueError(_no_such_list(node.name, sorted({*self.lists, *self.people_settings})))

    def clause(self, node: ListRef, query: str) -> Node:
        """A named clause (a string in ``[lists]``), expanded where it is referred to."""
        if node.name in self.expanding:
            raise ValueError(f"{node.source} refers to itself (through {' -> '.join([*self.expanding, node.name])})")
        self.expanding.append(node.name)
        try:
            return self.node(parse(query))
        except QuerySyntaxError as exc:
            raise ValueError(f"in {node.source}: {exc} ({_around(query, exc.position)})") from exc
        except ValueError as exc:  # a list it names, unknown or wrong: said where it is named
            raise ValueError(f"in {node.source}: {exc}") from exc
        finally:
            self.expanding.pop()

    def person(self, person: PersonSettings) -> Person:
        def phrases(names: Sequence[str]) -> tuple[tuple[int, ...], ...]:
            return tuple(ids for name in names if (ids := self.ids(name, name=True)))
        return Person(phrases([person.name, *person.aliases]), phrases(person.surnames), person.distinctive,
                      phrases(person.others))

    def vocabulary(self) -> Vocabulary:
        matchers = tuple(self.order)
        by_word: dict[str, list[int]] = {}
        prefixes: dict[str, list[int]] = {}
        for id_, word in enumerate(matchers):
            for form in word.forms:
                by_word.setdefault(form, []).append(id_)
            if word.cased:
                by_word.setdefault(word.cased.lower(), []).append(id_)
            if word.prefix:
                prefixes.setdefault(word.prefix, []).append(id_)
        # A prefix's own beginnings looked up, not every pair of prefixes compared; in the prefixes' order.
        order = {prefix: position for position, prefix in enumerate(prefixes)}
        with_shorter = {prefix: tuple(id_ for shorter in sorted((prefix[:end] for end in range(1, len(prefix) + 1)
                                                                 if prefix[:end] in order), key=order.__getitem__)
                                      for id_ in prefixes[shorter])
                        for prefix in prefixes}
        prefixed = re.compile(f"\n({_alternation(prefixes)})([^\n]*)") if prefixes else None
        return Vocabulary(matchers, {k: tuple(v) for k, v in by_word.items()}, frozenset(by_word), with_shorter,
                          prefixed, self.people)

    def phrase_literals(self, ids: tuple[int, ...]) -> tuple[str, ...]:
        """Literals of a phrase: its most telling word's (the longest; "the ambassador" is found by "ambassador")."""
        if len(ids) == 1:
            return self.literals[ids[0]]
        return max((self.literals[id_] for id_ in ids), key=lambda option: min(map(len, option), default=0))

    def name_literal(self, ids: tuple[int, ...]) -> tuple[str, ...]:
        """Literals of a name: its last word's (a surname is rarer than a first name), else its most telling word's."""
        return self.literals[ids[-1]] or self.phrase_literals(ids)

    def needs(self, node: Node, in_full: bool = False) -> Needs:
        """What every match of ``node`` holds, as a formula over literals (see :class:`Needs`).

        ``in_full``: with a person who is named only in full needing every word of a full name, not its last alone
        (see :meth:`named`). Worked out once per clause: a shared clause (``@us`` in ten places, see
        :class:`_Sharing`) is one object.
        """
        key = (id(node), in_full)
        if key not in self.known_needs:
            self.known_needs[key] = (node, self._needs(node, in_full))  # the node kept, so its id is never reused
        return self.known_needs[key][1]

    def _needs(self, node: Node, in_full: bool) -> Needs:
        if isinstance(node, Words):  # the same either way: the one object, so that a clause without people is too
            return self.needs(node) if in_full else Needs.either(self.phrase_literals(node.ids))
        if isinstance(node, ListRef):
            people = self.people[node.name]
            if in_full:
                return Needs.any_of([needs for person in people for needs in self.named(person, node.surnames)])
            return Needs.any_of([Needs.either(self.name_literal(ids)) for person in people
                                 for ids in (*person.names, *person.surnames)])
        if isinstance(node, (Any_, All, Near, Field)):
            items = _needed(node)
            parts = [self.needs(item, in_full) for item in items]
            if in_full and all(part is self.needs(item) for part, item in zip(parts, items)):
                return self.needs(node)  # no one named only in full below: the same formula, not built again
            if isinstance(node, Field):
                return _in_title(parts[0]) if node.name == "title" else parts[0]
            return Needs.any_of(parts) if isinstance(node, Any_) else Needs.all_of(parts)
        return NOTHING

    def named(self, person: Person, surnames: bool) -> list[Needs]:
        """The ways an article names a person (see :func:`~monitor.rules._engine._people_spans`): each full name,
        by its last word as written and its other words in any case; a surname alone only where it names the person
        by itself (a distinctive person, or ``@list.surnames``).

        "Gordon Black" is no longer needed by "Black" alone, which any "Black Friday" holds. The other words'
        literals are lowercased so that they are searched only in a text that holds the last word, never in the one
        pass for the names that tells which texts are plain.
        """
        full = [Needs.all_of([Needs.either(self.name_literal(ids)),
                              *(Needs.either(tuple(lit.lower() for lit in self.literals[id_]))
                                for id_ in ids[:-1])])
                for ids in person.names]
        alone = [Needs.either(self.name_literal(ids)) for ids in person.surnames] if surnames or person.distinctive else []
        return full + alone


def _legacy(rule: RuleSettings, compiler: _Compiler, problems: list[str], where: str) -> Node | None:
    """The older keys as a query: (terms OR patterns) with context outside the terms, exclude aside."""
    terms: list[Node] = []
    for key in ("terms", "context", "exclude"):
        for position, phrase in enumerate(getattr(rule, key)):
            if not split_words(phrase):
                problems.append(f"{where}.{key}[{position}]: {phrase!r} has no words to match")
    terms = [compiler.words(term) for term in rule.terms if split_words(term)]
    patterns: list[Node] = []
    for position, pattern in enumerate(rule.patterns):
        try:
            regex = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            problems.append(f"{where}.patterns[{position}]: {pattern!r} cannot be used: {exc}")
            continue
        if regex.fullmatch(""):
            problems.append(f"{where}.patterns[{position}]: {pattern!r} matches the empty string")
            continue
        patterns.append(Pattern(regex, pattern))
    found = [*terms, *patterns]
    if not found:
        return None
    node: Node = found[0] if len(found) == 1 else Any_(tuple(found), "terms, patterns")
    context = [compiler.words(phrase) for phrase in rule.context if split_words(phrase)]
    if context:
        evidence: Node = Any_(tuple(context), "context")
        if terms:
            evidence = Near(evidence, Any_(tuple(terms), "terms"), -1, False, True, "context")
        # Context is evidence, not a cue: NOT NOT keeps its truth and drops its places from the passage.
        node = All((node, Not(Not(evidence, "context"), "context")), "terms with context")
    return node


@collector_paused()  # the collections its allocations set off found nothing to free: 5 % of compiling the beat's rules
def compile_rules(
    rules: Sequence[RuleSettings],
    lists: Mapping[str, Sequence[str] | str] | None = None,
    people: Sequence[PersonSettings] = (),
) -> Ruleset:
    """Compile the configured rules once; every problem is reported in one ConfigError."""
    compiler = _Compiler(lists or {}, people)
    # A query's @name reads the people's list of that name: a [lists] entry of the same name was ignored unsaid.
    problems = [f"lists.{name}: the people's lists have one named {name!r} too, which @{name} reads: rename this one"
                for name in sorted(compiler.lists.keys() & compiler.people_settings.keys())]
    compiled: list[tuple[str, Node, str]] = []
    for index, rule in enumerate(rules):
        where = f"rules[{index}] ({rule.name})"
        parts: list[Node] = []
        if rule.query.strip():
            try:
                parts.append(compiler.node(parse(rule.query)))
            except QuerySyntaxError as exc:
                problems.append(f"{where}.query: {exc} ({_around(rule.query, exc.position)})")
            except ValueError as exc:
                problems.append(f"{where}.query: {exc}")
        legacy = _legacy(rule, compiler, problems, where)
        if legacy is not None:
            parts.append(legacy)
        if not parts:
            continue
        node = parts[0] if len(parts) == 1 else Any_(tuple(parts), "query, terms")
        exclude = [compiler.words(phrase) for phrase in rule.exclude if split_words(phrase)]
        if exclude:
            node = All((node, Not(Any_(tuple(exclude), "exclude"), "exclude")), "rule")
        compiled.append((rule.name, node, rule.scope))
    if problems:
        raise ConfigError(problems)
    share = _Sharing()
    finished = [
        _Rule(name, node, scope, compiler.needs(node), tuple(_cues(node)), compiler.needs(node, in_full=True))
        for name, node, scope in ((name, share(node), scope) for name, node, scope in compiled)
    ]
    return Ruleset(finished, compiler.vocabulary())


class _Sharing:
    """Makes equal clauses one object: ``ambassador`` written in five rules, a list referred to from two clauses that
    differ. An article keeps places by node, so one node for all of them is one lookup."""

    def __init__(self) -> None:
        self._known: dict[object, Node] = {}
        # By identity, each node met before (a list's node is one object wherever it is referred to): walked once,
        # where hashing it again in each place hashed all that it holds each time.
        self._done: dict[int, tuple[Node, Node]] = {}

    def __call__(self, node: Node) -> Node:
        if id(node) not in self._done:
            shared = self._children(node)
            self._done[id(node)] = (node, self._known.setdefault(_shared_key(shared), shared))
        return self._done[id(node)][1]  # the node is kept beside, so that its id is never reused

    def _children(self, node: Node) -> Node:
        if isinstance(node, (Any_, All)):
            return replace(node, items=tuple(self(item) for item in node.items))
        if isinstance(node, Near):
            return replace(node, left=self(node.left), right=self(node.right))
        if isinstance(node, (Not, Field)):
            return replace(node, item=self(node.item))
        return node


def _shared_key(node: Node) -> object:
    """What makes a clause equal to another once the clauses it holds are shared: those by identity, the rest by value.

    A node's own hash hashes all that it holds, again at every level: sharing the beat's rules hashed 400,000 times,
    a third of compiling them.
    """
    if isinstance(node, (Words, ListRef, Pattern)):
        return node
    return (type(node), *(_identity(getattr(node, part.name)) for part in fields(node)))


def _identity(value: object) -> object:
    """A field of a clause as :func:`_shared_key` compares it: clauses (alone or in a tuple) by identity."""
    if isinstance(value, Node):
        return id(value)
    if isinstance(value, tuple) and value and isinstance(value[0], Node):
        return tuple(map(id, value))
    return value


def _vetoes(node: Node) -> Iterator[Near]:
    """The NOT NEAR clauses of a query, wherever they stand."""
    return (clause for clause in _nodes(node) if isinstance(clause, Near) and clause.veto)


def _needed(node: Any_ | All | Near | Field) -> tuple[Node, ...]:
    """The clauses whose needs a clause's needs are made of: a NEAR's vetoed side is not needed."""
    if isinstance(node, Near):
        return (node.left,) if node.veto else (node.left, node.right)
    if isinstance(node, Field):
        return (node.item,)
    return node.items


def _nodes(node: Node, seen: set[int] | None = None) -> Iterator[Node]:
    """Every clause of a query, outermost first, each once: a list referred to in ten places is one node."""
    seen = set() if seen is None else seen
    if id(node) in seen:
        return
    seen.add(id(node))
    yield node
    if isinstance(node, Near):
        yield from _nodes(node.left, seen)
        yield from _nodes(node.right, seen)
    elif isinstance(node, (All, Any_)):
        for item in node.items:
            yield from _nodes(item, seen)
    elif isinstance(node, (Not, Field)):
        yield from _nodes(node.item, seen)


def _cues(node: Node) -> Iterator[Node]:
    """The places a match's hits come from: positional clauses outside NOT and outside other fields than sentence:."""
    if positional(node):
        yield node
    elif isinstance(node, (All, Any_)):
        for item in node.items:
            yield from _cues(item)
    elif isinstance(node, Field) and node.name == "sentence":
        yield from _cues(node.item)


def _around(query: str, position: int) -> str:
    """Where a 1-based position of the query is, for an error message: its line and column in the query (a TOML
    string, whose own line in the file the parser does not give), and the query's words around it, comments left out
    (they read as query text)."""
    line = query[: position - 1].count("\n") + 1
    column = position - 1 - query.rfind("\n", 0, position - 1)
    words = COMMENT.sub(lambda comment: " " * len(comment.group()), query)  # same length: positions hold
    context = " ".join(words[max(0, position - 21) : position + 19].split())
    return f"line {line} of the query, column {column}, near {context!r}"


def highlight_spans(passage: str, terms: Iterable[str]) -> list[Span]:
    """Where ``terms`` (as in :attr:`Match.terms`) occur in ``passage``: sorted character spans, those that overlap
    or only white space parts merged ("*ambassadors back*", not "*ambassadors* *back*")."""
    text = Text(passage)
    spans: list[Span] = []
    for term in terms:
        words = [matcher(word) for word in split_words(term)]
        if not words:
            continue
        for at in range(len(text.words) - len(words) + 1):
            if all(_finds(word, text, at + k) for k, word in enumerate(words)):
                spans.append(text.char_span((at, at + len(words))))
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and (start <= merged[-1][1] or passage[merged[-1][1] : start].isspace()):
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _finds(word: WordMatcher, text: Text, at: int) -> bool:
    if word.cased:
        return text.cased[at] == word.cased
    if word.prefix:
        return text.words[at].startswith(word.prefix)
    return text.words[at] in word.forms
