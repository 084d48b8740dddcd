"""Compiled rules kept on disk: the next process loads what the first compiled, and the cache never costs a command."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor import rulecache
from monitor.config import RuleSettings, Settings, load_config
from monitor.errors import ConfigError
from monitor.rules import Ruleset, compile_rules
from tests.conftest import ROOT, SHIPPED_CONFIG, cli_env

TEXT = "The Russian ambassador to the United States was recalled to Moscow for consultations."


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder, and a process that remembers no rules yet (as a new one)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(rulecache, "_last", None)
    return tmp_path / "xdg" / "monitor"


@pytest.fixture
def compilations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of rules each compilation in this process compiled."""
    made: list[int] = []

    def counted(rules: list[RuleSettings], *args: object, **kwargs: object) -> Ruleset:
        made.append(len(rules))
        return compile_rules(rules, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rulecache, "compile_rules", counted)
    return made


def _new_process() -> None:
    rulecache._last = None  # noqa: SLF001 - what a new process starts with


def _shipped() -> Settings:
    return load_config(SHIPPED_CONFIG)


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("rules-*.pickle"))


def test_the_next_process_loads_the_rules_the_first_compiled(cache: Path, compilations: list[int]) -> None:
    settings = _shipped()
    first = rulecache.rules_of(settings)
    assert len(compilations) == 1 and len(_entries(cache)) == 1
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    _new_process()
    loaded = rulecache.rules_of(settings)
    assert len(compilations) == 1, "loaded, not compiled again"
    assert loaded is not first and loaded.names == first.names
    assert loaded.match(TEXT, "Ambassador recalled") == first.match(TEXT, "Ambassador recalled") != []


def test_a_monitor_process_loads_the_rules_another_compiled(tmp_path: Path) -> None:
    env = {**cli_env(), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    script = (f"import logging, sys; logging.basicConfig(level=logging.DEBUG, stream=sys.stdout);"
              f"from monitor.config import load_config; from monitor.rulecache import rules_of;"
              f"print([m.rule for m in rules_of(load_config({str(SHIPPED_CONFIG)!r})).match({TEXT!r})])")
    outputs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT,
                              timeout=60, check=True).stdout for _ in range(2)]
    assert "compiled and kept" in outputs[0] and "loaded from" not in outputs[0]
    assert "loaded from" in outputs[1] and "compiled and kept" not in outputs[1]
    assert outputs[0].splitlines()[-1] == outputs[1].splitlines()[-1] != "[]"


def test_rules_changed_are_compiled_again_under_another_name(cache: Path, compilations: list[int]) -> None:
    settings = _shipped()
    rulecache.rules_of(settings)
    fewer = settings.model_copy(update={"rules": settings.rules[:1]})
    _new_process()
    assert rulecache.rules_of(fewer).names == (settings.rules[0].name,)
    assert compilations == [len(settings.rules), 1] and len(_entries(cache)) == 2
    _new_process()
    assert rulecache.rules_of(settings).names == tuple(rule.name for rule in settings.rules)
    assert len(compilations) == 2, "each kept under its own name"


def test_a_damaged_entry_is_compiled_again_and_replaced(cache: Path, compilations: list[int]) -> None:
    settings = _shipped()
    rulecache.rules_of(settings)
    (entry,) = _entries(cache)
    whole = entry.read_bytes()
    for damage in (whole[: len(whole) // 2], b"not a pickle", b""):
        entry.write_bytes(damage)
        _new_process()
        assert rulecache.rules_of(settings).match(TEXT) != []
        assert entry.read_bytes() != damage
    assert len(compilations) == 4
    _new_process()
    rulecache.rules_of(settings)
    assert len(compilations) == 4, "the replacement loads"


def test_a_folder_others_may_write_is_never_read(cache: Path, compilations: list[int]) -> None:
    settings = _shipped()
    rulecache.rules_of(settings)
    cache.chmod(0o777)
    _new_process()
    assert rulecache.rules_of(settings).match(TEXT) != []
    assert len(compilations) == 2, "compiled: another user could have put the pickle there"


def test_a_cache_that_cannot_be_written_costs_a_compilation_never_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compilations: list[int]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    _new_process()
    assert rulecache.rules_of(_shipped()).match(TEXT) != []
    assert compilations == [len(_shipped().rules)]
    assert blocker.read_text() == "not a folder"


def test_a_bad_rule_is_an_error_and_nothing_is_kept(cache: Path) -> None:
    settings = _shipped().model_copy(update={"rules": [RuleSettings(name="broken", query="(ambassador")]})
    with pytest.raises(ConfigError, match="broken"):
        rulecache.rules_of(settings)
    assert _entries(cache) == []


def test_the_oldest_entries_beyond_the_kept_number_are_removed(cache: Path) -> None:
    cache.mkdir(parents=True, mode=0o700)
    old = [cache / f"rules-{n:032x}.pickle" for n in range(rulecache.KEPT + 2)]
    for age, entry in enumerate(old):
        entry.write_bytes(b"an older compilation")
        stamp = time.time() - 3600 * (age + 1)
        os.utime(entry, (stamp, stamp))
    rulecache.rules_of(_shipped())
    kept = _entries(cache)
    assert len(kept) == rulecache.KEPT
    assert set(old[: rulecache.KEPT - 1]) < set(kept), "the newest old ones stay, beside the new entry"
