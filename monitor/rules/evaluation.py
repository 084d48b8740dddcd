"""Precision and recall of rules over hand-labelled passages (pure): ``monitor rules eval``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from monitor.models import LabelledPassage
from monitor.rules import Ruleset


@dataclass
class RuleScore:
    """One rule's judgements over a labelled set, with every wrong one."""

    true_pos: int = 0
    false_pos: int = 0
    false_neg: int = 0
    true_neg: int = 0
    misses: list[tuple[str, LabelledPassage, tuple[str, ...]]] = field(default_factory=list)  # kind, passage, what matched

    @property
    def precision(self) -> float:
        found = self.true_pos + self.false_pos
        return self.true_pos / found if found else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_pos + self.false_neg
        return self.true_pos / expected if expected else 1.0


def evaluate(ruleset: Ruleset, passages: Iterable[LabelledPassage]) -> dict[str, RuleScore]:
    """Each rule's score over the passages that carry a label for it, each given as a one-paragraph article."""
    scores = {name: RuleScore() for name in ruleset.names}
    for passage in passages:
        matched: dict[str, tuple[str, ...]] = {}
        for match in ruleset.match(passage.text, title=passage.title):
            matched[match.rule] = matched.get(match.rule, ()) + (match.passage,)
        for name, score in scores.items():
            expected = passage.labels.get(name)
            if expected is None:
                continue
            found = name in matched
            score.true_pos += found and expected
            score.false_pos += found and not expected
            score.false_neg += expected and not found
            score.true_neg += not found and not expected
            if found != expected:
                score.misses.append(("false positive" if found else "missed", passage, matched.get(name, ())))
    return scores


def label_key(rule: str) -> str:
    """The field of a labelled record that holds a rule's label: its name, spaces as underscores."""
    return "_".join(rule.split())
