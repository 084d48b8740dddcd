"""The ingest decision: which article is stored as what, and which passages are new (pure)."""

from __future__ import annotations

import pytest

from monitor.config import load_config
from monitor.dedup import passage_keys
from monitor.ingest import novelty, plan
from monitor.models import IngestPlan, Known, Match
from monitor.rules import rules_of
from tests.conftest import ROOT

RECALL = Match("ambassadors", "Moscow recalled its ambassador from Washington on Monday.", ("ambassador",))
SWAP = Match("prisoner swap", "The two countries swapped prisoners in Abu Dhabi.", ("swapped",))
KEYS = [passage_keys(RECALL.passage), passage_keys(SWAP.passage)]


def test_a_stored_url_or_text_stores_nothing_new() -> None:
    assert plan([RECALL], KEYS[:1], Known(4, None, 0, ((),))) == IngestPlan("known-url", alias_of=4)
    assert plan([RECALL], KEYS[:1], Known(None, 7, 0, ((),))) == IngestPlan("same-text", alias_of=7)


def test_a_copy_joins_its_story_and_a_known_passage_is_not_new() -> None:
    decided = plan([RECALL, SWAP], KEYS, Known(None, None, 3, ((RECALL.passage,), ())))
    assert (decided.status, decided.story) == ("copy", 3)
    assert [mention.new for mention in decided.mentions] == [False, True]
    assert plan([SWAP], KEYS[1:], Known(None, None, 0, ((),))).status == "new"


def test_a_passage_said_twice_in_one_article_is_new_once() -> None:
    again = Match("ambassadors", RECALL.passage, ("ambassador",))
    other_rule = Match("prisoner swap", RECALL.passage, ())
    mentions = novelty([RECALL, again, other_rule], [KEYS[0]] * 3, [(), (), ()])
    assert [mention.new for mention in mentions] == [True, False, True]  # novelty is per rule


EXPULSION = "Russia expelled the U.S. ambassador, Lynne Tracy, on Friday and gave her 72 hours to leave the country."


@pytest.mark.parametrize(
    ("added", "new"),
    [
        ("Washington has not yet responded.", False),  # a side's name: context
        ("A spokesman for the State Department declined to comment.", False),
        ("Tracy left Moscow on Sunday.", True),  # the rule holds in it alone, under a headline naming the post
        ("Washington then recalled her for consultations.", True),  # an event the rule reads, though not alone
    ],
)
def test_a_sentence_added_to_an_alerted_passage_is_news_where_the_rule_reads_news_in_it(added: str, new: bool) -> None:
    ruleset = rules_of(load_config(ROOT / "config.toml"))
    [before] = ruleset.match(EXPULSION, "Russia expels US envoy")
    [after] = ruleset.match(f"{EXPULSION} {added}", "Russia expels US envoy")
    assert after.passage.endswith(added)  # the passage runs on to the line added
    [mention] = novelty([after], [passage_keys(after.passage)], [[before.passage]])
    assert mention.new is new
