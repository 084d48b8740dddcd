"""Exact copies, near-duplicates and passage novelty (pure functions, no I/O).

Three layers after the URL layer of :mod:`monitor.fetch`:

* **Exact text** — :func:`text_hash` of the normalised words. Normalisation
  (NFKC, case folding, invisible format characters dropped, "U.S." read as
  "US", punctuation and whitespace ignored) makes a re-encoded or re-typeset
  copy hash alike, so it becomes one more URL of the stored article.
* **Near-duplicates** — MinHash signatures over word 5-shingles taken *within*
  paragraphs (so re-ordered paragraphs and inserted "Related" lines barely
  change them): one of the whole text and one of its lead, its first real
  paragraph. Both are banded for LSH lookups in the archive. Wire copy is cut
  short more often than it is edited, so a candidate joins the story on the
  *containment* of the smaller text in the larger, not on Jaccard alone: a copy
  trimmed to 40% has Jaccard 0.4 but containment 1.0. Containment alone cannot
  tell a trimmed copy from a short piece built on a recycled background
  paragraph, though; the lead can, because outlets cut the end of a wire story
  and keep its lead, while another story never opens with the same paragraph.
* **Passages** — novelty of a rule's matched passage is judged sentence by
  sentence: a sentence is old when one earlier sentence holds most of its
  character 5-grams *and* every number and name it states. Fuzzy matching
  alone would hide news (an updated figure scores 0.92 against the old
  sentence), so a new number or a new name always makes a sentence new.
"""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice
from typing import Any

import numpy as np

from monitor.sentences import sentence_spans

SHINGLE = 5
"""Words per shingle of an article text."""
PERMUTATIONS = 128
"""MinHash values of the whole text."""
LEAD_PERMUTATIONS = 16
"""MinHash values of each of the first two real paragraphs; a stored signature holds all three (640 bytes)."""
LEAD_WORDS = 20
"""A real paragraph has at least this many words (datelines, bylines, template lines have fewer)."""
BAND_ROWS = 2
BANDS = 32
"""LSH bands of :data:`BAND_ROWS` values over the first 64 values of the whole text.

A stored text becomes a candidate with probability 1 - (1 - J²)³²: 0.95 at
Jaccard 0.3, 0.996 at 0.4 (a copy trimmed to 40%), 0.012 at 0.02 (two
unrelated stories on the beat sharing stock phrases). Candidates are then
verified on the whole signature, so banding low costs time, not precision.
"""
LEAD_BANDS = 8
"""LSH bands over the lead's values: a kept lead finds its story however much else changed."""
CONTAINMENT = 0.9
"""Share of the smaller text found in the larger that makes one story whatever the leads.

It catches a copy that gained a local lead. It stays high because a short
piece that is mostly a recycled background paragraph can score 0.8 against
the stories that paragraph came from.
"""
LEAD_JACCARD = 0.5
"""Lead resemblance that makes one story, given :data:`LEAD_CONTAINMENT`.

Copies keep the lead (re-dated, copy-edited: 0.9 and more); separate stories
on one event score under 0.1. A paper that puts its own opening line above
the wire copy pushes the wire's lead to second place, so a text's lead is
also compared with the other's second real paragraph.
"""
LEAD_CONTAINMENT = 0.2
"""Least containment for a shared lead to count: a site-wide notice read as a lead is not a story."""
MIN_SHARED = 20
"""Fewest shingles two texts must share to be one story, whatever the ratios."""
SIGNATURE = PERMUTATIONS + 2 * LEAD_PERMUTATIONS

