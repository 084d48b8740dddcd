"""Mentions: the passages rules matched, and the lookup keys novelty is judged by."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from monitor.models import Mention
from monitor.store.connection import Connection, iso


class MentionRecords(Connection):
    """Mentions and their passage keys, in SQL."""

    def passages_with_keys(self, rule: str, keys: Sequence[str], per_key: int, limit: int = -1) -> list[str]:
        """Earlier passages of ``rule`` that share a fingerprint key with a new one: the newest ``per_key`` of each key,
        the newest ``limit`` of them all (-1: all).

        A key shared by many passages comes from a sentence said again and again, and the newest of them tell whether
        it was said before as well as all of them. Uncapped, a site repeating one sentence with two words changed in
        each of its paragraphs made every later article's novelty read (and split into sentences) every earlier one:
        1.4 s of the writer per article after 100 such articles, and growing. Each key is read down its index, newest
        first, so the lookup costs the same however often a key was seen. Novelty reads a bounded number, newest first:
        the rest, 1,500 characters each, were read for nothing (7 MB an article of a hostile page's twenty matches).
        """
        ids: set[int] = set()
        for key in keys:
            ids.update(row[0] for row in self.db.execute(
                "SELECT mention_id FROM passage_keys WHERE rule = ? AND key = ? ORDER BY mention_id DESC LIMIT ?",
                [rule, key, per_key],
            ))
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        return [row[0] for row in self.db.execute(  # newest first: novelty reads them up to a bound
            f"SELECT passage FROM mentions WHERE id IN ({marks}) GROUP BY passage ORDER BY max(id) DESC LIMIT ?",
            [*ids, limit])]

    def matched_passages(self, article_id: int) -> list[tuple[str, str]]:
        """The rule and passage of each mention of an article."""
        return [(rule, passage) for rule, passage in self.db.execute(
            "SELECT rule, passage FROM mentions WHERE article_id = ?", [article_id])]

    def insert_mention(self, article_id: int, mention: Mention, found: datetime, keys: Sequence[str]) -> int:
        cursor = self.db.execute(
            "INSERT INTO mentions (article_id, rule, passage, terms, new, found) VALUES (?, ?, ?, ?, ?, ?)",
            [article_id, mention.rule, mention.passage, json.dumps(list(mention.terms), ensure_ascii=False),
             int(mention.new), iso(found)],
        )
        mention_id = int(cursor.lastrowid or 0)
        self._insert_rows(
            "INSERT OR IGNORE INTO passage_keys (rule, key, mention_id)",
            [(mention.rule, key, mention_id) for key in keys],
        )
        return mention_id
