"""Precision and recall of a binary judgement over a labelled set, shared by the quality tests."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Score:
    true_pos: int = 0
    false_pos: int = 0
    false_neg: int = 0
    wrong: list[str] = field(default_factory=list)

    def add(self, *, expected: bool, found: bool, label: str, found_word: str, missed_word: str = "missed") -> None:
        """Count one judgement; a wrong one is remembered as ``"<found_word|missed_word>: <label>"``."""
        self.true_pos += found and expected
        self.false_pos += found and not expected
        self.false_neg += expected and not found
        if found != expected:
            self.wrong.append(f"{found_word if found else missed_word}: {label}")

    @property
    def precision(self) -> float:
        return self.true_pos / (self.true_pos + self.false_pos)

    @property
    def recall(self) -> float:
        return self.true_pos / (self.true_pos + self.false_neg)
