"""Phrases looked for in a text, each a regular expression that opens with plain text.

One pattern of many alternatives makes Python's regular expressions try each of them at every
character: tens of microseconds for a paragraph. Most texts hold none of the phrases' openings
(nine in ten of those the extractor asks about), which substring searches in C tell sooner;
only a text that holds one is searched with the pattern. Twice as fast, all told.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"[\\.^$*+?{}\[\]()|]")


class Phrases:
    """Whether a text holds any of the phrases (regular expressions opening with plain text)."""

    def __init__(self, *phrases: str) -> None:
        openings = set(map(opening, phrases))
        # A text holding "most read " holds "most ": only the shortest openings need a search.
        self.openings = tuple(
            sorted(o for o in openings if not any(p != o and p in o for p in openings))
        )
        self.pattern = re.compile("|".join(phrases))

    def search(self, text: str) -> bool:
        for start in self.openings:
            if start in text:
                return self.pattern.search(text) is not None
        return False


def opening(phrase: str) -> str:
    """The text every match of a phrase opens with: up to its first special character, less
    the character before an optional or repeated one ("comments?" opens with "comment")."""
    body = phrase.removeprefix("^")
    special = _SPECIAL.search(body)
    if special is None:
        return body
    if special.group() == "|":  # "a|b" opens with either: two phrases
        raise ValueError(f"one alternative per phrase: {phrase!r}")
    text = body[: special.start()]
    if special.group() in "?*{":
        text = text[:-1]
    if not text:
        raise ValueError(f"a phrase must open with plain text: {phrase!r}")
    return text