PASSAGE_BANDS = 16
"""LSH bands (of :data:`BAND_ROWS` values) over word pairs of one sentence."""
SENTENCE_CONTAINMENT = 0.8
"""Share of a new sentence's character 5-grams an old sentence must hold.

An edited sentence ("said on Tuesday", a dropped appositive) scores above
0.85; the same stock phrasing about a different swap scores about 0.6.
"""
_PASSAGE_VALUES = PASSAGE_BANDS * BAND_ROWS
_CHAR_GRAM = 5
_MIN_SENTENCE_WORDS = 3
# Bounds of one novelty judgement (see seen_before): a passage is at most 1,500 characters, so a real one holds
# a few dozen sentences, and the earlier passages it is compared with are the newest of each lookup key.
MAX_EARLIER_PASSAGES = 100
EARLIER_PER_KEY = 5  # the newest passages of each lookup key handed over (a key shared by many is a stock sentence)
MAX_EARLIER_SENTENCES = 200
MAX_JUDGED_SENTENCES = 40
# ... and of all the judgements of one article's matches together (see NoveltyBudget): a page of twenty matches, each
# sharing keys with a hundred earlier passages of the same hostile kind, read and split 2,000 passages and compared
# 160,000 pairs of sentences in the writer, half a second an article; a real article's matches share their few
# earlier passages.
MAX_ARTICLE_PASSAGES = 50
MAX_ARTICLE_COMPARISONS = 8_000
_KEYED_SENTENCES = 12  # a passage's first sentences that get lookup keys (16 each): the keys are looked up and stored

