"""The package's layers, as import contracts (pyproject.toml, [tool.importlinter]).

The pure core (rules, dedup, extraction, alert rendering) must not reach fetching, storage
or the daemon, and only the storage package imports sqlite3: a change that breaks either
fails here, naming the import.
"""

from __future__ import annotations

import shutil
import sys
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _lint(config: Path) -> subprocess.CompletedProcess[str]:
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    return subprocess.run([command, "--config", str(config), "--no-cache"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_the_layers_hold() -> None:
    result = _lint(ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def test_a_broken_layer_is_named(tmp_path: Path) -> None:
    """The same contracts, with a forbidden import the core really has, must fail: the check is live."""
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    config = config.replace('"sqlite3", "sqlite_utils",', '"sqlite3", "sqlite_utils", "monitor.models",', 1)
    broken = tmp_path / "pyproject.toml"
    broken.write_text(config, encoding="utf-8")
    result = _lint(broken)
    assert result.returncode != 0 and "monitor.models" in result.stdout
