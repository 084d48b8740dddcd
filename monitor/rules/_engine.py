"""Running compiled queries over one article (pure).

An article is read as one :class:`~monitor.rules._text.Text`: the title, a blank line, the
body. A rule's query is judged on each unit of the body (its ``scope``: sentence, paragraph
or the whole body); the words the query found in the unit are its *hits*, and the passage
quoted runs from the first to the last sentence holding a hit, within one paragraph. A
unit with no hit of its own is never a match, whatever a field (``title:``, ``article:``)
found elsewhere: the passage must hold the cue.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field
from itertools import accumulate, compress, count
from typing import TypeAlias

from monitor.rules._query import All, Any_, Field, ListRef, Near, Node, Not, Pattern, Positional, Words
from monitor.rules._text import Text
from monitor.sentences import Span
from monitor.rules._words import WordMatcher

# Words apart from which a veto is no longer local: a NOT NEAR this close reads only its own sentence.
LOCAL_VETO = 2


# A compiled node (see :func:`judgement`): whether a range of words satisfies it, the places that made it so
# added to the list.
Holds: TypeAlias = "Callable[[Judge, int, int, list[Span]], bool]"


@dataclass(frozen=True)
class Person:
    """One person of a list, compiled: full names, surnames, and the names of namesakes."""

    names: tuple[tuple[int, ...], ...]  # phrases of matcher ids
    surnames: tuple[tuple[int, ...], ...]
    distinctive: bool
    others: tuple[tuple[int, ...], ...]
    # The matchers of the first words of its names and surnames: an article without them does not name it.
    first_words: frozenset[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Set as it is made, not by a cached_property, whose write to __dict__ slows every attribute load in 3.11.
        object.__setattr__(self, "first_words", frozenset(ids[0] for ids in (*self.names, *self.surnames)))


@dataclass(frozen=True)
class Vocabulary:
    """Every word matcher of a ruleset by id, with the lookups that find them all in one pass."""

    matchers: tuple[WordMatcher, ...]
    by_word: dict[str, tuple[int, ...]]  # by each form, an acronym by its lowercase (then compared as written)
    words: frozenset[str]  # the keys of by_word
    # Each prefix's matchers, and those of the shorter prefixes it begins with ("amb*" of "ambassador*").
    prefixes: dict[str, tuple[int, ...]]
    # After a line break, the longest prefix a word begins with, and the rest of the word: the distinct
    # words of an article, one a line, are searched at once.
    prefixed: re.Pattern[str] | None
    people: dict[str, tuple[Person, ...]]


class Article:
    """An article's words looked up once for every rule: where each matcher's words are."""

    def __init__(self, title: str, body: str, vocabulary: Vocabulary) -> None:
        self.text = Text(f"{title}\n\n{body}" if title else body)
        self.body_start = bisect_left(self.text.starts, len(title) + 1) if title else 0
        self.whole = (0, len(self.text.words))  # every word, as a range
        self.vocabulary = vocabulary
        # Where each matcher's words are, and the article's words the rules' stems read ("expelled", "recalled").
        self.positions, self.stemmed = _positions(self.text, vocabulary)
        self._people: dict[tuple[str, bool], list[Span]] = {}
        self._phrases: dict[tuple[int, ...], list[Span]] = {}
        self.found: dict[int, list[Span]] = {}  # id of a compiled node -> its places in the whole text
        # id of a node that is a NEAR's right side -> where its places start, and the longest (a list is many NEARs')
        self.starts: dict[int, tuple[list[int], int]] = {}
        # Places a NOT NEAR took away, with its node's id (a rule explains only its own) and the clause.
        self.vetoed: list[tuple[Span, int, str]] = []
        # A NEAR's place (its two sides and the words between) -> the places of its sides: an alert quotes and marks the
        # words that matched, not the half sentence between "Putin" and "ambassadors back".
        self.sides: dict[Span, set[Span]] = {}
        # (id of a field node, where it looks) -> whether it holds there, and its places
        self.fields: dict[tuple[int, Span], tuple[bool, list[Span]]] = {}
        self.paragraph_starts = [start for start, _ in self.text.paragraphs]
        self.body_paragraphs = self._body_paragraphs()  # asked for by each rule and each lead:

    def _body_paragraphs(self) -> list[Span]:
        """The body's paragraphs, but a first one that only repeats the title (extractors keep the headline).

        A body that is the headline alone (a flash: the story goes up as a headline, the text follows) keeps it: it is
        all the story says yet.
        """
        body = [p for p in self.text.paragraphs if p[0] >= self.body_start]
        title = self.text.words[: self.body_start]
        if len(body) > 1 and title and self.text.words[body[0][0] : body[0][1]] == title:
            return body[1:]
        return body

    def phrase(self, ids: tuple[int, ...]) -> list[Span]:
        """Where the words of a phrase stand side by side, sorted; found once per article (a name or
        word is in several lists)."""
        found = self._phrases.get(ids)
        if found is None:
            found = self._phrases[ids] = self._phrase(ids)
        return found

    def _phrase(self, ids: tuple[int, ...]) -> list[Span]:
        first = self.positions.get(ids[0])
        if not first:
            return []
        if len(ids) == 1:
            return [(at, at + 1) for at in first]
        if not all(map(self.positions.__contains__, ids)):  # a word absent, as for most phrases in most articles
            return []
        # The starts where each next word stands k places on, as set intersections in C.
        starts = set(first)
        for k, id_ in enumerate(ids[1:], 1):
            starts.intersection_update([at - k for at in self.positions[id_]])
            if not starts:
                return []
        end = len(ids) - 1
        return [(at, at + len(ids)) for at in sorted(starts) if self.text.joined(at, at + end)]

    def people(self, name: str, surnames_only: bool) -> list[Span]:
        """Where the people of a list are named in the whole article (see :func:`_people_spans`)."""
        key = (name, surnames_only)
        if key not in self._people:
            self._people[key] = _people_spans(self, self.vocabulary.people[name], surnames_only)
        return self._people[key]


def _positions(text: Text, vocabulary: Vocabulary) -> tuple[dict[int, list[int]], set[str]]:
    """Where each matcher's words are, and which of the article's words a prefix (a stem) reads.

    Most of an article's words are no query's: the distinct words are matched whole by one set
    intersection, those with a prefix are picked by one regular expression over them all (a
    Python test of each word with a prefix's first letters took longer), and the places of the
    words found are picked from the text in C.
    """
    distinct = set(text.words)
    found = {word: vocabulary.by_word[word] for word in distinct & vocabulary.words}
    stemmed: set[str] = set()
    if vocabulary.prefixed is not None:
        for prefix, rest in vocabulary.prefixed.findall("\n" + "\n".join(distinct)):
            word = prefix + rest
            stemmed.add(word)
            found[word] = found.get(word, ()) + vocabulary.prefixes[prefix]
    index: dict[str, list[int]] = {}
    for at in compress(count(), map(found.__contains__, text.words)):
        index.setdefault(text.words[at], []).append(at)
    positions: dict[int, list[int]] = {}
    for word, places in index.items():
        for id_ in found[word]:
            matcher = vocabulary.matchers[id_]
            if matcher.cased:
                chosen = [at for at in places if text.cased[at] == matcher.cased]
            elif matcher.capital:
                chosen = [at for at in places if text.cased[at][:1].isupper()]
            else:
                chosen = places
            positions.setdefault(id_, []).extend(chosen)
    for chosen in positions.values():
        chosen.sort()
    return positions, stemmed


def _people_spans(article: Article, people: Iterable[Person], surnames_only: bool) -> list[Span]:
    """Full names; and surnames alone, where the person is distinctive or named in full in the article.

    ``surnames_only`` (``@list.surnames``) takes every surname, for rules that find the
    post named elsewhere. A surname inside a namesake's full name ("Jake Sullivan") never counts.
    """
    found: list[Span] = []
    named = article.positions.keys()
    for person in people:
        if named.isdisjoint(person.first_words):  # most people of a list are not in the article
            continue
        full = [span for ids in person.names for span in article.phrase(ids)]
        found += full
        if surnames_only or person.distinctive or full:
            # A surname inside a full name is found by bisection: compared with every full name in turn, a text of
            # one name said 4,000 times took seconds.
            taken = sorted(full + [span for ids in person.others for span in article.phrase(ids)])
            starts = [span[0] for span in taken]
            reach = list(accumulate((span[1] for span in taken), max))  # the furthest end of a span starting so far
            for ids in person.surnames:
                found += [span for span in article.phrase(ids) if not _inside(span, starts, reach)]
    return sorted(set(found))


def _inside(span: Span, starts: list[int], reach: list[int]) -> bool:
    """Whether ``span`` lies within one of the sorted spans that start at ``starts`` (``reach``: their furthest end
    so far)."""
    at = bisect_right(starts, span[0]) - 1
    return at >= 0 and reach[at] >= span[1]


@dataclass
class Trace:
    """What a judgement rested on, for ``monitor rules test``: context found elsewhere, vetoes met."""

    context: list[tuple[str, str]] = field(default_factory=list)  # (field, text)
    vetoes: list[tuple[str, str]] = field(default_factory=list)  # (clause, text that vetoed)


class Judge:
    """What the compiled queries (see :func:`judgement`) read while judging one article, unit by unit."""

    def __init__(self, article: Article, trace: Trace | None = None) -> None:
        self.article = article
        self.trace = trace
        self.found = article.found  # read by every positional node judged
        self.words = article.whole[1]

    # -------------------------------------------------------------- places

    def everywhere(self, node: Node) -> list[Span]:
        """The places of a positional node in the whole article, sorted: found once an article."""
        found = self.found
        every = found.get(id(node))
        if every is None:
            every = found[id(node)] = self._spans(node)
        return every

    def _spans(self, node: Node) -> list[Span]:
        # The kinds in the order of how often they are asked for: NEARs are most of a query's nodes.
        if isinstance(node, Near):
            return self._near(node)
        article = self.article
        if isinstance(node, Any_):
            by_word, others = node.phrases
            found: set[Span] = set()
            for word in by_word.keys() & article.positions.keys():  # over the fewer of the two, in C
                for ids in by_word[word]:
                    found.update(article.phrase(ids))
            for item in others:
                found.update(self.everywhere(item))
            return sorted(found)
        if isinstance(node, Words):
            return article.phrase(node.ids)
        if isinstance(node, ListRef):
            return article.people(node.name, node.surnames)
        if isinstance(node, Pattern):
            return self._pattern(node, *article.whole)
        raise TypeError(f"not a positional node: {node!r}")  # pragma: no cover

    def _near(self, node: Near) -> list[Span]:
        """Places of ``left`` with a ``right`` close (the two together), or with none (a veto)."""
        lefts = self.everywhere(node.left)
        if not lefts:
            return []
        rights = self.everywhere(node.right)
        if not rights:  # as for a fifth of them: every left is kept by a veto, none by a NEAR
            return lefts[:] if node.veto else []
        known = self.article.starts.get(id(node.right))
        if known is None:
            known = self.article.starts[id(node.right)] = (
                [right[0] for right in rights], max([right[1] - right[0] for right in rights]))
        starts, longest = known
        # A right close to a left starts at most the distance after it, and ends at most the distance before.
        distance = max(node.distance, 0)
        found: list[Span] = []
        paragraphs = self.article.paragraph_starts
        ordered, limit, veto = node.ordered, node.distance, node.veto
        for left in lefts:
            lo, hi = left
            first, last = bisect_left(starts, lo - distance - longest), bisect_right(starts, hi + distance)
            if first == last:  # most places of a word have no partner near
                if veto:
                    found.append(left)
                continue
            paragraph = bisect_right(paragraphs, lo)
            partners = []
            # Close (inlined, as it runs for every pair): overlapping, unless ordered; else at most the
            # distance apart (words between them) and in one paragraph; only overlapping for distance -1.
            for right in rights[first:last]:
                if lo < right[1] and right[0] < hi:
                    if ordered:
                        continue
                else:
                    gap = right[0] - hi if ordered or right[0] >= hi else lo - right[1]  # after, or before
                    if not 0 <= gap <= limit or bisect_right(paragraphs, right[0]) != paragraph:
                        continue
                partners.append(right)
            if veto and partners and limit <= LOCAL_VETO:
                partners = self._in_sentence_of(left, partners, paragraph - 1)
            if veto:
                if not partners:
                    found.append(left)
                else:  # kept for explanations: places are found once per article, whichever unit asks first
                    self.article.vetoed.append(
                        ((min(lo, partners[0][0]), max(hi, partners[0][1])), id(node), node.source))
            else:
                for right in partners:
                    together = (min(lo, right[0]), max(hi, right[1]))
                    found.append(together)
                    if together != left and together != right:  # else one side holds the other: it is that side
                        self.article.sides.setdefault(together, set()).update((left, right))
        return sorted(set(found))

    def _in_sentence_of(self, left: Span, partners: list[Span], paragraph: int) -> list[Span]:
        """The partners that start in the sentence ``left`` starts in: a local veto reads its own sentence (a third
        country ending the sentence before, "His second passport is Irish.", is not that of "The US ambassador" after
        it)."""
        text = self.article.text
        span = text.paragraphs[paragraph]
        own = text.sentence_of(span, left[0])
        return [right for right in partners if text.sentence_of(span, right[0]) == own]

    def words_matched(self, hits: list[Span]) -> list[Span]:
        """``hits`` (sorted) as the places of the words that matched: a NEAR's place as its sides' places, in turn."""
        sides = self.article.sides
        if not sides:
            return hits
        words: set[Span] = set()
        pending = list(hits)
        while pending:
            span = pending.pop()
            parts = sides.get(span)
            if parts is None:
                words.add(span)
            else:  # each side is shorter than the place it is a side of: this ends
                pending += parts
        return sorted(words)

    def _pattern(self, node: Pattern, lo: int, hi: int) -> list[Span]:
        text = self.article.text
        if lo >= hi:
            return []
        start, end = text.char_span((lo, hi))
        found = []
        for m in node.regex.finditer(text.folded, start, end):
            if m.end() > m.start():
                first, last = text.word_range(m.start(), m.end())
                first = min(first, bisect_right(text.ends, m.start()))  # a match may begin inside a word
                if first < last:
                    found.append((first, last))
        return sorted(set(found))  # two matches in one word are one place, as every node's places are

    # -------------------------------------------------------------- fields

    def sentence(self, item: Holds, lo: int, hi: int, hits: list[Span]) -> bool:
        """Whether one sentence of ``[lo, hi)`` satisfies ``item`` (``sentence:``)."""
        article = self.article
        paragraphs = article.text.paragraphs
        first = max(0, bisect_right(article.paragraph_starts, lo) - 1)
        for paragraph in paragraphs[first : bisect_left(article.paragraph_starts, hi)]:
            for s_lo, s_hi in article.text.sentences(paragraph):
                if item(self, max(s_lo, lo), min(s_hi, hi), hits):
                    return True
        return False

    def field(self, node: Field, item: Holds, lo: int, hi: int, hits: list[Span]) -> bool:
        """Whether ``item`` holds where the field looks (the title, the lead, the paragraph, the article); its
        places inside ``[lo, hi)`` are added to ``hits``."""
        article = self.article
        if node.name == "title":
            where = (0, article.body_start)
        elif node.name == "lead":
            body = article.body_paragraphs
            where = body[0] if body else (hi, hi)
        elif node.name == "paragraph":
            where = article.text.paragraphs[max(0, bisect_right(article.paragraph_starts, lo) - 1)]
        else:
            where = article.whole
        # Judged once an article where nothing is traced: the title or the lead is asked of every unit.
        key = (id(node), where)
        if self.trace is None and key in article.fields:
            held, found = article.fields[key]
        else:
            found = []
            held = item(self, *where, found)
            if self.trace is None:
                article.fields[key] = (held, found)
        if not held:
            return False
        hits += [span for span in found if lo <= span[0] and span[1] <= hi]
        if self.trace is not None:
            self.trace.context += [(node.name, article.text.quote(span)) for span in found
                                   if not (lo <= span[0] and span[1] <= hi)][:3]
        return True


def judgement(node: Node, cues: Container[int], compiled: dict[int, Holds]) -> Holds:
    """``node`` compiled for judging units: a function telling whether ``[lo, hi)`` satisfies it, that adds
    the places that made it so to ``hits``.

    A node's kind is told apart here, once, and not again in each unit and rule it is judged in
    (most of a unit's judgement was telling the kinds apart and calling down to the places).
    ``cues`` are the ids of the rule's cues, whose places are found before any unit is judged;
    ``compiled`` keeps each node's function by id: a shared clause is compiled once.
    """
    made = compiled.get(id(node))
    if made is not None:
        return made
    if isinstance(node, Positional) or (isinstance(node, Any_) and node.places):
        made = _places(node)
    elif isinstance(node, All):
        made = _all(tuple(judgement(item, cues, compiled) for item in node.items))
    elif isinstance(node, Any_):
        made = _any(tuple(judgement(item, cues, compiled) for item in node.items))
    elif isinstance(node, Not):
        made = _not(judgement(node.item, cues, compiled), node.source)
    elif node.name == "sentence":
        made = _sentence(judgement(node.item, cues, compiled), _settled(node.item, cues))
    else:
        made = _field(node, judgement(node.item, cues, compiled))
    compiled[id(node)] = made
    return made


def _settled(node: Node, cues: Container[int]) -> bool:
    """Whether judging ``node`` on a range around a sentence can tell that no sentence holds it, and do nothing else.

    So it is for ANDs and ORs of the rule's cues: a sentence holding it lies in a range that holds
    it (no NOT, no field), and judging the cues again finds no place and records no veto anew (their
    places are found before any unit is judged, so an explanation's vetoes come in the same order).
    """
    if isinstance(node, Positional) or (isinstance(node, Any_) and node.places):
        return id(node) in cues
    if isinstance(node, (All, Any_)):
        return all(_settled(item, cues) for item in node.items)
    return False


def _places(node: Node) -> Holds:
    """A positional node: its places in the range, sorted.

    Each node's places in the whole article are found once and kept (lists and clauses recur
    in many units and rules), then cut to the range.
    """
    key = id(node)

    def holds(judge: Judge, lo: int, hi: int, hits: list[Span]) -> bool:
        every = judge.found.get(key)
        if every is None:
            every = judge.everywhere(node)
        if not every:
            return False
        if lo == 0 and hi == judge.words:  # the whole article: nothing to cut
            hits += every
            return True
        first = bisect_left(every, (lo, lo))
        last = bisect_left(every, (hi, hi), first)
        if first == last:  # none in range, as for most nodes in most units
            return False
        if last - first == 1:  # one place, as for most others
            if every[first][1] <= hi:
                hits.append(every[first])
                return True
            return False
        spans = [span for span in every[first:last] if span[1] <= hi]
        hits += spans
        return bool(spans)

    return holds


def _all(items: tuple[Holds, ...]) -> Holds:
    def holds(judge: Judge, lo: int, hi: int, hits: list[Span]) -> bool:
        found: list[Span] = []
        for item in items:
            if not item(judge, lo, hi, found):
                return False
        hits += found
        return True

    return holds


def _any(items: tuple[Holds, ...]) -> Holds:
    """Every item is judged, not only up to the first that holds: the places of all that hold are hits."""
    def holds(judge: Judge, lo: int, hi: int, hits: list[Span]) -> bool:
        result = False
        for item in items:
            if item(judge, lo, hi, hits):
                result = True
        return result

    return holds


def _not(item: Holds, source: str) -> Holds:
    def holds(judge: Judge, lo: int, hi: int, hits: list[Span]) -> bool:
        vetoed: list[Span] = []
        if item(judge, lo, hi, vetoed):
            if judge.trace is not None:
                judge.trace.vetoes.append((source, "; ".join(judge.article.text.quote(s) for s in vetoed[:3])))
            return False
        return True

    return holds


def _sentence(item: Holds, settled: bool) -> Holds:
    """``sentence:``; a ``settled`` item (see :func:`_settled`) is first judged on the whole range: in most
    units no sentence holds it, and that is told without judging it sentence by sentence."""
    def holds(judge: Judge, lo: int, hi: int, hits: list[Span]) -> bool:
        if settled and not item(judge, lo, hi, []):
            return False
        return judge.sentence(item, lo, hi, hits)

    return holds


def _field(node: Field, item: Holds) -> Holds:
    def holds(judge: Judge, lo: int, hi: int, hits: list[Span]) -> bool:
        return judge.field(node, item, lo, hi, hits)

    return holds
