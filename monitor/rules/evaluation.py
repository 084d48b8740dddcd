"""Precision and recall of rules over hand-labelled passages (pure): ``monitor rules eval``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from monitor.models import LabelledPassage
from monitor.rules import Ruleset


@dataclass(frozen=True)
class Miss:
    """A wrong judgement, with what a rule's author needs to mend it: for a false positive the passages matched and
    the clauses that fired, for a missed passage the vetoes that stopped a match (if one nearly held), or else the
    rule's lists the passage holds words of (no clause held with them)."""

    kind: str  # "false positive" or "missed"
    passage: LabelledPassage
    matched: tuple[str, ...] = ()
    clauses: tuple[str, ...] = ()
    vetoes: tuple[tuple[str, str], ...] = ()  # (clause, text that vetoed)
    lists: tuple[tuple[str, str], ...] = ()  # (list, the first words of the passage it holds)


@dataclass
class RuleScore:
    """One rule's judgements over a labelled set, with every wrong one."""

    true_pos: int = 0
    false_pos: int = 0
    false_neg: int = 0
    true_neg: int = 0
    misses: list[Miss] = field(default_factory=list)

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
                score.misses.append(_miss(ruleset, name, passage, matched.get(name, ())))
    return scores


def _miss(ruleset: Ruleset, rule: str, passage: LabelledPassage, matched: tuple[str, ...]) -> Miss:
    """The wrong judgement explained (only misses are: explaining is slower than matching)."""
    explained = [e for e in ruleset.explain(passage.text, title=passage.title) if e.rule == rule]
    if matched:
        clauses = (clause for e in explained if e.matched for clause in e.clauses)
        return Miss("false positive", passage, matched, clauses=tuple(dict.fromkeys(clauses)))
    vetoes = tuple(dict.fromkeys(veto for e in explained for veto in e.vetoes))
    if vetoes:
        return Miss("missed", passage, vetoes=vetoes)
    return Miss("missed", passage, lists=ruleset.lists_found(rule, passage.text, title=passage.title))


def label_key(rule: str) -> str:
    """The field of a labelled record that holds a rule's label: its name, spaces as underscores."""
    return "_".join(rule.split())
