"""Mentions: the passages rules matched, and the lookup keys novelty is judged by."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from monitor.models import Mention
from monitor.store.connection import Connection, iso


class MentionRecords(Connection):
    """Mentions and their passage keys, in SQL."""

    def passages_with_keys(self, rule: str, keys: Sequence[str]) -> list[str]:
        """Earlier passages of ``rule`` that share a fingerprint key with a new one."""
        if not keys:
            return []
        marks = ",".join("?" * len(keys))
        return [
            row[0]
            for row in self.db.execute(
                "SELECT DISTINCT mentions.passage FROM passage_keys JOIN mentions ON mentions.id = passage_keys.mention_id"
                f" WHERE passage_keys.rule = ? AND passage_keys.key IN ({marks})",
                [rule, *keys],
            )
        ]

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
