"""The archive: every SQL statement of monitor lives in this package.

One :class:`Archive` wraps one sqlite-utils ``Database`` in WAL mode with a busy
timeout, so Datasette or the ``sqlite-utils`` CLI can read while the daemon
writes. Rows that must land together (article, urls, story, mentions, alert)
are written inside :meth:`Archive.transaction`.

Opening is explicit: :meth:`Archive.create` makes the folder and the file and migrates the
schema (``run``, ``once``, ``demo``); :meth:`Archive.open` writes to an existing archive at
the current schema (the writer, a worker process); :meth:`Archive.read` (``status``,
``search``, ``rules test``) is an SQLite ``mode=ro`` connection that never creates,
migrates or writes the file. Every
``sqlite3`` error that leaves an ``Archive`` (its opening, or the ``with`` block around
its use) becomes an :class:`~monitor.errors.ArchiveError` saying what to do, since an
operator meets a damaged file, a full disk or a read-only mount first as that error.
"""

from __future__ import annotations

from monitor.store.alerts import AlertRecords
from monitor.store.articles import ArticleRecords
from monitor.store.connection import BUSY_TIMEOUT_MS, archive_error, iso, make_folder, parse_iso
from monitor.store.mentions import MentionRecords
from monitor.store.notices import NoticeRecords
from monitor.store.sources import SourceRecords

__all__ = ["BUSY_TIMEOUT_MS", "Archive", "archive_error", "iso", "make_folder", "parse_iso"]


class Archive(SourceRecords, ArticleRecords, MentionRecords, AlertRecords, NoticeRecords):
    """The archive, every domain's records over one connection (see :mod:`monitor.storage` for the interfaces)."""
