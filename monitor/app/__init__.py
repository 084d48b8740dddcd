"""The application: what each command does, as functions over settings that return records.

The CLI (:mod:`monitor.cli`) parses arguments, calls one of these and prints what it returns; it imports nothing
else of the package but config and errors. Anything a script or a test wants to do as a user would goes through
here too.

Each part loads when one of its names is first used. ``status`` (the container's health check, every minute) and
``search`` read the archive without loading the fetcher, the parsers and the scheduler, which took them from a
third to three quarters of a second; ``--help`` and a bad config load none of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.app.archive import ArchiveStatus, datasette_metadata, health_problems, iso, search, status
    from monitor.app.checks import CheckReport, DemoResult, OnceResult, check_once, demo, run_daemon
    from monitor.app.pages import extract_page
    from monitor.app.rules import RuleVerdict, evaluate_rules, highlight_spans, judge_rules
    from monitor.app.words import counted, printable

_PART = {
    "ArchiveStatus": "archive", "datasette_metadata": "archive", "health_problems": "archive", "iso": "archive",
    "search": "archive", "status": "archive",
    "CheckReport": "checks", "DemoResult": "checks", "OnceResult": "checks", "check_once": "checks", "demo": "checks",
    "extract_page": "pages", "run_daemon": "checks",
    "RuleVerdict": "rules", "evaluate_rules": "rules", "highlight_spans": "rules", "judge_rules": "rules",
    "counted": "words", "printable": "words",
}

__all__ = [
    "ArchiveStatus", "CheckReport", "DemoResult", "OnceResult", "RuleVerdict", "check_once", "counted",
    "datasette_metadata", "demo", "evaluate_rules", "extract_page", "health_problems", "highlight_spans", "iso",
    "judge_rules", "printable", "run_daemon", "search", "status",
]


def __getattr__(name: str) -> Any:
    """``app.status`` and the like: the name from the part that holds it, imported now."""
    try:
        part = _PART[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(f"{__name__}.{part}"), name)
