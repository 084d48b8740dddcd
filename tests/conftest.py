"""Shared fixtures: the repository root, a subprocess runner for the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# Shared servers, registered here for every test module: a programmable HTTP server on
# 127.0.0.1 (``local_web``) and a real aiosmtpd server (``smtp_server``).
from tests.httpserver import local_web_fixture  # noqa: F401
from tests.smtpserver import smtp_server  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CONFIG = ROOT / "config.toml"

RunCLI = Callable[..., subprocess.CompletedProcess[str]]


def cli_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "NO_COLOR": "1"}


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCLI:
    """Run ``python -m monitor ARGS`` as a real subprocess in tmp_path."""

    def run(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "monitor", *args],
            capture_output=True, text=True, cwd=tmp_path, env=cli_env(), timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"monitor {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
        return result

    return run
