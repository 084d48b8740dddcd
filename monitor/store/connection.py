"""The archive's connection: opening (created, migrated or read-only), transactions, SQLite errors as one line."""

from __future__ import annotations

import os
import shlex
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Self

import sqlite_utils

from monitor.errors import ArchiveError, ArchiveLockedError, ArchiveMovedError
from monitor.store.schema import MIGRATIONS, migrate
from monitor.tempfiles import missing_temp_folder

Mode = Literal["create", "write", "read"]
BUSY_TIMEOUT_MS = 10_000
MAX_BOUND_VALUES = 999  # SQLite's limit on ? in one statement before 3.32 (32,766 since)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 UTC text, the archive's one time format (sorts as text)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def archive_error(exc: sqlite3.Error, path: Path) -> ArchiveError:
    """The one line an operator needs for an SQLite error of the archive at ``path``: what happened, what to do."""
    # The primary code; errors raised by Python's module itself (a closed connection) carry none.
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    quoted = shlex.quote(str(path))
    recovered = shlex.quote(f"{path}.recovered")
    messages = {
        sqlite3.SQLITE_NOTADB: f"{path} is not a monitor archive (not an SQLite database): check --db or"
        " 'database' in the config",
        sqlite3.SQLITE_CORRUPT: f"{path} is damaged ({exc}): stop monitor, recover what is readable with"
        f" `sqlite3 {quoted} .recover | sqlite3 {recovered}`, then move {recovered} in its place",
        sqlite3.SQLITE_FULL: f"the disk holding {path} is full: free some space and run monitor again"
        " (the write that failed was rolled back)",
        sqlite3.SQLITE_READONLY: f"{path} is read-only here: give the user running monitor write access to the"
        " file, its -wal and -shm files and its folder",
        sqlite3.SQLITE_CANTOPEN: f"cannot open {path}: check that its folder exists and that the user running"
        " monitor may read it (and write it, for run, once and demo)",
        sqlite3.SQLITE_PERM: f"no permission to use {path}: check the file's and its folder's owner and mode",
        sqlite3.SQLITE_IOERR: f"disk I/O error on {path} ({exc}): check the disk, its free space and the"
        " system log",
        sqlite3.SQLITE_BUSY: f"{path} stayed locked by another process ({exc}): is a long query or another"
        " writer holding it?",
    }
    kind = ArchiveLockedError if code == sqlite3.SQLITE_BUSY else ArchiveError
    return kind(str(path), messages.get(code, f"{path}: SQLite error: {exc}"))


def _enable_wal(db: sqlite_utils.Database) -> None:
    """Switch a new archive to WAL, waiting out another process that is creating it too.

    The switch needs the file to itself, and SQLite answers "database is locked" at once, without its busy
    timeout, where waiting could deadlock (this process reading, another holding the write lock to migrate).
    Once the file is in WAL the switch is a no-op, so only a first opening ever waits here.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            db.enable_wal()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def make_folder(path: Path) -> None:
    """Create the folder of the archive at ``path``, or raise the one line that says why it cannot be."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:  # "File exists" read as if the folder were fine
        raise ArchiveError(str(path), f"cannot create the archive's folder {path.parent}: part of that path is a file,"
                           " not a folder: check --db or 'database' in the config") from exc
    except OSError as exc:
        raise ArchiveError(str(path), f"cannot create the archive's folder {path.parent}: {exc.strerror or exc}") from exc


def _identity(path: Path) -> tuple[int, int] | None:
    """The device and inode of the file at ``path`` (None: no file there), which tell one file from its replacement."""
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


