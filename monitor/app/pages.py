"""What ``extract`` does: one page, fetched as the daemon fetches it or read from a file, parsed in a worker.

Apart from the checks' part: it loads neither the archive, the scheduler nor the alert channels, which took a seventh
of the command's own start-up (its worker's aside).
"""

from __future__ import annotations

import re
from pathlib import Path

from monitor.config import Settings, loops
from monitor.errors import BadArgumentError, MonitorError
from monitor.fetch.client import Fetcher
from monitor.fetch.urls import canonicalize
from monitor.models import Extracted, NotModified
from monitor.prepare import extract_fetched, extract_file
from monitor.rulecache import rules_of
from monitor.stopping import run_stoppable
from monitor.workers import Workers

__all__ = ["extract_page"]

_URL = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)  # any scheme, in any case: ftp:// is no file name


def extract_page(settings: Settings | None, target: str) -> Extracted:
    """What the extractor takes from a URL (fetched as the daemon fetches) or a file, parsed in a worker under
    the configured limits, as the daemon parses."""
    settings = settings or Settings()
    rules_of(settings)  # a bad query is a one-line config error here, as for once and run (the worker compiles none)
    is_url = _URL.match(target) is not None
    if not target.strip():  # Path("") is the current folder: it said ": is a folder"
        raise BadArgumentError("no page given: give a page's file or an http(s) URL")
    if is_url:
        try:
            canonicalize(target)  # as the fetcher will, before any worker starts
        except ValueError as exc:
            raise BadArgumentError(f"{exc} (give an http(s) URL or a file)") from None
    # The worker extracts and matches nothing: it compiles no rules (a quarter of a second for the shipped ones).
    unmatched = settings.with_workers(min(settings.limits.worker_count, 1)).model_copy(update={"rules": []})

    async def read() -> Extracted:
        async with Workers(unmatched) as workers:
            if not is_url:
                path = Path(target)
                if path.is_dir():
                    raise MonitorError(f"{target}: is a folder (give a page's file or an http(s) URL)")
                if loops(path):
                    raise MonitorError(f"{target}: a loop of symbolic links (give a file or an http(s) URL)")
                if not path.exists():
                    raise MonitorError(f"{target}: no such file (give a file or an http(s) URL)")
                if not path.is_file():  # a device or a pipe, which need not end, is not read
                    raise MonitorError(f"{target}: not a regular file (give a page's file or an http(s) URL)")
                try:
                    body = path.read_bytes()
                except OSError as exc:
                    raise MonitorError(f"{target}: cannot be read: {exc.strerror or exc}") from exc
                return await workers.run(target, extract_file, body, target)
            async with Fetcher(settings.fetch, [target]) as fetcher:
                page = await fetcher.fetch(target, kind="article")
            assert not isinstance(page, NotModified)  # no validators were sent
            return await workers.run(page.url, extract_fetched, page)

    return run_stoppable(read())
