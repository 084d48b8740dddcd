"""The ingest decision (pure): given a prepared article and what the archive already knows, what to store.

:func:`plan` says whether the article is a URL already stored, the same text under another
URL, a copy of a stored story or a new story, and which of its matched passages are new.
The pipeline looks up :class:`~monitor.models.Known` in the archive and applies the plan in
one transaction; ``monitor rules test`` judges novelty with the same :func:`novelty` against
the passages it has shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from monitor import dedup
from monitor.models import IngestPlan, Known, Match, Mention


# New passages an alert quotes per rule from one article, the first in its text. The others are stored as new mentions
# all the same (keyed, never news again): quoted whole, a timeline whose fifty paragraphs were all new made an alert of
# seventy-five thousand characters.
QUOTED_PER_RULE = 10


def plan(matches: Sequence[Match], passage_keys: Sequence[Sequence[str]], known: Known) -> IngestPlan:
    """What storing an article does, decided from what the archive knows about it."""
    if known.at_url is not None:
        return IngestPlan("known-url", alias_of=known.at_url)
    if known.same_text is not None:
        return IngestPlan("same-text", alias_of=known.same_text)
    mentions = novelty(matches, passage_keys, known.earlier_passages)
    return IngestPlan(
        "copy" if known.story else "new",
        story=known.story,
        mentions=mentions,
        quoted=quoted(mentions),
        text_key=known.text_key,
    )


def quoted(mentions: Sequence[Mention]) -> tuple[bool, ...]:
    """Whether the article's alert quotes each mention: the new ones, at most :data:`QUOTED_PER_RULE` per rule, the
    first in the text."""
    taken: dict[str, int] = {}
    flags = []
    for mention in mentions:
        quote = mention.new and taken.get(mention.rule, 0) < QUOTED_PER_RULE
        taken[mention.rule] = taken.get(mention.rule, 0) + quote
        flags.append(quote)
    return tuple(flags)


def reads_more(
    matches: Sequence[Match], passage_keys: Sequence[Sequence[str]], stored: Iterable[tuple[str, str]]
) -> bool:
    """Whether the rules matched a passage in an article that they did not match in the stored one with its text_hash.

    The exact-copy key folds what a retyped copy changes (case, compatibility forms, punctuation, paragraph breaks,
    the headline), and the rules read some of it: an acronym's case, a ``title:`` clause, a paragraph's bounds, and not
    a fullwidth "ａｍｂａｓｓａｄｏｒ". A hostile outlet's copy of a story, so altered and stored first, made the real
    page one more URL of a text that matched nothing: its passages were never judged, and no alert ever went. Passages
    are compared by their exact key (the first of their ``passage_keys``), so a retyped copy's passages still fold.
    """
    seen = {(rule, dedup.exact_passage_key(passage)) for rule, passage in stored}
    return any((match.rule, keys[0]) not in seen for match, keys in zip(matches, passage_keys, strict=True))


def novelty(
    matches: Sequence[Match], passage_keys: Sequence[Sequence[str]], earlier: Sequence[Sequence[str]]
) -> tuple[Mention, ...]:
    """Each match as a mention, new unless an earlier passage says the same (see :func:`dedup.seen_before`).

    ``earlier`` holds, per match, the passages alerted before this article that share one of its
    lookup keys; a match also counts as seen when an earlier new match of the same article said it.
    Only passages judged new count as said: a passage seen because it repeats one may differ from it by a fifth, and
    a chain of such passages, each seen against the one before, drifted from an old passage to a guess at the next
    day's news, none alerted, and the real report, when it came, was no news either.
    """
    mentions: list[Mention] = []
    said_here: dict[tuple[str, str], list[str]] = {}
    budget = dedup.NoveltyBudget()  # the article's matches together: linear in the article, whatever the archive holds
    for match, keys, known in zip(matches, passage_keys, earlier, strict=True):
        # Each passage once, however many keys it shares: a page of passages that share hundreds of keys
        # had every earlier one handed over hundreds of times (1.6 GB and 80 s of the writer for 14 KB).
        here = [passage for key in keys for passage in said_here.get((match.rule, key), ())]
        new = not dedup.seen_before(match.passage, dict.fromkeys([*known, *here]), (*match.terms, *match.cues),
                                    match.news, budget)
        if new:
            for key in keys:
                said_here.setdefault((match.rule, key), []).append(match.passage)
        mentions.append(Mention(match.rule, match.passage, match.terms, new=new))
    return tuple(mentions)
