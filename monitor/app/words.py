"""The words of the lines a person reads, shared by the commands and the CLI."""

from __future__ import annotations

from monitor.display import printable

__all__ = ["counted", "printable"]


def counted(count: int, noun: str) -> str:
    """``3 alerts``, ``1 alert``: a count and its noun, in the lines a person reads."""
    return f"{count} {noun}{'s' if count != 1 else ''}"
