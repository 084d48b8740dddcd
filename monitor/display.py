"""Page text fit for a reader's screen: every way monitor shows a page's words (the terminal, an e-mail, a chat
message) passes them through :func:`printable` first, so a page cannot drive the reader's terminal or reorder
what they read."""

from __future__ import annotations

import unicodedata

__all__ = ["printable"]

# In bodies newlines and tabs are layout; every other control character goes. Format
# characters stay (zero-width joiners shape some scripts), except the bidi embeddings,
# overrides and isolates, which let page text reorder what the reader sees (a URL spelled
# backwards reads as another).
_BODY_BANNED = frozenset({"Cc", "Cs", "Co", "Cn"})
_BODY_KEPT = frozenset("\n\t")
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def printable(value: str) -> str:
    """Page text fit for a reader's screen or terminal: newlines and tabs kept, control characters (a terminal's
    escape sequences) and bidi overrides dropped."""
    return "".join(
        char
        for char in value
        if char in _BODY_KEPT or (unicodedata.category(char) not in _BODY_BANNED and char not in _BIDI_CONTROLS)
    )