class Connection:
    """One sqlite-utils ``Database`` on the archive file; the per-domain record classes build on it."""

    def __init__(self, path: str | Path, *, mode: Mode) -> None:
        """Open the archive at ``path`` as :meth:`create`, :meth:`open` or :meth:`read` say; raise ArchiveError."""
        self.path = Path(path)
        try:
            self.db = self._open_for_writing() if mode == "create" else self._open_existing(writable=mode == "write")
        except sqlite3.Error as exc:
            raise archive_error(exc, self.path) from exc
        try:
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if missing_temp_folder():  # SQLite's statement journals and sorts failed as "disk I/O error": in memory
                self.db.execute("PRAGMA temp_store = MEMORY")
            self._refuse_another_programs_database()
            if mode == "read":
                self.version = self._current_version()
            else:
                _enable_wal(self.db)
                self.db.execute("PRAGMA synchronous = NORMAL")
                self.db.execute("PRAGMA foreign_keys = ON")
                self.version = self._migrate() if mode == "create" else self._current_version()
            self._file = _identity(self.path)
        except BaseException as exc:
            self.db.close()
            if isinstance(exc, sqlite3.Error):
                raise archive_error(exc, self.path) from exc
            raise

    @classmethod
    def create(cls, path: str | Path) -> Self:
        """Open the archive for writing, creating its folder and file and migrating its schema as needed:
        what ``run``, ``once`` and ``demo`` do, and nothing else."""
        return cls(path, mode="create")

    @classmethod
    def open(cls, path: str | Path) -> Self:
        """Open an existing archive, already at the current schema, for writing (a second connection)."""
        return cls(path, mode="write")

    @classmethod
    def read(cls, path: str | Path) -> Self:
        """Open an existing archive read-only (SQLite ``mode=ro``): it is never created, migrated or written."""
        return cls(path, mode="read")

    def _open_for_writing(self) -> sqlite_utils.Database:
        make_folder(self.path)
        return sqlite_utils.Database(self.path)

    def _open_existing(self, *, writable: bool) -> sqlite_utils.Database:
        if not self.path.is_file():
            raise ArchiveError(
                str(self.path),
                f"no archive at {self.path}: check --db or 'database' in the config (monitor once or monitor run"
                " creates it)",
            )
        uri = self.path.resolve().as_uri() + ("?mode=rw" if writable else "?mode=ro")
        # A reader of a WAL archive needs its -shm file, which the first one makes beside it: in a folder this user
        # cannot write, with no writer at work (no -wal file), the archive is read as the unchanging file it is.
        if not writable and not os.access(self.path.parent, os.W_OK) and not Path(f"{self.path}-wal").exists():
            uri += "&immutable=1"
        return sqlite_utils.Database(sqlite3.connect(uri, uri=True))

    def _refuse_another_programs_database(self) -> None:
        """An SQLite file that is no archive of ours (no schema version, tables of its own) is never written: the
        migrations would add two dozen tables to another program's database.

        The version and the tables are read in one statement, so from one state of the file: read apart, another
        process creating the archive could commit its first migration in between (version 0, then its tables)."""
        names = [row[0] for row in self.db.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite%'"
            " AND NOT (SELECT user_version FROM pragma_user_version) ORDER BY name LIMIT 4")]
        if not names:
            return
        if self._one("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('articles', 'alerts')") == 2:
            # A copy made with sqlite3's .dump, restored: monitor's own tables, the schema version lost.
            raise ArchiveError(str(self.path), f"{self.path} holds monitor's tables but no schema version, as a copy"
                               " restored from sqlite3's .dump does: copy archives with sqlite3's .backup; if this one"
                               f" was written by this monitor, set it: sqlite3 {self.path} 'PRAGMA user_version ="
                               f" {len(MIGRATIONS)}'")
        shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
        raise ArchiveError(str(self.path), f"{self.path} is not a monitor archive: it holds other tables ({shown});"
                                           " give another --db or 'database'")

    def _migrate(self) -> int:
        """Bring the schema up to date; a migration whose table is there already names the cause, where SQLite's "table
        heartbeat already exists" said nothing an operator could act on."""
        version = int(self._one("PRAGMA user_version"))
        try:
            return migrate(self.db)
        except sqlite3.OperationalError as exc:
            if "already exists" not in str(exc):
                raise
            raise ArchiveError(str(self.path), f"{self.path} says schema version {version} but holds tables of later"
                               " versions (a version changed by hand, or a file put together from two copies): restore"
                               " it from a copy made with sqlite3's .backup") from exc

    def _current_version(self) -> int:
        """The schema version of an archive opened without :meth:`create`, which must be this monitor's."""
        version = int(self._one("PRAGMA user_version"))
        if not version:  # an empty file (one touched, or SQLite's of a failed first run): no schema to upgrade
            raise ArchiveError(str(self.path), f"{self.path} holds no archive yet: run monitor once to create it")
        if version < len(MIGRATIONS):
            raise ArchiveError(str(self.path), f"{self.path} has an older schema: run monitor once to upgrade it")
        if version > len(MIGRATIONS):
            raise ArchiveError(str(self.path), f"{self.path} was written by a newer monitor: upgrade monitor")
        return version

    def ensure_in_place(self) -> None:
        """Raise :class:`ArchiveMovedError` when ``path`` no longer names the file open here (deleted, or another
        moved in its place): SQLite goes on writing to the file it has open, which nobody will read again."""
        try:
            found = _identity(self.path)
        except OSError:  # cannot tell (its folder made unreadable): SQLite's own errors will say what is wrong
            return
        if found != self._file:
            raise ArchiveMovedError(
                str(self.path),
                f"{self.path} was deleted or replaced while monitor had it open, and what it wrote since went to the"
                f" file that was there before: start monitor again to use (or create) the archive now at {self.path}",
            )

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        """Close; an SQLite error of the block leaves as an :class:`ArchiveError` (the cause chained)."""
        self.close()
        if isinstance(exc, sqlite3.Error):
            raise archive_error(exc, self.path) from exc

    @contextmanager
    def transaction(self) -> Iterator[Self]:
        """All or nothing: a transaction, or within one a savepoint.

        The transaction takes the write lock as it begins (``BEGIN IMMEDIATE``): one that
        reads first and writes later would fail at once, busy timeout or not, if another
        process (a command run beside the daemon) wrote in between.
        Taking the lock first also makes reads and writes inside see one state of the archive.

        sqlite-utils' ``atomic`` names every savepoint afresh, so SQLite compiles its
        statements anew each time. Savepoints nest by name, so one fixed name serves and its
        statements stay compiled: the archive writer takes one for every article.
        """
        conn = self.db.conn
        if not conn.in_transaction:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield self
                conn.execute("COMMIT")
            except BaseException:
                conn.rollback()  # a no-op when an error already ended the transaction
                raise
            return
        conn.execute("SAVEPOINT archive")
        try:
            yield self
        except BaseException:
            if conn.in_transaction:  # an error may have ended the whole transaction already
                conn.execute("ROLLBACK TO archive")
                conn.execute("RELEASE archive")
            raise
        conn.execute("RELEASE archive")

    def _one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        row = self.db.execute(sql, params).fetchone()
        return row[0] if row else None

    def _insert_rows(self, insert: str, rows: Sequence[tuple[Any, ...]], upsert: str = "") -> None:
        """``insert`` (``INSERT ... INTO table (columns)``) of many rows in as few statements as may be, each
        followed by ``upsert`` (an ``ON CONFLICT`` clause) if given.

        ``executemany`` steps once per row, and each step gives up the GIL and takes it back:
        in the archive writer's thread every take-back may wait for the busy event loop. A
        statement binds at most 999 values, the least limit of any SQLite build.
        """
        if not rows:
            return
        width = len(rows[0])
        per_statement = MAX_BOUND_VALUES // width
        marks = "(" + ",".join("?" * width) + ")"
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            self.db.execute(f"{insert} VALUES {','.join([marks] * len(chunk))} {upsert}",
                            [v for row in chunk for v in row])

    @staticmethod
    def _in_chunks(urls: Sequence[str]) -> Iterator[tuple[list[str], str]]:
        """``urls`` 500 at a time, each chunk with the ``?`` marks of its ``IN (...)``: within the 999 values a
        statement binds, with room for the statement's others."""
        for start in range(0, len(urls), 500):
            chunk = list(urls[start : start + 500])
            yield chunk, ",".join("?" * len(chunk))

    def _urls_where(self, urls: Sequence[str], sql: str, *params: object) -> set[str]:
        """Those of ``urls`` that ``sql`` (with ``{marks}`` for the list) selects."""
        found: set[str] = set()
        for chunk, marks in self._in_chunks(urls):
            found.update(row[0] for row in self.db.execute(sql.format(marks=marks), [*chunk, *params]))
        return found
