"""The cyclic garbage collector, paused around work that makes many objects and no reference cycles.

Extracting a page wraps thousands of nodes in tracked objects; judging an article builds its words, places and
spans. Neither makes a cycle, yet the allocations set off collections that walk every tracked object of the process
and find nothing: a fifth of extraction's time, and up to a sixth of judging a beat article. Garbage from elsewhere is
collected once the collector is back on.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the collector for the block, unless it is off already (another thread's pause, or the caller's own)."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()
