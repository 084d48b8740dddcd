"""Shared fixtures: the repository root, a subprocess runner for the real CLI."""

from __future__ import annotations

import gzip
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.store.connection import iso

# Shared servers, registered here for every test module: a programmable HTTP server on
# 127.0.0.1 (``local_web``) and a real aiosmtpd server (``smtp_server``).
from tests.httpserver import local_web_fixture  # noqa: F401
from tests.smtpserver import smtp_server  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CONFIG = ROOT / "config.toml"

RunCLI = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session", autouse=True)
def rules_cache_of_the_run(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Compiled rules kept for this run's processes alone (every test worker's, and the monitors they start), not in
    the user's cache folder. The run's folder, shared by its workers, is left like its other folders."""
    run_folder = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        run_folder = run_folder.parent  # past the worker's own folder (popen-gw0)
    os.environ["XDG_CACHE_HOME"] = str(run_folder / "cache")


def cli_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "NO_COLOR": "1"}


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCLI:
    """Run ``python -m monitor ARGS`` as a real subprocess in tmp_path."""

    def run(
        *args: str | bytes, timeout: float = 60, check: bool = True, prefix: tuple[str, ...] = ()
    ) -> subprocess.CompletedProcess[str]:
        """``prefix``: a command to run monitor under (see :func:`unprivileged`)."""
        result = subprocess.run(
            [*prefix, sys.executable, "-m", "monitor", *args],
            capture_output=True, text=True, cwd=tmp_path, env=cli_env(), timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"monitor {args} exited {result.returncode}:\n{result.stderr}")
        return result

    return run


def unprivileged() -> list[str]:
    """A command prefix under which file permissions hold, even for root (who bypasses them).

    As root, ``setpriv`` drops the capabilities that override permissions from the bounding
    set of the child; as another user nothing needs dropping.
    """
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: file permissions cannot be made to hold")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]


def _png() -> bytes:
    """A real 2x2 PNG image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixels = zlib.compress(b"\x00\xff\x00\x00\x00\x00\xff" * 2)
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


# Files that are no page, as people hand them to ``monitor extract`` or servers send them as text/html: an image,
# a page still gzipped, a program (the Python running the tests).
BINARY_FILES = {
    "photo.png": _png(),
    "page.html.gz": gzip.compress(b"<html><body><p>An envoy returns to Moscow.</p></body></html>" * 20),
    "python": Path(sys.executable).resolve().read_bytes()[:200_000],
}


def let_retries_fall_due(database: Path) -> None:
    """As if the wait before each passing failure's next attempt (``monitor.pipeline.retry_due``) were over: its last
    failure an hour ago, past the longest wait and within the month ``failed_urls`` keeps."""
    with closing(sqlite3.connect(database)) as conn, conn:
        conn.execute("UPDATE failed_urls SET last_failed = ?", [iso(datetime.now(UTC) - timedelta(hours=1))])
