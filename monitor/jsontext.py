"""JSON as sites write it: any number, control characters in strings; the one decoder for feeds and JSON-LD."""

from __future__ import annotations

import json
import sys


def _integer(digits: str) -> int | str:
    """An integer, or its digits where Python refuses to read that many (4,300 by default).

    The refusal raises inside the parse, which lost the whole document over one field nobody reads: a JSON Feed
    item's ``id`` of 5,000 digits failed the feed, a ``wordCount`` the page's date and author.
    """
    limit = sys.get_int_max_str_digits()
    return int(digits) if not limit or len(digits.lstrip("-")) <= limit else digits


# Templates paste text into strings raw (strict=False lets control characters in).
DECODER = json.JSONDecoder(strict=False, parse_int=_integer)