_rng = np.random.default_rng(20210616)
# Multiply-shift hashing: the high 32 bits of (a·x + b) mod 2⁶⁴ with odd a.
_A = _rng.integers(1, 1 << 63, PERMUTATIONS + LEAD_PERMUTATIONS, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_B = _rng.integers(0, 1 << 63, PERMUTATIONS + LEAD_PERMUTATIONS, dtype=np.uint64)
# One odd multiplier per position in a shingle, so "a b" and "b a" differ.
_POSITION = _rng.integers(1, 1 << 63, SHINGLE, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_BASE = np.uint64(0x100000001B3)  # odd base of the polynomial word hash
_INVERSE_BASE = np.uint64(pow(int(_BASE), -1, 2**64))  # exists since the base is odd
# _BASE ** i and _INVERSE_BASE ** i (mod 2⁶⁴) for the bytes of texts up to 64 KiB: look-ups, not np.power.
_POWER_TABLE = 1 << 16
_POWERS, _INVERSE_POWERS = (
    np.cumprod(np.concatenate((np.ones(1, np.uint64), np.full(_POWER_TABLE - 1, base, np.uint64))))
    for base in (_BASE, _INVERSE_BASE)
)
_SPACE = ord(" ")
_PIECE = 1000
"""Characters :func:`has_words` reads at least at a time: an article's first 40 words in one piece, mostly."""
_FIRST = np.zeros(1, dtype=np.intp)

_WORD = re.compile(r"\w+")
# A normalised word holding a digit, found in C rather than character by character. Anchored at a word's start, its
# letters taken once (possessive): unanchored, a word without a digit was scanned again from each of its letters, and a
# page's 1,400-letter word cost 13 ms a sentence, in the archive's writer, at every judgement that read it.
_WITH_DIGIT = re.compile(r"(?<![^ ])[^ \d]*+\d[^ ]*")
_WORD_CHARACTER, _LINE_BREAK = 1, 2


@lru_cache(maxsize=1)
def _character_classes() -> np.ndarray:
    """:data:`_WORD_CHARACTER`, :data:`_LINE_BREAK` or 0 for every code point, to find words in arrays of them.

    Read from ``re`` and :meth:`str.splitlines` themselves, so the classes can never
    disagree with the words :func:`words` finds: some 70 ms, once, at the first text fingerprinted. Not at import:
    every process that opens the archive imports this module, and most (the command line's, the fork server's)
    never fingerprint a text.
    """
    every = np.arange(sys.maxunicode + 1, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    classes = np.zeros(len(every), dtype=np.uint8)
    for match in _WORD.finditer(every):
        classes[match.start() : match.end()] = _WORD_CHARACTER
    # Every line but the last ends in the code point it was split at (no "\r\n" here: "\r" precedes "\x0e").
    classes[[ord(line[-1]) for line in every.splitlines(keepends=True)[:-1]]] = _LINE_BREAK
    return classes


# Unicode format characters that sites sprinkle into words: soft hyphens, zero-width
# spaces and joiners, direction marks, word joiners, byte-order marks.
_INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")
# An acronym is a word character after a non-word one (or none), then a dot, then more "x." pairs:
# "\b\w\.(?:\w\.)+". The match starts at its first dot and looks behind for the letter, because
# a pattern led by a literal is searched for quickly (10 µs a page against 160 µs); the letter
# has no dot to drop, so the text comes out the same.
_ACRONYM = re.compile(r"\.(?<=(?<!\w)\w\.)(?:\w\.)+")

_NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
    " seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred hundreds"
    " thousand thousands million millions billion dozen dozens half twice both".split()
)
# Capitalised words that start sentences without naming anyone; and "US", which names the
# beat itself and which house styles swap with "United States" in recycled paragraphs.
_NOT_NAMES = frozenset(
    "a an the and but or nor so yet for if as at by in on of to from with without into over under after before"
    " during since until while when where why how what who whom which whose that this these those there here"
    " he she it we they i you his her its our their my your him them us me also still however meanwhile"
    " earlier later then now last next some many most several few all any each every no not neither either"
    " one mr mrs ms dr according asked speaking despite although though because amid".split()
)

# Words that deny or negate what a sentence says, in the beat's languages (as :func:`words` splits them: "didn't" gives
# "t"): "Reports that Russia recalled its ambassador are false" and "Russia recalled its ambassador" share nearly every
# 5-gram, and the denial, stored first, made the recall old news; so did "will not return" for "will return".
_NEGATIONS = frozenset(
    "not no never neither nor t false untrue deny denies denied denying rejected dismissed"
    " nicht kein keine keinen keinem keiner nie niemals dementiert dementierte bestritt bestreitet falsch"
    " ne pas jamais aucun aucune dément démenti démentent faux"
    " не нет ни никогда опроверг опровергли опровергает опровергла".split()
)

# Days of the week, as English and German capitalise them (Russian and French write them in lower case, no name): a
# rewrite of the wire's lede adds "on Thursday", which is no news, where a day changed ("leaves on Monday", then "on
# Thursday") is.
_WEEKDAYS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday"
    " montag dienstag mittwoch donnerstag freitag samstag sonnabend sonntag".split()
)


@dataclass(frozen=True)
class TextPrint:
    """What the archive keeps of an article text to recognise its copies."""

    text_hash: str
    signature: bytes  # SIGNATURE little-endian uint32 MinHash values: the whole text's, the lead's, the next paragraph's
    shingles: int  # distinct shingles of the whole text, for containment estimates
    band_keys: tuple[int, ...]  # signed 64-bit LSH keys; empty for a text without words
    word_count: int


@dataclass(frozen=True)
class Resemblance:
    """How much of two texts is shared, estimated from their signatures."""

    jaccard: float
    containment: float  # of the smaller text in the larger
    shared: float  # estimated shingles in common
    lead_jaccard: float

    @property
    def same_story(self) -> bool:
        """Whether the two texts are one story, by the decision :func:`closest` makes."""
        return bool(_same_story(self.containment, self.shared, self.lead_jaccard))


def _same_story(containment: Any, shared: Any, lead_jaccard: Any) -> Any:
    """One story: nearly all of the smaller text is in the larger, or a good part of it and the lead.

    Written once for floats and for whole arrays of estimates alike.
    """
    return (shared >= MIN_SHARED) & (
        (containment >= CONTAINMENT) | ((containment >= LEAD_CONTAINMENT) & (lead_jaccard >= LEAD_JACCARD))
    )


# ------------------------------------------------------------------ normalisation


def _plain(text: str) -> str:
    """NFKC text without invisible format characters (soft hyphens, zero-width spaces), "U.S." as "US".

    ASCII text is its own NFKC form and has no invisible characters: the test skips scans that cost 50 µs a page.
    """
    if not text.isascii():
        text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    return _ACRONYM.sub(lambda m: m.group().replace(".", ""), text)


def words(text: str) -> list[str]:
    """The normalised words of a text: what the exact and near-duplicate layers compare."""
    return _WORD.findall(_plain(text).casefold())


def has_words(text: str, count: int) -> bool:
    """Whether a text has at least ``count`` words, without normalising or tokenising all of a long one.

    The text is normalised a piece at a time, each cut just after a space, and the
    pieces' words add up to the whole text's: NFKC never composes a space with
    its neighbours (it is a starter no composition holds), invisible characters go
    one by one, and an acronym holds no space and sees one before it as it sees
    the start of a text: as no word character.
    """
    found = start = 0
    while True:
        cut = text.find(" ", start + _PIECE)
        end = len(text) if cut < 0 else cut + 1
        found += len(list(islice(_WORD.finditer(_plain(text[start:end])), count - found)))
        if found == count or end == len(text):
            return found == count
        start = end


def text_hash(text: str) -> str:
    """Exact-copy key: equal for texts that differ only in case, punctuation, spacing or encoding."""
    return _digest(" ".join(words(text))).hex()


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


# ------------------------------------------------------------------ near-duplicates


def fingerprint(text: str) -> TextPrint:
    """Exact hash, MinHash signatures and LSH band keys of an article text.

    A text is short (a few hundred shingles), so the cost is in the number of array
    operations, not their size: words are found in an array of the text's code points,
    the lead's and the second paragraph's shingles are slices of the whole text's
    windows, and their two signatures are taken in one operation.
    A repeated shingle cannot change a minimum, so shingles are only told apart to count them.
    """
    joined, lengths = _paragraph_words(_plain(text).casefold())
    exact = _digest(joined).hex()
    if not lengths:
        return TextPrint(exact, b"", 0, (), 0)
    real = [i for i, length in enumerate(lengths) if length >= LEAD_WORDS] or [lengths.index(max(lengths))]
    lead, second = real[0], real[min(1, len(real) - 1)]
    windows, kept, spans = _windows(_word_hashes(joined), lengths)
    shingles = windows[kept]
    leads = [windows[spans[lead]], windows[spans[second]]]
    signature = np.concatenate((_minhash(shingles, _A[:PERMUTATIONS], _B[:PERMUTATIONS]),
                                *_minhashes(leads, _A[PERMUTATIONS:], _B[PERMUTATIONS:])))
    keys = band_keys(signature).tolist()
    return TextPrint(exact, signature.astype("<u4").tobytes(), _distinct(shingles), tuple(keys), sum(lengths))


def _paragraph_words(text: str) -> tuple[str, list[int]]:
    """The words of a text, one space between each, and how many each line that has any holds.

    The ``\\w+`` words of each of :meth:`str.splitlines`' lines, as :func:`words` finds them,
    but found by a few array operations on the classes of the text's code points: a Python
    string for each word cost a third of :func:`fingerprint`'s time. The text is padded
    with a space at either end, so each word has a code point before and after it.
    """
    points = np.frombuffer(f" {text} ".encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    classes = _character_classes().take(points)  # take: a third faster than indexing
    in_word = classes == _WORD_CHARACTER
    starts = np.flatnonzero(in_word[1:] > in_word[:-1]) + 1
    # Each word and the code point after it, that one made a space; the last word's is dropped.
    kept = in_word.copy()
    kept[1:] |= in_word[:-1]
    joined = np.where(in_word, points, np.uint32(_SPACE))[kept][:-1].tobytes().decode("utf-32-le")
    # The first word after each line break: a paragraph runs from one such word to the next (if any lies between).
    bounds = np.concatenate(((0,), np.searchsorted(starts, np.flatnonzero(classes == _LINE_BREAK)), (len(starts),)))
    lengths = bounds[1:] - bounds[:-1]
    return joined, lengths[lengths > 0].tolist()


def _distinct(values: np.ndarray) -> int:
    """How many different values a non-empty array holds.

    Sorting and counting the changes costs a tenth of :func:`np.unique`, whose hash
    table does not pay on a few hundred values.
    """
    ordered = np.sort(values)
    return 1 + int(np.count_nonzero(ordered[1:] != ordered[:-1]))


def _shingle_hashes(tokens: list[str], lengths: list[int], size: int = SHINGLE) -> np.ndarray:
    """Distinct 64-bit hashes of the word shingles inside each paragraph; see :func:`_windows`."""
    windows, kept, _ = _windows(_word_hashes(" ".join(tokens)), lengths, size)
    return np.unique(windows[kept])


def _windows(
    hashes: np.ndarray, lengths: list[int], size: int = SHINGLE
) -> tuple[np.ndarray, np.ndarray | slice, list[slice]]:
    """Hashes of every window of ``size`` word slots, which windows are shingles, and each paragraph's.

    ``lengths`` splits ``hashes`` into paragraphs, each followed by size-1 empty
    slots (hash 0), so a window that runs past its paragraph's end only ever
    sees zeros there: shingles never cross a paragraph break, and re-ordered
    paragraphs keep theirs. A paragraph shorter than a shingle is one shingle,
    its first window. Windows are returned mixed, shingles or not: the second
    value (a mask or a slice) picks the shingles, and so does each paragraph's slice.
    """
    gap = size - 1
    starts = np.cumsum([0, *lengths[:-1]]) + np.arange(len(lengths)) * gap
    spans = [slice(start, start + max(length - gap, 1)) for start, length in zip(starts.tolist(), lengths, strict=True)]
    if len(lengths) == 1:  # no padding to place: the windows of one paragraph
        padded = np.concatenate((hashes, np.zeros(gap, dtype=np.uint64)))
        kept: np.ndarray | slice = spans[0]
    else:
        slots = np.arange(len(hashes)) + np.repeat(np.arange(len(lengths)), lengths) * gap
        padded = np.zeros(len(hashes) + len(lengths) * gap, dtype=np.uint64)
        padded[slots] = hashes
        edges = np.zeros(len(padded), dtype=np.int8)  # +1 where a paragraph's shingles start, -1 after them
        edges[starts] = 1
        edges[[span.stop for span in spans]] = -1
        kept = np.cumsum(edges[: len(padded) - gap], dtype=np.int8).view(bool)
    count = len(padded) - gap
    combined = padded[:count] * _POSITION[0]
    for offset in range(1, size):
        combined += padded[offset : offset + count] * _POSITION[offset]
    return _mix(combined), kept, spans


def _word_hashes(joined: str) -> np.ndarray:
    """Non-zero 64-bit hashes of the words of ``joined``, which one space each separates; stable across processes.

    A polynomial hash of each word's UTF-8 bytes: the sum of (byte + 1) · base^i over the
    word's bytes, i counted from the word's start. Signatures are stored, so these values
    must never change. It is computed for all words in a few array operations: each byte
    is weighed by the power of its place in the whole text (a space weighs nothing), each
    word's sum is taken, and the base being odd, hence invertible modulo 2⁶⁴, the power of
    the word's start is divided out again.
    """
    data = np.frombuffer(joined.encode(), dtype=np.uint8)
    if not len(data):
        return np.zeros(0, dtype=np.uint64)
    spaces = np.flatnonzero(data == _SPACE)
    starts = np.concatenate((_FIRST, spaces + 1))
    if len(data) <= len(_POWERS):
        powers, unpowers = _POWERS[: len(data)], _INVERSE_POWERS[starts]
    else:  # a text longer than the tables: computed (wrapping modulo 2⁶⁴, as the tables do)
        powers = np.power(_BASE, np.arange(len(data), dtype=np.uint64))
        unpowers = np.power(_INVERSE_BASE, starts.astype(np.uint64))
    terms = (data.astype(np.uint64) + np.uint64(1)) * powers
    terms[spaces] = 0
    return _mix(np.add.reduceat(terms, starts) * unpowers) | np.uint64(1)


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the whole word (arrays wrap silently)."""
    values = values ^ (values >> np.uint64(30))
    values *= np.uint64(0xBF58476D1CE4E5B9)
    values ^= values >> np.uint64(27)
    values *= np.uint64(0x94D049BB133111EB)
    values ^= values >> np.uint64(31)
    return values


def _minhash(hashes: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per permutation, the high 32 bits of the least a·h + b over all hashes.

    Computed in place: fresh temporaries of this size cost more in page
    faults than the arithmetic does. One row per permutation, so that each
    minimum runs along contiguous memory (twice as fast as down columns).
    """
    values = np.multiply.outer(a, hashes)
    values += b[:, np.newaxis]
    least: np.ndarray = (values.min(axis=1) >> np.uint64(32)).astype(np.uint32)
    return least


def _minhashes(groups: list[np.ndarray], a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    """:func:`_minhash` of each of several non-empty arrays of hashes, in one pass."""
    values = np.multiply.outer(a, np.concatenate(groups))
    values += b[:, np.newaxis]
    least = np.minimum.reduceat(values, np.cumsum([0, *map(len, groups[:-1])]), axis=1)
    return list((least.T >> np.uint64(32)).astype(np.uint32))


def band_keys(signatures: np.ndarray) -> np.ndarray:
    """Signed 64-bit LSH keys of signatures (shape ``(..., SIGNATURE)`` -> ``(..., BANDS + LEAD_BANDS)``).

    Taking a 2-D array lets a benchmark or a re-index band many signatures at once.
    """
    values = np.asarray(signatures)
    chosen = np.concatenate(
        (values[..., : BANDS * BAND_ROWS], values[..., PERMUTATIONS : PERMUTATIONS + LEAD_BANDS * BAND_ROWS]), axis=-1
    )
    return _bands(chosen)


def _bands(values: np.ndarray) -> np.ndarray:
    """One key per two values: packed into 64 bits, mixed with the band's number so bands never collide."""
    values = values.astype(np.uint64)
    packed = (values[..., 0::2] << np.uint64(32)) | values[..., 1::2]
    with np.errstate(over="ignore"):
        salted = packed + np.arange(1, packed.shape[-1] + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return _mix(salted).view(np.int64)


def resemblance(text_print: TextPrint, signatures: Sequence[bytes], shingles: Sequence[int]) -> list[Resemblance]:
    """Estimated overlap of a text with each stored text (one vectorised comparison).

    A signature of another layout (stored by an earlier version) resembles
    nothing, so an old archive degrades to "new story" instead of failing.
    """
    if not text_print.shingles:
        return [Resemblance(0.0, 0.0, 0.0, 0.0) for _ in signatures]
    return [
        Resemblance(float(j), float(c), float(s), float(lj))
        for j, c, s, lj in zip(*_estimates(text_print, signatures, shingles), strict=True)
    ]


def _estimates(
    text_print: TextPrint, signatures: Sequence[bytes], shingles: Sequence[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Jaccard, containment, shared shingles and lead Jaccard of a text (with shingles) against each stored one."""
    width = SIGNATURE * 4
    mine = np.frombuffer(text_print.signature, dtype="<u4")
    stale = np.array([len(s) != width for s in signatures], dtype=bool)
    theirs = np.frombuffer(b"".join(s if len(s) == width else bytes(width) for s in signatures), dtype="<u4")
    theirs = theirs.reshape(len(signatures), SIGNATURE)
    jaccard = (theirs[:, :PERMUTATIONS] == mine[:PERMUTATIONS]).mean(axis=1)
    lead, second = slice(PERMUTATIONS, PERMUTATIONS + LEAD_PERMUTATIONS), slice(PERMUTATIONS + LEAD_PERMUTATIONS, SIGNATURE)
    lead_jaccard = np.maximum.reduce(
        [
            (theirs[:, lead] == mine[lead]).mean(axis=1),
            (theirs[:, second] == mine[lead]).mean(axis=1),
            (theirs[:, lead] == mine[second]).mean(axis=1),
        ]
    )
    jaccard[stale] = lead_jaccard[stale] = 0.0
    sizes = np.asarray(shingles, dtype=np.float64)
    # |A ∩ B| = J·|A ∪ B| and |A ∪ B| = (|A| + |B|) / (1 + J).
    shared = jaccard * (text_print.shingles + sizes) / (1 + jaccard)
    containment = np.minimum(1.0, shared / np.maximum(1.0, np.minimum(text_print.shingles, sizes)))
    return jaccard, containment, shared, lead_jaccard


def closest(text_print: TextPrint, signatures: Sequence[bytes], shingles: Sequence[int]) -> int | None:
    """Index of the stored text that is most surely the same story, or None when none is.

    The decision of :attr:`Resemblance.same_story`, made over whole arrays: building a
    :class:`Resemblance` for each of a few hundred candidates cost more than comparing them.
    """
    if not text_print.shingles or not signatures:
        return None  # every estimate would be 0: nothing is the same story
    _, containment, shared, lead_jaccard = _estimates(text_print, signatures, shingles)
    same = _same_story(containment, shared, lead_jaccard)
    best: int | None = None
    best_key = (0.0, 0.0)
    for index in np.flatnonzero(same).tolist():
        key = (float(containment[index]), float(shared[index]))
        if key > best_key:
            best, best_key = index, key
    return best


# ------------------------------------------------------------------ passages


@dataclass(frozen=True)
class _Sentence:
    normal: str  # normalised words joined by single spaces
    grams: frozenset[str]  # character 5-grams of ``normal``
    facts: frozenset[str]  # numbers and names it states, normalised
    vocabulary: frozenset[str]
    negated: bool  # it holds a word of :data:`_NEGATIONS`


def _sentences(passage: str) -> list[str]:
    """Sentences of a passage, cut where the rules cut them (:func:`monitor.sentences.sentence_spans`)."""
    return [
        piece
        for paragraph in _plain(passage).splitlines()
        for start, end in sentence_spans(paragraph)
        if (piece := paragraph[start:end]).strip()
    ]


@lru_cache(maxsize=128)  # a passage's sentences hold about 90 KB of 5-grams at most
def _parsed(passage: str) -> tuple[_Sentence, ...]:
    """A passage's sentences, kept for the next judgements: an article's matches, and the articles after it, are
    judged against much the same newest passages (a site repeating a story made each split again)."""
    return tuple(map(_sentence, _sentences(passage)))


def _sentence(text: str) -> _Sentence:
    tokens = words(text)
    normal = " ".join(tokens)
    # The 5-grams by zipping the text with itself shifted: a fifth faster than slicing at each start.
    grams = frozenset(map("".join, zip(*(normal[i:] for i in range(_CHAR_GRAM))))) or frozenset((normal,))
    facts = set(_WITH_DIGIT.findall(normal)) | _NUMBER_WORDS.intersection(tokens)
    facts.update(w.casefold() for w in _WORD.findall(text) if w[0].isupper() and w.casefold() not in _NOT_NAMES)
    vocabulary = frozenset(tokens)
    return _Sentence(normal, grams, frozenset(facts), vocabulary, not vocabulary.isdisjoint(_NEGATIONS))


def _repeats(new: _Sentence, old: _Sentence, cues: frozenset[str] = frozenset()) -> bool:
    """Whether ``new`` says nothing that ``old`` did not: most of its text, all of its numbers and names (a day of
    the week given where ``old`` gave none is no news: see :data:`_WEEKDAYS`), every word of ``cues`` it holds (the
    words the rules read in it: "expelled" is news after "summoned", "nominated" after "considering nominating"), and
    the same denial or none (:data:`_NEGATIONS`)."""
    if new.normal == old.normal:
        return True
    # The facts first: most pairs differ in a name or a number, told without intersecting the 5-grams.
    facts = new.facts if old.vocabulary & _WEEKDAYS else new.facts - _WEEKDAYS
    return (
        facts <= old.vocabulary
        and (cues & new.vocabulary) <= old.vocabulary
        and new.negated == old.negated
        and len(new.grams & old.grams) / len(new.grams) >= SENTENCE_CONTAINMENT
    )


def passage_keys(passage: str) -> tuple[str, ...]:
    """Lookup keys of a passage: its exact key first, then LSH bands of each sentence's word pairs.

    A near copy of any one sentence shares a band key with it, so the archive
    can hand back every earlier passage that may repeat part of this one.
    """
    bands: set[str] = set()
    for text in _sentences(passage)[:_KEYED_SENTENCES]:
        tokens = words(text)
        if tokens:
            hashes = _shingle_hashes(tokens, [len(tokens)], size=2)
            signature = _minhash(hashes, _A[:_PASSAGE_VALUES], _B[:_PASSAGE_VALUES])
            bands.update(f"{key & 0xFFFFFFFFFFFFFFFF:016x}" for key in _bands(signature).tolist())
    return (exact_passage_key(passage), *sorted(bands))


def exact_passage_key(passage: str) -> str:
    """The first of a passage's :func:`passage_keys`: equal for passages that differ as retyped copies do."""
    return f"={text_hash(passage)}"


def variant_key(text_hash: str, title: str, text: str) -> str:
    """The key a text is stored under when another article holds its ``text_hash`` and the rules read it otherwise
    (:func:`monitor.ingest.reads_more`): the hash, then a digest of the headline and text as written, so that the
    very same page again is one more URL of it."""
    return f"{text_hash}:{_digest(title + chr(0) + text).hex()}"


@dataclass
class NoveltyBudget:
    """What judging one article's matches may cost together: the distinct earlier passages read, the sentence pairs
    compared. A passage one match read is free to the next. Spent, the rest of the article's matches are taken as new,
    as every bound of :func:`seen_before` errs: towards an alert."""

    passages: int = MAX_ARTICLE_PASSAGES
    comparisons: int = MAX_ARTICLE_COMPARISONS
    read: set[str] = field(default_factory=set)

    def affords(self, passage: str) -> bool:
        """Whether an earlier passage may be read, counting it if it was not read yet."""
        if passage in self.read:
            return True
        if self.passages <= 0:
            return False
        self.passages -= 1
        self.read.add(passage)
        return True

    def compare(self, pairs: int) -> bool:
        """Whether so many sentence pairs may still be compared, counting them if so."""
        if pairs > self.comparisons:
            return False
        self.comparisons -= pairs
        return True


def seen_before(
    passage: str, earlier: Iterable[str], terms: Iterable[str] = (), news: Iterable[str] = (),
    budget: NoveltyBudget | None = None,
) -> bool:
    """Whether every sentence of ``passage`` that tells its news repeats one sentence of an earlier passage.

    Each new sentence must be covered by a single old sentence: stitching
    phrases from many old ones could cover "X was freed in a swap for Y" from
    two unrelated reports. Sentences of under three words ("He declined.")
    carry no news on their own and are not judged, unless nothing else is.
    ``terms`` are the words the rules read in the passage: a sentence's event
    ("expelled") must be in the old sentence too (see :func:`_repeats`). ``news`` are the passage's
    sentences in which the rule holds on its own (:attr:`monitor.models.Match.news`): where some are
    given, only they are judged. A passage runs from its first hit's sentence to its last, and a
    sentence added between or after ("Washington has not responded", holding only a side's name)
    made a story updated in place, or a copy with a line more, alert the expulsion again.

    The work is bounded, as it runs in the archive's writer: at most :data:`MAX_EARLIER_PASSAGES`
    earlier passages are read (the caller gives the newest first), and no more once they hold
    :data:`MAX_EARLIER_SENTENCES` distinct sentences; a passage of more than
    :data:`MAX_JUDGED_SENTENCES` sentences is taken as new. Each bound errs towards an alert. ``budget`` bounds the
    judgements of one article's matches together.
    """
    budget = budget or NoveltyBudget()
    old: dict[str, _Sentence] = {}  # by normal form: a sentence said in many passages is compared once
    for earlier_passage in islice(filter(budget.affords, earlier), MAX_EARLIER_PASSAGES):
        for sentence in _parsed(earlier_passage):
            old.setdefault(sentence.normal, sentence)
        if len(old) >= MAX_EARLIER_SENTENCES:
            break
    if not old:
        return False
    parsed = _parsed(passage)  # kept: this passage is an earlier one to the next match and the next articles
    telling = {" ".join(words(sentence)) for sentence in news}  # in their normal form
    new = [s for s in parsed if s.normal in telling] or list(parsed)
    judged = [s for s in new if len(s.vocabulary) >= _MIN_SENTENCE_WORDS] or new
    if not judged or len(judged) > MAX_JUDGED_SENTENCES or not budget.compare(len(judged) * len(old)):
        return False  # too many to compare in bounded time: news, rather than a repeat missed
    # Names and places are facts already, and a house style swaps "US" and "United States": the cues are the rules'
    # other words, as the text wrote them in lower case ("summoned", "prisoner swap").
    cues = frozenset(word.casefold() for term in terms for word in _WORD.findall(_plain(term))
                     if not word[0].isupper() and word.casefold() not in _NOT_NAMES)
    return all(s.normal in old or any(_repeats(s, o, cues) for o in old.values()) for s in judged)
