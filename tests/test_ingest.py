"""The ingest decision: which article is stored as what, and which passages are new (pure)."""

from __future__ import annotations

import pytest

from monitor import dedup
from monitor.config import load_config
from monitor.dedup import passage_keys
from monitor.ingest import QUOTED_PER_RULE, novelty, plan, quoted
from monitor.models import IngestPlan, Known, Match, Mention
from monitor.rulecache import rules_of
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


def test_an_alert_quotes_the_first_new_passages_of_each_rule_however_many_seen_come_before() -> None:
    mentions = [Mention("ambassadors", f"seen {n}", (), new=False) for n in range(12)]
    mentions += [Mention("ambassadors", f"new {n}", (), new=True) for n in range(QUOTED_PER_RULE + 3)]
    mentions.insert(5, Mention("prisoner swap", "a swap", (), new=True))
    flags = quoted(mentions)
    assert [m.passage for m, quote in zip(mentions, flags, strict=True) if quote] == [
        "a swap", *(f"new {n}" for n in range(QUOTED_PER_RULE))]


def test_a_passage_said_twice_in_one_article_is_new_once() -> None:
    again = Match("ambassadors", RECALL.passage, ("ambassador",))
    other_rule = Match("prisoner swap", RECALL.passage, ())
    mentions = novelty([RECALL, again, other_rule], [KEYS[0]] * 3, [(), (), ()])
    assert [mention.new for mention in mentions] == [True, False, True]  # novelty is per rule


def test_one_articles_novelty_reads_a_bounded_number_of_earlier_passages() -> None:
    """A hostile page of twenty matches, each sharing lookup keys with a hundred earlier passages of its own making,
    had the writer read and split 2,000 passages for one article: half a second each, every later write (the heartbeat,
    an alert's delivery, the stop) waiting behind them. The article's matches now share one budget."""
    matches = [Match("ambassadors", f"Russia expelled the US ambassador again, report {n} of the series said.",
                     ("expelled",)) for n in range(20)]
    earlier = [tuple(f"Russia expelled the US ambassador in case {n}-{k}, an official said in Moscow." for k in range(100))
               for n in range(20)]
    dedup._parsed.cache_clear()
    mentions = novelty(matches, [passage_keys(match.passage) for match in matches], earlier)
    split = dedup._parsed.cache_info().misses
    assert all(mention.new for mention in mentions)  # none repeats what came before; the bound errs towards news
    assert split <= dedup.MAX_ARTICLE_PASSAGES + len(matches) < 100 * len(matches)


def test_an_earlier_passage_read_for_one_match_is_free_to_the_next() -> None:
    """The budget counts distinct passages: an article whose matches all share the same earlier passages (a story told
    again, paragraph by paragraph) judges every match against all of them."""
    told = [f"Russia expelled the U.S. ambassador on Friday, officials said in statement {k}." for k in range(40)]
    matches = [Match("ambassadors", told[k], ("expelled",)) for k in range(0, 40, 2)]
    mentions = novelty(matches, [passage_keys(match.passage) for match in matches], [tuple(told)] * len(matches))
    assert not any(mention.new for mention in mentions)


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
