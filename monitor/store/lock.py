"""One daemon per archive: ``monitor run`` holds an exclusive lock on ``<archive>.lock``.

Two daemons on one archive corrupt nothing, but fetch every page twice and double
``per_host``. The lock is ``flock`` on a file beside the archive, so the kernel
releases it when the process ends, however it ends: a stale lock file left by a
crash holds nothing. The file holds the holder's pid, for the refusal's message, and
goes when the holder leaves (a daemon refusing a file that is no archive left one beside
it).
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from monitor.errors import ArchiveLockedError
from monitor.store import make_folder


def lock_path(database: Path) -> Path:
    """The lock file, beside the archive itself: through a symbolic link to it (``--db alias.db``), a lock beside the
    link let a second daemon run on the one archive. A path with no link in it is kept as given, for the messages."""
    real = database.resolve()
    if real != database.absolute():
        database = real
    return database.with_name(database.name + ".lock")


@contextmanager
def instance_lock(database: Path) -> Iterator[None]:
    """Hold the archive's lock for the block; :class:`ArchiveLockedError` names the pid of another holder."""
    path = lock_path(database)
    make_folder(database)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ArchiveLockedError(str(database), f"cannot open the lock file {path}: {exc.strerror or exc}"
                                 f"{_what_to_do(exc)}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise ArchiveLockedError(
                str(database),
                f"another monitor run (pid {holder}) is using {database}: stop it first, or give this one another"
                " --db",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        try:
            yield
        finally:
            _remove_if_ours(path, fd)  # while still held: whoever opens the path next makes a new file
    finally:
        os.close(fd)  # releases the lock


def _remove_if_ours(path: Path, fd: int) -> None:
    """Remove the lock file, unless the path now names another file (moved aside, replaced)."""
    try:
        held, named = os.fstat(fd), os.stat(path)
        if (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino):
            path.unlink()
    except OSError:
        pass  # gone already, or a folder no longer writable: a lock file left behind holds nothing


def _what_to_do(exc: OSError) -> str:
    """The remedy for a lock file that cannot be opened: the daemon makes it beside the archive, in its folder."""
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (": monitor run makes it beside the archive; give the user running monitor write access to that folder"
                " (or to the file, if it exists)")
    return ""
