"""Where sentences end: one rule for the whole package (pure).

The rules quote passages by whole sentences and dedup judges a passage's novelty
sentence by sentence, so both must cut a paragraph at the same places.
"""

from __future__ import annotations

import re

Span = tuple[int, int]

# A candidate end: the punctuation, closing quotes or brackets, space, and a capital, a digit
# or an opening quote or bracket after it (a lowercase word after a stop is rarely a new sentence).
# The first stop is written apart from the others: a pattern that begins with a set of characters
# is searched by skipping to them (with "[.!?…]+" every character was tried: twice as slow).
# A match starts only at a run's first stop, and gives back nothing of a run once taken (possessive):
# tried again at each stop of a run, a page's 20,000 "!" took 7 s, the square of the run.
_END = re.compile(
    r"""(?<![.!?\u2026])([.!?\u2026][.!?\u2026]*+)["'\u201d\u2019\u00bb)\]]*+\s+(?=["'\u201c\u2018\u00ab(\[]?[A-Z\u00c0-\u00deА-ЯЁ0-9])"""
)
# Words after which a full stop does not end a sentence.
ABBREVIATIONS = frozenset(
    """mr mrs ms dr st sen rep gov gen lt col maj capt sgt adm cmdr jr sr prof rev hon
    amb ambs pres no nos vs etc inc ltd corp co dept est approx fig
    jan feb mar apr jun jul aug sep sept oct nov dec""".split()
)


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """The character spans of the sentences of ``text[start:end]``.

    A full stop after an abbreviation, an initial or a dotted acronym ("Mr.", "J.",
    "U.S.") does not end a sentence: merging two sentences is the safer mistake.
    """
    end = len(text) if end is None else end
    spans = []
    after = start
    for m in _END.finditer(text, start, end):
        if m.group(1) == ".":
            before = text[after : m.start()]
            # The last word only: splitting the whole sentence for it took longer than the rest.
            word = before.rsplit(None, 1)[-1] if before and not before[-1].isspace() else ""
            if word.lower() in ABBREVIATIONS or (len(word) == 1 and word.isalpha()) or "." in word:
                after = m.end()
                continue
        spans.append((start, m.end(1)))
        start = after = m.end()
    spans.append((start, end))
    return spans
