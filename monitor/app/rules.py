"""What ``rules test`` and ``rules eval`` do: the rules over the archive, one text or a labelled file."""

from __future__ import annotations

import codecs
import json
import logging
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor import dedup
from monitor.config import NotAFileError, Settings, read_file
from monitor.errors import ConfigError, MonitorError
from monitor.ingest import novelty
from monitor.models import Explanation, LabelledPassage, Match, RuleVerdict
from monitor.rulecache import rules_of
from monitor.rules import Ruleset, highlight_spans
from monitor.rules.evaluation import RuleScore, evaluate, label_key
from monitor.store import Archive

log = logging.getLogger(__name__)

__all__ = ["RuleVerdict", "evaluate_rules", "highlight_spans", "judge_rules"]


def judge_rules(
    settings: Settings, rule_name: str | None, *, since: datetime | None, text: str | None, title: str
) -> Iterator[list[RuleVerdict]]:
    """What the rules (or one) make of each of the archive's articles, or of one text: a list for each article read,
    as it is read (a large archive's first verdicts show at once, and a reader that stops early, ``| head``, stops
    the work; judged whole first, 100,000 articles took minutes and half a gigabyte before a line was shown).

    Novelty is judged as ingest judges it, against the passages shown before; nothing is written.
    """
    if not settings.rules:
        raise MonitorError("the configuration has no [[rules]]")
    chosen = [settings.rule(rule_name)] if rule_name else list(settings.rules)
    ruleset = rules_of(settings.model_copy(update={"rules": chosen}))
    if text is not None:
        verdicts = _judge_article(ruleset, 0, title, text, _Shown())
        judged_rules = {verdict.judgement.rule for verdict in verdicts}
        # A rule that neither matched nor was vetoed says what it had to work with.
        yield verdicts + [RuleVerdict(0, title, Explanation(name, text, False, (), (), (), (),
                                                            ruleset.lists_found(name, text, title)), None)
                          for name in ruleset.names if name not in judged_rules]
        return
    shown = _Shown()
    with Archive.read(settings.database) as archive:
        for article_id, article_title, body in archive.articles(since=since):
            yield _judge_article(ruleset, article_id, article_title, body, shown)


class _Shown:
    """The new passages shown so far, by rule and lookup key, handed to novelty as the archive hands its passages to
    ingest (:meth:`~monitor.store.Archive.passages_with_keys`): the newest few of each key, the newest of them all up to
    a bound. Handed all of them, each verdict read every passage before it: 68 s for 8,000 alike."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], list[str]] = {}
        self._order: dict[str, int] = {}  # when each was shown

    def add(self, rule: str, passage: str, keys: Sequence[str]) -> None:
        self._order[passage] = len(self._order)
        for key in keys:
            self._by_key.setdefault((rule, key), []).append(passage)

    def sharing(self, rule: str, keys: Sequence[str]) -> list[str]:
        newest = {p for key in keys for p in self._by_key.get((rule, key), ())[-dedup.EARLIER_PER_KEY:]}
        return sorted(newest, key=self._order.__getitem__, reverse=True)[: dedup.MAX_EARLIER_PASSAGES]


def _judge_article(ruleset: Ruleset, article_id: int, title: str, body: str, shown: _Shown) -> list[RuleVerdict]:
    """One article's verdicts; ``shown`` takes its new passages."""
    judgements = ruleset.explain(body, title)
    verdicts = [RuleVerdict(article_id, title, j, None) for j in judgements if not j.matched]
    matched = [judged for judged in judgements if judged.matched]
    keys = [dedup.passage_keys(judged.passage) for judged in matched]
    known = [shown.sharing(j.rule, k) for j, k in zip(matched, keys, strict=True)]
    mentions = novelty([Match(j.rule, j.passage, j.terms, ruleset.cues(j.passage), j.news) for j in matched], keys,
                       known)
    for judged, judged_keys, mention in zip(matched, keys, mentions, strict=True):
        if mention.new:  # as the archive keys only new passages
            shown.add(judged.rule, judged.passage, judged_keys)
        verdicts.append(RuleVerdict(article_id, title, judged, mention.new))
    return verdicts


