"""The compiled rules of a configuration: compiled once per process, and kept on disk from one process to the next.

Compiling the shipped rules takes half a second of CPU, and every ``monitor once``, daemon start and ``rules``
command paid it; loading the pickle of the same rules takes about a quarter of that. The pickle is kept in the user's
cache folder (``$XDG_CACHE_HOME/monitor``, else ``~/.cache/monitor``), named by a digest of all the compilation depends
on: the config's rules, lists and people, the files of the rules package, monitor's version and Python's. A change to
any of them gives another name, so an entry is never stale, only unused; the oldest beyond :data:`KEPT` are removed.

The cache is a shortcut and nothing else: a folder that cannot be made or written, or an entry that does not load,
costs a compilation, never the command. Loading a pickle runs whatever it names, so an entry is read only from a
folder of the user's own that nobody else may write, and only where the user owns it.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import pickle
import stat
import sys
import tempfile
import threading
from pathlib import Path

import monitor.rules
from monitor import __version__
from monitor.config import Settings
from monitor.rules import Ruleset, compile_rules

log = logging.getLogger(__name__)

KEPT = 8  # entries: a config edited a few times, and a test suite's few configurations
_PREFIX = "rules-"
_SUFFIX = ".pickle"

# The rules last compiled or loaded in this process, by the configuration they came from (see rules_of).
_last: tuple[str, Ruleset] | None = None
_compiling = threading.Lock()


def rules_of(settings: Settings) -> Ruleset:
    """The rules of a configuration, with its lists and people: compiled again only when they changed.

    ``once`` compiles them to check them, and a pool without workers again; a script or a test calling the
    application over and over compiled them at every call. A :class:`Ruleset` is immutable, so one serves every
    caller. Callers in two threads at once (``once`` checks the rules while its workers are sent them) wait for one
    compilation. A bad rule raises :class:`~monitor.errors.ConfigError`, as :func:`compile_rules` does, and is never
    cached.
    """
    global _last  # noqa: PLW0603 - the process's one remembered compilation
    key = settings.model_dump_json(include={"rules", "lists", "people"})
    with _compiling:
        if _last is None or _last[0] != key:
            _last = key, _load_or_compile(settings, key)
        return _last[1]


def cache_folder() -> Path:
    """Where compiled rules are kept: ``$XDG_CACHE_HOME/monitor``, else ``~/.cache/monitor``."""
    base = os.environ.get("XDG_CACHE_HOME") or ""
    return (Path(base) if os.path.isabs(base) else Path.home() / ".cache") / "monitor"


def _load_or_compile(settings: Settings, key: str) -> Ruleset:
    path = _entry(key)
    ruleset = _load(path) if path is not None else None
    if ruleset is None:
        ruleset = compile_rules(settings.rules, settings.lists, settings.people)
        if path is not None:
            _store(path, ruleset)
    return ruleset


def _entry(key: str) -> Path | None:
    """The file the rules of a configuration are kept in, or None where there is no home to keep them in."""
    digest = hashlib.sha256(_code_digest() + key.encode()).hexdigest()[:32]
    try:
        return cache_folder() / f"{_PREFIX}{digest}{_SUFFIX}"
    except RuntimeError as exc:  # Path.home() without a home (no HOME, no passwd entry)
        log.debug("compiled rules are not cached: %s", exc)
        return None


@functools.cache
def _code_digest() -> bytes:
    """What the compiled rules depend on besides the config: the code that compiles them and the classes they are."""
    digest = hashlib.sha256(f"{__version__} {sys.implementation.cache_tag} {pickle.HIGHEST_PROTOCOL}".encode())
    package = Path(monitor.rules.__file__).parent
    for path in sorted(package.glob("*.py")) + sorted(package.glob("*.toml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.digest()


def _private(folder: Path) -> bool:
    """Whether a folder is the user's own and nobody else may write it: where a pickle may be trusted."""
    info = folder.stat()
    return info.st_uid == os.geteuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _load(path: Path) -> Ruleset | None:
    """The rules kept at ``path``, or None where there are none the cache may give."""
    try:
        if not _private(path.parent):
            log.debug("compiled rules are not read from %s: another user may write it", path.parent)
            return None
        with path.open("rb") as file:
            if os.fstat(file.fileno()).st_uid != os.geteuid():
                return None
            data = file.read()
    except OSError:  # none kept yet, or a folder that cannot be read: compiled
        return None
    try:
        ruleset = pickle.loads(data)  # noqa: S301 - the user's own file in the user's own folder (see above)
    except Exception as exc:  # noqa: BLE001 - a damaged entry raises whatever its bytes make of it: compiled again
        log.debug("the compiled rules in %s do not load (%s): compiled again", path, exc)
        return None
    if not isinstance(ruleset, Ruleset):
        return None
    try:
        os.utime(path)  # used: the last to be removed
    except OSError:
        pass
    log.debug("compiled rules loaded from %s", path)
    return ruleset


def _store(path: Path, ruleset: Ruleset) -> None:
    """Keep ``ruleset`` at ``path`` for the next process, written whole or not at all, and drop the oldest entries."""
    folder = path.parent
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(folder):
            return
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{_PREFIX}", suffix=_SUFFIX, delete=False) as file:
            try:
                pickle.dump(ruleset, file, protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException:
                Path(file.name).unlink(missing_ok=True)
                raise
        os.replace(file.name, path)
        log.debug("rules compiled and kept in %s", path)
        entries = sorted(folder.glob(f"{_PREFIX}*{_SUFFIX}"), key=lambda entry: entry.stat().st_mtime, reverse=True)
        for entry in entries[KEPT:]:
            entry.unlink(missing_ok=True)
    except OSError as exc:  # a read-only home, a full disk: the next process compiles them too
        log.debug("compiled rules are not cached in %s: %s", folder, exc)
