"""What one query word finds: its inflected forms, a prefix, or an acronym (pure).

Forms are spelt out as a finite set, so an article's words are looked up in one dict
rather than each query word tried against each article word.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from monitor.rules._text import fold, is_acronym, unelided

# Short words that take no inflection ("the" must not find "thing").
_FUNCTION_WORDS = frozenset(
    "a an the and or of to in on at by for from with as into over than via de la le its their his her".split()
)
_VOWELS = frozenset("aeiou")
# Russian noun and adjective endings; enough for the common cases.
_RU_ENDINGS = sorted(
    set(
        "а я о е ы и у ю ь й ом ем ой ей ою ею ам ям ах ях ов ев ами ями ия ии ию ией ием иям иями иях "
        "ий ый ая яя ое ее ые ие ого его ому ему ым им ую юю ых их ыми ими ья ье ьи ью ьев ьям ьями ьях".split()
    ),
    key=lambda ending: (-len(ending), ending),
)
_RU_VOWELS = frozenset("аеиоуыэюяьй")
_CYRILLIC = re.compile("[а-яА-Я]")
# Literals shorter than this are in nearly every article: no use as a prefilter.
MIN_LITERAL = 3


@dataclass(frozen=True)
class WordMatcher:
    """How one query word is looked up in an article's words.

    ``forms``: lowercase words it finds; ``prefix``: any word beginning so (``ambassador*``);
    ``cased``: an acronym, compared with the word as written, dots dropped ("US" finds
    "U.S.", not "us"); ``capital``: a name, found only where the article writes it with a
    capital ("Bout" the man, not "bout" the fight).
    """

    forms: frozenset[str] = frozenset()
    prefix: str = ""
    cased: str = ""
    capital: bool = False

    @property
    def literals(self) -> tuple[str, ...]:
        """Strings one of which every occurrence holds, to prefilter articles with; () if none.

        An acronym is written in capitals, with or without dots ("US", "U.S"), and a name keeps its
        capital: both are looked for as written (see :meth:`~monitor.rules.Needs.holds`), so "us" in
        "just" is no clue. Any other literal is lowercase.
        """
        if self.cased:
            return (self.cased, ".".join(self.cased))
        common = self.prefix or os.path.commonprefix(sorted(self.forms))
        # An apostrophe may be written several ways ("d’affaires"): its longest stretch without one.
        pieces = common.split("'")
        found = max(pieces, key=len)
        if len(found) < MIN_LITERAL:
            return ()
        if self.capital and found is pieces[0]:  # a name is written with a capital ("Black": the colour is no clue)
            return (found[0].upper() + found[1:],)
        return (found,)


def matcher(word: str, name: bool = False) -> WordMatcher:
    """The matcher of one word as written in a query (``*`` at its end: a prefix)."""
    word = unelided(fold(word))
    if word.endswith("'s"):  # as the text's words lose their possessive (curly apostrophes folded first)
        word = word[:-2]
    if word.endswith("*"):
        return WordMatcher(prefix=word[:-1].replace(".", "").lower(), capital=name)
    if is_acronym(word):
        return WordMatcher(cased=word.replace(".", ""))
    word = word.replace(".", "").lower()
    if name and not _CYRILLIC.search(word):
        # An English name takes no inflection but the possessive, and the plural of a family or a couple ("the
        # Dultsevs' children"); a name ending in a sibilant keeps its one form ("the Joneses" is rare in the news).
        plural = () if word.endswith(("s", "x", "z")) else (word + "s",)
        return WordMatcher(forms=frozenset([word, *plural]), capital=True)
    return WordMatcher(forms=frozenset(forms(word)), capital=name)


def forms(word: str) -> set[str]:
    """The word with the inflections it may take."""
    if not word.isalpha() or len(word) < 3 or word in _FUNCTION_WORDS:
        return {word}
    if _CYRILLIC.search(word):
        return _russian_forms(word)
    return _english_forms(word)


def _english_forms(word: str) -> set[str]:
    """Plural, third person, past and gerund of a regular English word."""
    last = word[-1]
    if last == "y" and word[-2] not in _VOWELS:
        stem = word[:-1]
        return {word, stem + "ies", stem + "ied", word + "ing"}  # embassy -> embassies
    if last == "e":
        stem = word[:-1]
        return {word, word + "s", word + "d", stem + "ing"}  # exchange -> exchanged
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return {word, word + "es", word + "ed", word + "ing"}
    found = {word, word + "s", word + "es", word + "ed", word + "ing"}
    if last not in _VOWELS:
        found |= {word + last + "ed", word + last + "ing"}  # swap -> swapped
    return found


def _russian_forms(word: str) -> set[str]:
    """A Russian word's stem with the common noun and adjective endings."""
    if word[-1] in _RU_VOWELS:
        for ending in _RU_ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= 3:
                stem = word[: -len(ending)]
                return {stem} | {stem + e for e in _RU_ENDINGS}
        return {word}
    found = {word} | {word + e for e in _RU_ENDINGS}
    if len(word) >= 5 and word[-2] in "ое" and word[-3] not in _RU_VOWELS:
        # A fleeting vowel (посол -> посла, послом), but not the bare "е": "после" is "after".
        found |= {word[:-2] + word[-1] + e for e in _RU_ENDINGS if e != "е"}
    return found
