"""An article as the rules read it: folded characters, words with their offsets, units.

Folding is one character for one (curly quotes, odd spaces, dashes, "ё"), so an offset in
the folded text is an offset in the original and a passage is quoted as published. Soft
hyphens and zero-width characters are not folded but skipped inside words: "Bot­schaf­ter"
is the word "botschafter".
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from itertools import accumulate

from monitor.sentences import Span, sentence_spans

_FOLD: dict[str, str] = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u02bc\u2032\uff07", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033", '"'),
    **dict.fromkeys("\u00a0\u2007\u202f\u2009\u200a\u2002\u2003\u2004\u2005\u2006\u2008\u205f\u3000", " "),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"),
    "ё": "е",
    "Ё": "Е",
    "\u0130": "I",  # the one character whose lower() is two characters long
}
# The characters folded into a letter ("ё" to "е"): a literal may hold the letter, never the other folds' marks.
_FOLDING_LETTERS = "".join(c for c, folded in _FOLD.items() if folded.isalpha())
_FOLDABLE = re.compile("[" + re.escape("".join(_FOLD)) + "]")
# Characters a publisher puts inside words to help line breaking; they are not letters.
INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
_INVISIBLE_RE = re.compile(f"[{INVISIBLE}]")

# A word: a dotted acronym ("U.S.", "U.N."), or letters and digits with inner apostrophes
# ("d'affaires", "O'Brien") and the invisible characters above; a trailing "'s" is kept
# in the match and dropped from the word, so "Antonov's" is the word "antonov". Both begin
# with a letter, matched once before the two ways go apart (a fifth faster than trying each);
# the acronym's way begins with its dot, and only then looks back for a digit ("3.5" is no
# acronym), so most words leave it at its first character. Nothing after a run can fail, so
# the runs are possessive: no place to go back to is kept.
_WORD = re.compile(rf"[^\W_](?:\.(?<!\d\.)(?:[^\W\d_]\.)++|[\w{INVISIBLE}]*+(?:'[^\W_][\w{INVISIBLE}]*+)*+)")

_SPLIT = re.compile(f"({_WORD.pattern})")
# French elides an article or a pronoun into the next word ("d'Américains", "l'ambassadeur", "n'expulserait"): the
# word is what follows, for the text and the query alike. A word per line, as Text joins them.
_ELISION = re.compile(r"^(?:[Qq]u|[CcDdJjLlMmNnSsTt])'(?=[^\W\d_])", re.MULTILINE)
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
# Between two words of a phrase: spaces, a hyphen or dash, quotes; never a sentence's end.
_TRAILING = re.compile(r"[^\s\w]*")
_JOIN = re.compile(r"""[\s'"-]*""")


def fold(text: str) -> str:
    """``text`` with quotes, spaces, dashes and "ё" folded, one character for one."""
    return _FOLDABLE.sub(lambda m: _FOLD[m.group()], text)


def searchable(text: str) -> str:
    """``text`` as a literal is looked for in it (lowered, unless it has capitals): invisible characters dropped.

    A literal holds no quote, apostrophe, space or dash, so only a text with a letter that
    folds ("ё") is folded: the one pass the others would take is saved.
    """
    if any(c in text for c in INVISIBLE):
        text = _INVISIBLE_RE.sub("", text)
    if any(c in text for c in _FOLDING_LETTERS):
        text = fold(text)
    return text


def unelided(word: str) -> str:
    """A query's word as :class:`Text` keeps a text's: without the French article or pronoun elided into it."""
    return _ELISION.sub("", word, count=1)


def is_acronym(word: str) -> bool:
    """A word written in capitals ("US", "U.N.", "США") names an acronym: matched case-sensitively."""
    letters = word.replace(".", "")
    return len(letters) >= 2 and letters.isalpha() and letters.isupper()


class Text:
    """One stretch of text (a title or a body) split into words, sentences and paragraphs.

    ``words[i]`` is the comparable form of the i-th word, ``cased[i]`` the word as written
    (dots and possessive dropped, for acronyms and capitalised names), ``starts``/``ends``
    its offsets in the original text.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.folded = fold(text)
        # re.split keeps the words between the gaps, and the running sum of the pieces' lengths
        # gives their offsets: all of it in C, several times faster than a match object per word.
        pieces = _SPLIT.split(self.folded)
        offsets = list(accumulate(map(len, pieces)))
        self.starts = offsets[0:-1:2]
        self.ends = offsets[1::2]
        # Dots and a final "'s" dropped from every word at once, in one joined string.
        joined = "\n".join(pieces[1::2]) + "\n"
        joined = joined.replace(".", "").replace("'s\n", "\n")
        if "'" in joined:
            joined = _ELISION.sub("", joined)
        if any(c in joined for c in INVISIBLE):
            joined = _INVISIBLE_RE.sub("", joined)
        self.cased = joined.split("\n")[:-1]
        self.words = joined.lower().split("\n")[:-1]
        self._sentences: dict[Span, list[tuple[Span, Span]]] = {}
        self._sentence_ends: dict[Span, list[int]] = {}
        # Found as the text is made, not by a cached_property: one writes the instance's __dict__, which in
        # CPython 3.11 makes the loads of every attribute of the object slower (the rules read them all often).
        self.paragraphs = self._paragraphs()

    def _paragraphs(self) -> list[Span]:
        """Paragraphs (separated by blank lines) as word index ranges; empty ones left out."""
        spans, start = [], 0
        for gap in _PARAGRAPH_BREAK.finditer(self.folded):
            spans.append((start, gap.start()))
            start = gap.end()
        spans.append((start, len(self.folded)))
        return [unit for unit in (self.word_range(s, e) for s, e in spans) if unit[0] < unit[1]]

    def sentences(self, paragraph: Span) -> list[Span]:
        """The sentences of a paragraph (a word range) as word ranges."""
        return [words for _, words in self.sentence_spans(paragraph)]

    def sentence_spans(self, paragraph: Span) -> list[tuple[Span, Span]]:
        """The sentences of a paragraph (a word range): their characters and their words."""
        found = self._sentences.get(paragraph)
        if found is None:
            start, end = self.starts[paragraph[0]], self.ends[paragraph[1] - 1]
            end = _TRAILING.match(self.folded, end).end()  # type: ignore[union-attr]  # the closing stop, quote
            found = self._sentences[paragraph] = [
                (chars, words) for chars in sentence_spans(self.folded, start, end)
                if (words := self.word_range(*chars))[0] < words[1]
            ]
        return found

    def sentence_of(self, paragraph: Span, word: int) -> int:
        """Which of a paragraph's sentences (:meth:`sentence_spans`) holds ``word``; the sentences' ends are kept, as
        a local veto asks this of each of its partners."""
        ends = self._sentence_ends.get(paragraph)
        if ends is None:
            ends = self._sentence_ends[paragraph] = [words[1] for _, words in self.sentence_spans(paragraph)]
        return min(bisect_right(ends, word), len(ends) - 1)

    def word_range(self, start: int, end: int) -> Span:
        """The words that begin in the characters ``[start, end)``."""
        return bisect_left(self.starts, start), bisect_left(self.starts, end)

    def char_span(self, words: Span) -> Span:
        """The characters of a non-empty word range."""
        return self.starts[words[0]], self.ends[words[1] - 1]

    def joined(self, first: int, last: int) -> bool:
        """Whether the words ``first..last`` stand together as a phrase: nothing but spaces, dashes or quotes between."""
        folded, ends, starts = self.folded, self.ends, self.starts
        for i in range(first, last):  # a loop, not all() over a generator: most phrases have one gap
            gap = folded[ends[i] : starts[i + 1]]
            if "\n\n" in gap or _JOIN.fullmatch(gap) is None:
                return False
        return True

    def quote(self, words: Span) -> str:
        """The original text of a word range, white space collapsed (a word holds none)."""
        if words[1] - words[0] == 1:
            return self.text[self.starts[words[0]] : self.ends[words[0]]]
        return self.quote_chars(self.char_span(words))

    def quote_chars(self, chars: Span) -> str:
        """The original text of a character range, white space collapsed."""
        return " ".join(self.text[chars[0] : chars[1]].split())
