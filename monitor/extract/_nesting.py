"""The nesting guard: whether a document's elements nest deeper than the parser can take in reasonable time."""

from __future__ import annotations

import re

import numpy as np

MAX_DEPTH = 15_000  # nesting levels: parsing this deep takes about a second
TOO_DEEP = f"elements nested deeper than {MAX_DEPTH:,} levels"  # why a page is left unparsed
_LESS_THAN = ord("<")
_TAG = re.compile(rb"<(/?)([a-zA-Z][^\s/>]*)")
# Elements that never hold others (void), or that the next of their kind or their parent's end closes (optional end
# tags): they do not deepen the nesting however many a page opens.
_NOT_NESTING = frozenset(
    b"area base br col embed hr img input link meta source track wbr param keygen "
    b"p li dt dd option optgroup tr td th thead tbody tfoot colgroup caption rb rt rtc rp html head body".split()
)


def too_deep(raw: bytes) -> bool:
    """Whether elements nest deeper than the parser can take in reasonable time.

    Lexbor, like any HTML5 parser, scans its stack of open elements for some tags, so parsing
    time grows with the square of the nesting depth (10,000 levels: 0.3 s; 100,000: minutes).
    Only pages with enough opening tags to nest that deep are scanned (a tag takes at least
    three bytes; every ``</`` closes one). Every element that does not close implicitly is
    counted, a custom one (``<x>``) too, and an end tag closes only where one of its name is
    open: counting a list of common tags, any end tag closing one, a page of 55,000 ``<x>``
    and as many stray ``</y>`` looked flat and took 18 s. The tags are counted with numpy:
    ``str.count`` and ``bytes.count`` go a character at a time, which on the corpus's pages
    (144 kB on average) was 3% of extracting.
    """
    if len(raw) <= 3 * MAX_DEPTH:
        return False
    tags = int(np.count_nonzero(np.frombuffer(raw, np.uint8) == _LESS_THAN))
    if tags <= MAX_DEPTH or tags - raw.count(b"</") <= MAX_DEPTH:
        return False
    depth = deepest = 0
    open_by_name: dict[bytes, int] = {}
    for match in _TAG.finditer(raw):
        name = match.group(2).lower()
        if name in _NOT_NESTING:
            continue
        if not match.group(1):
            open_by_name[name] = open_by_name.get(name, 0) + 1
            depth += 1
            deepest = max(deepest, depth)
        elif open_by_name.get(name):
            open_by_name[name] -= 1
            depth -= 1
    return deepest > MAX_DEPTH