_PASSAGE_FIELDS = frozenset({"id", "title", "text", "note"})  # a labelled record's fields besides its labels


def _meant(key: str, rule_of: dict[str, str]) -> str:
    """The label field a stray one meant, written as the rule's name is ("prisoner swap", "Prisoner-Swap")."""
    meant = label_key(key.replace("-", " ").lower())
    return f"; write it {meant!r}" if meant in rule_of else ""


def evaluate_rules(settings: Settings, labelled: Path) -> dict[str, RuleScore]:
    """Each rule's precision and recall over a labelled JSONL file.

    A bad line or label, or a file labelling no passage for any rule (whose scores would read 1.000), is a
    ConfigError naming the file; a field that names no rule (a typo, or a rule of another config) is warned of.
    """
    ruleset = rules_of(settings)
    rule_of = {label_key(name): name for name in ruleset.names}
    # Bytes: a line that is not UTF-8 is named; U+2028 ends no line. A byte-order mark (Notepad's, Excel's "CSV UTF-8")
    # was line 1's "Unexpected UTF-8 BOM", a character no editor shows.
    try:
        data = read_file(labelled)
    except NotAFileError as exc:
        raise ConfigError([f"{exc}: give the labelled file's path"], str(labelled)) from exc
    lines = data.removeprefix(codecs.BOM_UTF8).splitlines()
    passages = []
    strays: dict[str, int] = {}  # a field naming no rule, and its first line
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            record = _labelled_record(raw)
            labels = {rule_of[key]: _label(key, value) for key, value in record.items() if key in rule_of}
        except ValueError as exc:
            raise ConfigError([f"line {number}: {exc}"], str(labelled)) from exc
        passages.append(LabelledPassage(str(record.get("id", number)), record["text"], record.get("title") or "",
                                        labels, str(record.get("note", ""))))
        for key, value in record.items():
            if key not in rule_of and key not in _PASSAGE_FIELDS and _reads_as_label(value):
                strays.setdefault(key, number)
    named = ", ".join(f"{key!r} (line {number}{_meant(key, rule_of)})" for key, number in strays.items())
    if not any(passage.labels for passage in passages):
        raise ConfigError([f"no passage is labelled for any rule: label fields are {', '.join(map(repr, rule_of))}"
                           + (f"; these name no rule: {named}" if named else "")], str(labelled))
    if named:
        log.warning("%s: these fields name no rule and are left out: %s", labelled, named)
    return evaluate(ruleset, passages)


def _labelled_record(raw: bytes) -> dict[str, Any]:
    """One line of a labelled file as its JSON object; a ValueError says what is wrong with it."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text (byte {exc.start}: {exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"not a labelled passage (JSONDecodeError: {exc})") from exc
    except RecursionError as exc:
        raise ValueError("not a labelled passage: nested too deeply to read") from exc
    if not isinstance(record, dict) or not isinstance(record.get("text"), str) \
            or not isinstance(record.get("title") or "", str):
        raise ValueError('not a labelled passage: a JSON object with a "text" string, a "title" string (optional)'
                         " and a label for each rule")
    return record


def _reads_as_label(value: object) -> bool:
    """A field worth a warning when it names no rule: 0, 1, false or true, a label under a misspelt name. A passage's
    other facts (its ``url``, ``lang``, where its title came from) are text, and were warned of on every file."""
    return isinstance(value, bool) or (isinstance(value, int) and value in (0, 1))


def _label(key: str, value: object) -> bool:
    """A label is 0 or 1, or false or true: bool("0") and bool("no") were true."""
    if _reads_as_label(value):
        return bool(value)
    raise ValueError(f"label {key!r} is {json.dumps(value)}: give 0 or 1 (or false or true)")


