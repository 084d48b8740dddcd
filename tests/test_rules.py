"""The rule engine's semantics, and the shipped rules measured on a labelled set.

``tests/data/rules_labelled.toml`` holds passages written for this project, each with
the shipped rules that must match it. Precision and recall of each shipped rule are
printed (``pytest -s``) and held to a floor, so a change to config.toml that makes a
rule noisier or blinder fails here first.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from monitor.config import RuleSettings, load_config
from monitor.errors import ConfigError
from monitor.models import Match
from monitor.rules import Ruleset, compile_rules, highlight_spans

ROOT = Path(__file__).resolve().parent.parent
LABELLED = Path(__file__).parent / "data" / "rules_labelled.toml"
FLOOR = 0.95


@pytest.fixture(scope="module")
def shipped() -> Ruleset:
    return compile_rules(load_config(ROOT / "config.toml").rules)


def _labelled() -> list[dict[str, Any]]:
    passages: list[dict[str, Any]] = tomllib.loads(LABELLED.read_text(encoding="utf-8"))["passage"]
    return passages


def _rules(*rules: dict[str, Any]) -> Ruleset:
    return compile_rules([RuleSettings(**{"name": f"r{i}", **rule}) for i, rule in enumerate(rules)])


def _passages(ruleset: Ruleset, text: str) -> list[str]:
    return [match.passage for match in ruleset.match(text)]


# ---------------------------------------------------------------- the shipped rules


def test_shipped_rules_are_the_beat(shipped: Ruleset) -> None:
    assert shipped.names == ("ambassadors", "prisoner swap")


def test_labelled_set_is_large_and_balanced(shipped: Ruleset) -> None:
    passages = _labelled()
    assert len(passages) >= 60
    for name in shipped.names:
        positives = sum(name in passage["rules"] for passage in passages)
        assert positives >= 15, name
        assert len(passages) - positives >= 30, name
    assert {rule for passage in passages for rule in passage["rules"]} <= set(shipped.names)


@pytest.mark.parametrize("rule", ["ambassadors", "prisoner swap"])
def test_precision_and_recall_of_shipped_rule(shipped: Ruleset, rule: str) -> None:
    true_pos = false_pos = false_neg = 0
    wrong: list[str] = []
    for passage in _labelled():
        found = any(match.rule == rule for match in shipped.match(passage["text"]))
        expected = rule in passage["rules"]
        true_pos += found and expected
        false_pos += found and not expected
        false_neg += expected and not found
        if found != expected:
            wrong.append(f"{'false positive' if found else 'missed'}: {passage['why']}")
    precision = true_pos / (true_pos + false_pos)
    recall = true_pos / (true_pos + false_neg)
    print(f"\n{rule}: precision {precision:.3f}, recall {recall:.3f} "
          f"({true_pos} TP, {false_pos} FP, {false_neg} FN)", *wrong, sep="\n  ")
    assert precision >= FLOOR, wrong
    assert recall >= FLOOR, wrong
