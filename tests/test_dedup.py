"""Deduplication: exact copies, syndicated near-copies, stories and passage novelty.

The syndication set is made of the wire and newspaper stories in
``tests/data/syndication`` and the copies other outlets would publish of them
(:data:`VARIANTS`). Every pair of texts is labelled "same story" when both come
from one file. Two of the files are separate AP stories from the same summit on
the same day, one is another outlet's own report of the same prisoner swap, and
a short brief recycles a background paragraph that three others also carry:
none of those may merge.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor import dedup
from monitor.alerts.render import render_text
from monitor.config import load_config
from monitor.models import Article
from monitor.pipeline import ingest
from monitor.rulecache import rules_of
from monitor.rules import Ruleset
from monitor.store import Archive
from tests.scoring import Score

DATA = Path(__file__).parent / "data" / "syndication"
CONFIG = Path(__file__).parent.parent / "config.toml"
PRECISION_FLOOR = 0.98
RECALL_FLOOR = 0.95
NOW = datetime(2021, 6, 16, 18, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Story:
    """One article as its first outlet published it."""

    name: str
    title: str
    byline: str
    paragraphs: tuple[str, ...]  # the first one opens with the dateline

    @property
    def text(self) -> str:
        return "\n\n".join((self.byline, *self.paragraphs))


def _load(path: Path) -> Story:
    heading, byline, *paragraphs = [block for block in re.split(r"\n+", path.read_text(encoding="utf-8")) if block]
    return Story(path.stem, heading.removeprefix("# "), byline, tuple(paragraphs))


STORIES = tuple(_load(path) for path in sorted(DATA.glob("*.txt")))

# What other outlets add around a wire story.
LOCAL_PARAGRAPHS = (
    "The Russian Embassy in Washington did not respond to a request for comment from the Dispatch on Wednesday evening.",
    "Ohio's two senators said in a joint statement that they had been briefed by the State Department and would"
    " press for a full account of the talks.",
    "Several hundred Russian-speaking residents of the Bay Area follow the relationship closely, said Irina Volkova,"
    " who runs a cultural centre in San Francisco. \"Every expulsion means longer queues for visas,\" she said.",
)
# A regional paper's own opening line above the wire copy, one per story.
LOCAL_LEADS = {
    "ambassador-recalled": "Ohio exporters who sell machine tools to Russian factories said on Wednesday they feared"
    " that the recall of Moscow's envoy would be followed by new sanctions.",
    "ambassador-returns": "For the Russian families of Cleveland's Slavic Village, the return of Moscow's ambassador"
    " to Washington raised one hope above all others: that the visa queues might shorten.",
    "embassy-consular-cuts": "Students from Russia admitted to Ohio State University this autumn may not be able to"
    " take up their places, after the embassy that issues their visas said it would stop doing so.",
    "expulsion-brief": "Two more diplomats are being sent home, and the list of Americans who can still serve in"
    " Moscow keeps getting shorter.",
    "geneva-summit-ambassadors": "Diplomats at both embassies have spent months without a boss; after Wednesday's"
    " meeting by the lake, that is about to change.",
    "geneva-summit-arms-control": "Nuclear weapons were back on the agenda by the shores of Lake Geneva, where the"
    " two presidents met for less time than anyone had expected.",
    "new-ambassador-credentials": "A diplomat who once ran the embassy's day-to-day work now speaks for Washington in"
    " Moscow, after a ceremony in a gilded hall of the Kremlin.",
    "prisoner-swap-ankara": "Dan Mercer's former students at Lakewood High School gathered in the gym on Thursday"
    " to watch the live pictures from Turkey as their teacher walked across the tarmac.",
    "prisoner-swap-independent": "Lakewood woke up on Friday to the news that its history teacher was free, and that"
    " Washington had paid for his release with a Russian banker's freedom.",
}
TEMPLATE_TOP = ("Advertisement", "Share this article", "Listen to this story · 4 min")
TEMPLATE_BOTTOM = (
    "Sign up for our World Briefing newsletter, delivered every weekday morning.",
    "© 2021 Northern Dispatch Media Group. All rights reserved. This material may not be published, broadcast,"
    " rewritten or redistributed.",
)
RELATED = (
    "Related: Biden says he told Putin which targets are off limits",
    "READ MORE: What is New START and why does it matter?",
    "Related: Families of Americans jailed in Russia urge action",
)
CORRECTION = (
    "Correction: An earlier version of this story misstated the month in which Russia recalled its ambassador."
    " It was March, not February."
)

Variant = Callable[[Story, random.Random], str]


def _join(*blocks: str) -> str:
    return "\n\n".join(blocks)


def _dropped(story: Story, rng: random.Random) -> tuple[str, ...]:
    """Without one paragraph, neither the first nor the last."""
    gone = rng.randrange(1, len(story.paragraphs) - 1)
    return story.paragraphs[:gone] + story.paragraphs[gone + 1 :]


def _trimmed(story: Story, share: float) -> tuple[str, ...]:
    """The first paragraphs, up to ``share`` of the words (at least one paragraph)."""
    budget = share * sum(len(p.split()) for p in story.paragraphs)
    kept: list[str] = []
    for paragraph in story.paragraphs:
        if kept and sum(len(p.split()) for p in kept) + len(paragraph.split()) > budget:
            break
        kept.append(paragraph)
    return tuple(kept)


def _undated(paragraph: str) -> str:
    """The first paragraph without its dateline ("GENEVA (AP) — ")."""
    return re.sub(r"^[A-Z][A-Za-z ,.]+(?:\([A-Za-z ]+\))? ?[—-] ", "", paragraph)


def _copy_edited(text: str) -> str:
    """What a copy desk changes: house style for "U.S.", straight quotes, "on" before weekdays."""
    text = text.replace("U.S.", "US").replace("“", '"').replace("”", '"').replace("’", "'")
    return re.sub(r"said (Monday|Tuesday|Wednesday|Thursday|Friday)", r"said on \1", text)


def _quotes_swapped(story: Story, rng: random.Random) -> tuple[str, ...]:
    paragraphs = list(story.paragraphs)
    quoted = [i for i, p in enumerate(paragraphs) if i and ('"' in p or "“" in p)]
    first, second = rng.sample(quoted, 2) if len(quoted) > 1 else (1, 2)
    paragraphs[first], paragraphs[second] = paragraphs[second], paragraphs[first]
    return tuple(paragraphs)


VARIANTS: dict[str, Variant] = {
    "original": lambda s, r: s.text,
    "retyped": lambda s, r: s.text.replace(" ", "\u00a0", 3).replace("ambassador", "am\u00adbassador").upper(),
    "other template and headline": lambda s, r: _join(
        *TEMPLATE_TOP, f"Analysis: {s.title.lower()}", s.byline, *s.paragraphs, *TEMPLATE_BOTTOM
    ),
    "paragraph dropped": lambda s, r: _join(s.byline, *_dropped(s, r)),
    "paragraph added": lambda s, r: _join(s.byline, *s.paragraphs[:3], r.choice(LOCAL_PARAGRAPHS), *s.paragraphs[3:]),
    "local lead added": lambda s, r: _join(LOCAL_LEADS[s.name], s.text),
    "correction appended": lambda s, r: _join(s.text, CORRECTION),
    "dateline and byline changed": lambda s, r: _join(
        "From wire reports", _undated(s.paragraphs[0]), *s.paragraphs[1:]
    ),
    "related blocks": lambda s, r: _join(
        s.byline, *s.paragraphs[:2], RELATED[0], *s.paragraphs[2:4], RELATED[1], RELATED[2], *s.paragraphs[4:]
    ),
    "quotes re-ordered": lambda s, r: _join(s.byline, *_quotes_swapped(s, r)),
    "trimmed to 40%": lambda s, r: _join(s.byline, *_trimmed(s, 0.4)),
    "trimmed to 40%, local paragraph, template": lambda s, r: _join(
        TEMPLATE_TOP[0], *_trimmed(s, 0.4), r.choice(LOCAL_PARAGRAPHS), *TEMPLATE_BOTTOM
    ),
    "copy-edited, cut and re-dated": lambda s, r: _copy_edited(
        _join(_undated(s.paragraphs[0]), *_trimmed(replace(s, paragraphs=s.paragraphs[1:]), 0.7), CORRECTION)
    ),
}


@dataclass(frozen=True)
class Copy:
    story: str
    variant: str
    text: str


@functools.cache
def _syndication_set() -> tuple[tuple[Copy, dedup.TextPrint], ...]:
    rng = random.Random(20210616)
    copies = [Copy(story.name, name, make(story, rng)) for story in STORIES for name, make in VARIANTS.items()]
    return tuple((copy, dedup.fingerprint(copy.text)) for copy in copies)


def _candidates(a: dedup.TextPrint, b: dedup.TextPrint) -> bool:
    return bool(set(a.band_keys) & set(b.band_keys))


def test_syndication_set_precision_and_recall() -> None:
    copies = [copy for copy, _ in _syndication_set()]
    prints = [text_print for _, text_print in _syndication_set()]
    score = Score()
    for (i, a), (j, b) in itertools.combinations(enumerate(copies), 2):
        judged = _candidates(prints[i], prints[j]) and dedup.closest(
            prints[i], [prints[j].signature], [prints[j].shingles]
        ) == 0
        score.add(expected=a.story == b.story, found=judged, found_word="merged",
                  label=f"{a.story}/{a.variant} ~ {b.story}/{b.variant}")
    precision, recall = score.precision, score.recall
    print(
        f"\nsyndication set: {len(STORIES)} stories x {len(VARIANTS)} variants = {len(copies)} texts,"
        f" {score.true_pos + score.false_neg} same-story pairs of {len(copies) * (len(copies) - 1) // 2};"
        f" precision {precision:.4f} (floor {PRECISION_FLOOR}), recall {recall:.4f} (floor {RECALL_FLOOR})"
    )
    print("\n".join(score.wrong[:20]))
    assert precision >= PRECISION_FLOOR
    assert recall >= RECALL_FLOOR


def test_two_stories_from_one_summit_never_merge() -> None:
    copies = [(c, p) for c, p in _syndication_set() if c.story.startswith("geneva-summit")]
    for (a, pa), (b, pb) in itertools.combinations(copies, 2):
        if a.story != b.story:
            assert dedup.closest(pa, [pb.signature], [pb.shingles]) is None, (a.variant, b.variant)


def test_trimmed_wire_copy_is_contained_though_jaccard_is_low() -> None:
    story = next(s for s in STORIES if s.name == "geneva-summit-arms-control")
    whole = dedup.fingerprint(story.text)
    trimmed = dedup.fingerprint(_join(story.byline, *_trimmed(story, 0.4)))
    [found] = dedup.resemblance(trimmed, [whole.signature], [whole.shingles])
    assert found.jaccard < 0.5
    assert found.containment > 0.85
    assert found.same_story and _candidates(whole, trimmed)


@pytest.mark.parametrize(
    "other",
    [
        "  the  U.S. ambassador’s return,\n\nsaid Antonov…",
        "The US ambassador's return, said Antonov...",
        "THE U.S. AMBASSADOR'S RETURN — SAID ANTONOV",
        "The U.S. am\u00adbassador\u200b’s re\u00adturn, said Antonov.",
        "The ＵＳ ambassador's return, said Antonov",  # full-width letters (NFKC)
    ],
)
def test_exact_hash_ignores_case_punctuation_spacing_and_encoding(other: str) -> None:
    assert dedup.text_hash(other) == dedup.text_hash("The U.S. ambassador's return, said Antonov.")
    assert dedup.fingerprint(other).text_hash == dedup.text_hash(other)


def test_exact_hash_tells_different_words_apart() -> None:
    assert dedup.text_hash("Russia freed two Americans.") != dedup.text_hash("Russia freed three Americans.")


def test_signature_of_an_earlier_layout_resembles_nothing() -> None:
    text_print = dedup.fingerprint(STORIES[0].text)
    found = dedup.resemblance(text_print, [b"\0" * 512, text_print.signature], [text_print.shingles] * 2)
    assert [r.same_story for r in found] == [False, True]


def test_empty_text_has_no_band_keys_and_resembles_nothing() -> None:
    empty = dedup.fingerprint(" \n\n ")
    full = dedup.fingerprint(STORIES[0].text)
    assert empty.band_keys == () and empty.shingles == 0
    assert dedup.closest(empty, [full.signature], [full.shingles]) is None
    assert dedup.closest(full, [], []) is None


def test_reordered_paragraphs_keep_every_shingle() -> None:
    story = STORIES[0]
    forward = dedup.fingerprint(story.text)
    backward = dedup.fingerprint(_join(*reversed(story.paragraphs), story.byline))
    whole_text = slice(0, dedup.PERMUTATIONS * 4)  # the lead, being first, did change
    assert forward.signature[whole_text] == backward.signature[whole_text]


def test_band_keys_are_vectorised_over_many_signatures() -> None:
    prints = [dedup.fingerprint(story.text) for story in STORIES[:3]]
    signatures = np.stack([np.frombuffer(p.signature, dtype="<u4") for p in prints])
    assert [tuple(row) for row in dedup.band_keys(signatures).tolist()] == [p.band_keys for p in prints]


# ------------------------------------------------------------------ passages

OLD_SWAP = (
    "In August 2024, Russia and the United States carried out the largest prisoner swap since the Cold War,"
    " freeing 24 people held in six countries in an exchange at Ankara airport."
)


@pytest.mark.parametrize(
    ("passage", "seen"),
    [
        (OLD_SWAP, True),
        (OLD_SWAP.upper().replace("UNITED STATES", "U.S."), True),
        # an edit that adds nothing: "carried out" -> "completed", a clause cut
        (
            "In August 2024, Russia and the United States completed the largest prisoner swap since the Cold War,"
            " freeing 24 people held in six countries.",
            True,
        ),
        # the old sentence, and a new one after it
        (OLD_SWAP + " On Friday the two countries exchanged a teacher for a banker in Abu Dhabi.", False),
        # a new number
        (OLD_SWAP.replace("24 people", "26 people"), False),
        (OLD_SWAP.replace("six countries", "seven countries"), False),
        # a new name in the same stock phrasing
        (OLD_SWAP.replace("Ankara", "Abu Dhabi"), False),
        # stitched from old phrases but telling new news
        ("Russia and the United States carried out a prisoner swap in Abu Dhabi, freeing Daniel Mercer.", False),
    ],
)
def test_passage_novelty(passage: str, seen: bool) -> None:
    assert dedup.seen_before(passage, [OLD_SWAP]) is seen


OLD_RECALL = "Russia recalled its ambassador to Washington for consultations, the Foreign Ministry said."


@pytest.mark.parametrize(
    ("passage", "earlier", "seen"),
    [
        # the wire's rewrite adds the day: no news (a follow-up alert for it was noise)
        (OLD_RECALL.replace("said.", "said on Thursday."), OLD_RECALL, True),
        ("Russland hat seinen Botschafter in Washington zu Konsultationen zurückgerufen, teilte das Außenministerium am"
         " Donnerstag mit.",
         "Russland hat seinen Botschafter in Washington zu Konsultationen zurückgerufen, teilte das Außenministerium mit.",
         True),
        # a day changed is news
        (OLD_RECALL.replace("said.", "said on Thursday."), OLD_RECALL.replace("said.", "said on Monday."), False),
        # and a new name beside the added day still is
        (OLD_RECALL.replace("said.", "said on Thursday, naming Darchiev."), OLD_RECALL, False),
    ],
)
def test_a_day_of_the_week_added_by_a_rewrite_is_no_news_a_day_changed_is(passage: str, earlier: str,
                                                                            seen: bool) -> None:
    assert dedup.seen_before(passage, [earlier]) is seen


def test_a_word_of_thousands_of_letters_is_judged_in_a_moment() -> None:
    """A sentence's words holding a digit are its facts: a word without one was scanned again from each of its
    letters, and a hostile page's 20,000-letter word cost seconds a sentence in the archive's writer."""
    passage = f"Russia expelled the US ambassador on Friday, officials said, {'x' * 20_000} in full."
    started = time.perf_counter()
    assert not dedup.seen_before(passage, [passage.replace("Friday", "Monday")])  # a day changed is news
    assert time.perf_counter() - started < 1.0  # milliseconds; seconds before


@given(st.lists(st.text(alphabet="ab1٣ .\n\t-", min_size=1, max_size=8), max_size=12))
def test_a_sentences_facts_are_its_words_holding_a_digit(tokens: list[str]) -> None:
    normal = " ".join(token.replace(" ", "") or "a" for token in tokens)
    expected = {word for word in normal.split(" ") if any(c.isdecimal() for c in word)}
    assert set(dedup._WITH_DIGIT.findall(normal)) == expected


def test_nothing_earlier_means_new() -> None:
    assert not dedup.seen_before(OLD_SWAP, [])


def test_a_sentence_said_in_many_earlier_passages_is_read_once_and_still_found() -> None:
    """Earlier passages are read until MAX_EARLIER_SENTENCES distinct sentences are held: copies add none."""
    filler = " ".join(f"Unrelated line {n} about the weather in the capital today." for n in range(30))
    assert dedup.seen_before(OLD_SWAP, [filler] * (dedup.MAX_EARLIER_PASSAGES - 1) + [OLD_SWAP])
    assert not dedup.seen_before(OLD_SWAP, [filler] * dedup.MAX_EARLIER_PASSAGES + [OLD_SWAP])  # past the bound


def test_an_earlier_passage_is_split_once_for_the_judgements_after_it() -> None:
    earlier = OLD_SWAP + " A sentence only this test says, about the weather in Ankara."
    new = OLD_SWAP.replace("Ankara airport", "Ankara's airport") + " This test's own closing line, about Ankara."
    before = dedup._parsed.cache_info()
    for _ in range(3):
        assert not dedup.seen_before(new, [earlier])
    after = dedup._parsed.cache_info()
    # Each of the two passages split once, the new one too: it is an earlier one to the judgements after it.
    assert (after.misses - before.misses, after.hits - before.hits) == (2, 4)
    fresh = "A line about the swap in Ankara that only this test says, once."
    assert not dedup.seen_before(fresh, [new]) and dedup._parsed.cache_info().misses == after.misses + 1


def test_novelty_reads_a_bounded_number_of_earlier_sentences_and_errs_towards_news() -> None:
    distinct = [f"Unrelated line {n} about the weather in the capital today." for n in range(dedup.MAX_EARLIER_SENTENCES)]
    assert not dedup.seen_before(OLD_SWAP, [" ".join(distinct), OLD_SWAP])
    assert dedup.seen_before(OLD_SWAP, [OLD_SWAP, " ".join(distinct)])


def test_a_passage_of_too_many_sentences_to_compare_is_news() -> None:
    sentences = [f"The envoy spoke to reporters for the {n}th time." for n in range(dedup.MAX_JUDGED_SENTENCES + 1)]
    many = " ".join(sentences)
    assert not dedup.seen_before(many, [many])
    assert dedup.seen_before(" ".join(sentences[1:]), [many])


def test_only_a_passage_s_first_sentences_get_lookup_keys() -> None:
    """Each sentence adds 16 keys that the writer looks up and stores: a passage of sixty short ones added 961."""
    lines = [f"Zed item {n} of the list." for n in range(60)]
    first = dedup.passage_keys(" ".join(lines[:12]))
    assert dedup.passage_keys(" ".join(lines))[1:] == first[1:]
    assert len(first) <= 1 + 12 * dedup.PASSAGE_BANDS
    assert dedup.passage_keys(" ".join(lines[:11]))[1:] != first[1:]  # the twelfth sentence is keyed


def test_near_copy_of_a_passage_shares_a_lookup_key() -> None:
    edited = OLD_SWAP.replace("carried out", "completed").replace("United States", "U.S.")
    assert set(dedup.passage_keys(edited)[1:]) & set(dedup.passage_keys(OLD_SWAP)[1:])
    assert dedup.passage_keys(OLD_SWAP.upper())[0] == dedup.passage_keys(OLD_SWAP)[0]


def test_sentences_do_not_end_at_abbreviations() -> None:
    assert dedup._sentences("Mr. Antonov met the U.S. envoy on Jan. 5. He left.\nNew paragraph") == [
        "Mr. Antonov met the US envoy on Jan. 5.",
        "He left.",
        "New paragraph",
    ]


# ------------------------------------------------------------------ through the archive


@pytest.fixture(scope="module")
def ruleset() -> Ruleset:
    return rules_of(load_config(CONFIG))


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    with Archive.create(tmp_path / "monitor.db") as opened:
        yield opened


def _article(url: str, title: str, text: str, minutes: int = 0) -> Article:
    site = url.split("/")[2]
    return Article(url=url, site=site, title=title, text=text, source=site, fetched=NOW + timedelta(minutes=minutes))


def test_one_wire_story_on_many_sites_is_one_story(archive: Archive, ruleset: Ruleset) -> None:
    rng = random.Random(7)
    wire = next(s for s in STORIES if s.name == "geneva-summit-ambassadors")
    twin = next(s for s in STORIES if s.name == "geneva-summit-arms-control")
    results = [
        ingest(archive, _article(f"https://site{n}.example/world/{n}", f"Headline {n}", make(wire, rng), n), ruleset, NOW)
        for n, make in enumerate(VARIANTS.values())
    ]
    other = ingest(archive, _article("https://apnews.example/geneva-arms", twin.title, twin.text, 99), ruleset, NOW)
    assert results[0].status == "new" and results[0].alert_id is not None
    assert results[1].status == "same-text"  # the retyped copy: one more URL of the first article
    assert {r.status for r in results[2:]} == {"copy"}
    assert {r.story_id for r in results if r.story_id} == {results[0].story_id}
    assert other.status == "new" and other.story_id != results[0].story_id
    story = archive.db.execute(
        "SELECT title, article_count, outlet_count FROM stories WHERE id = ?", [results[0].story_id]
    ).fetchone()
    assert story == ("Headline 0", len(VARIANTS) - 1, len(VARIANTS) - 1)
    assert archive.db.execute("SELECT count(*) FROM article_urls WHERE article_id = ?", [results[0].article_id]).fetchone()[0] == 2
    # copies repeat the wire's passages: no copy raises an alert of its own
    assert all(not m.new for r in results[1:] for m in r.mentions if m.passage in wire.text)


def test_candidates_are_the_newest_of_each_band(archive: Archive, ruleset: Ruleset) -> None:
    story = next(s for s in STORIES if s.name == "ambassador-recalled")
    texts = [VARIANTS[name](story, random.Random(1)) for name in ("original", "correction appended", "related blocks")]
    ids = [ingest(archive, _article(f"https://s{n}.example/a", story.title, t, n), ruleset, NOW).article_id for n, t in enumerate(texts)]
    keys = dedup.fingerprint(texts[-1]).band_keys  # every band holds the last article, the newest
    assert {c.article_id for c in archive.near_candidates(keys)} == set(ids)
    assert {c.article_id for c in archive.near_candidates(keys, per_band=1)} == {ids[-1]}
    assert archive.near_candidates(()) == []


def test_recycled_background_is_old_and_the_new_swap_is_new(archive: Archive, ruleset: Ruleset) -> None:
    old_text = _join(
        "WASHINGTON (AP) — The families of Americans held in Russia met State Department officials on Monday"
        " to press for their release, and left saying they had heard nothing new.",
        "Russia and the United States last exchanged prisoners in August 2024, when 24 people held in six"
        " countries were freed in the largest prisoner swap since the Cold War.",
        "The department said it was working every day to bring the detained Americans home.",
    )
    first = ingest(archive, _article("https://apnews.example/families", "Families press", old_text), ruleset, NOW)
    assert [m.new for m in first.mentions if m.rule == "prisoner swap"] == [True]
    new_sentence = (
        "On Friday, Moscow and Washington swapped prisoners again, freeing American teacher Daniel Mercer"
        " in exchange for Russian banker Oleg Vantsev at Abu Dhabi airport."
    )
    new_text = _join(
        "ABU DHABI (Reuters) - An American teacher jailed in Russia for two years landed in the United Arab"
        " Emirates on Friday on his way home.",
        new_sentence,
        # the background paragraph, recycled with a copy desk's edits
        "Russia and the U.S. last exchanged prisoners in August 2024, when 24 people held in six countries"
        " were freed in the largest prisoner swap since the end of the Cold War.",
        "His sister said the family would meet him at Joint Base Andrews on Saturday.",
    )
    second = ingest(archive, _article("https://reuters.example/mercer", "Teacher freed", new_text, 5), ruleset, NOW)
    swap = [m for m in second.mentions if m.rule == "prisoner swap"]
    assert second.status == "new"
    assert [(m.passage, m.new) for m in swap if m.new] == [(new_sentence, True)]
    assert len(swap) == 2
    assert second.alert_id is not None
    stored = archive.db.execute("SELECT passage FROM mentions WHERE new = 1 AND article_id = ?", [second.article_id])
    assert [row[0] for row in stored] == [new_sentence]


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalpha() else c for c in text)


SUMMONED = "Moscow summons US ambassador", "The ambassador was summoned to the foreign ministry on Friday over the strikes."
EXPELLED = "Roundup", "Moscow expelled the US ambassador on Friday, the foreign ministry said."


@pytest.mark.parametrize(
    ("real", "disguised"),
    [
        pytest.param(EXPELLED, (EXPELLED[0], _fullwidth(EXPELLED[1])), id="fullwidth letters"),
        pytest.param(EXPELLED, (EXPELLED[0], EXPELLED[1].replace("US", "us")), id="an acronym in lower case"),
        pytest.param(SUMMONED, ("Diplomatic roundup", SUMMONED[1]), id="another headline"),
    ],
)
def test_a_copy_the_rules_read_otherwise_does_not_swallow_the_real_page(
    archive: Archive, ruleset: Ruleset, real: tuple[str, str], disguised: tuple[str, str]
) -> None:
    """A hostile outlet's copy that hashes as the story's text but matches nothing, stored first, made the real page
    one more URL of it: no mention, no alert, and its source never read that URL again."""
    assert dedup.text_hash(real[1]) == dedup.text_hash(disguised[1])
    first = ingest(archive, _article("https://copier.example/a", *disguised), ruleset, NOW)
    assert first.mentions == ()
    second = ingest(archive, _article("https://outlet.example/a", *real, minutes=1), ruleset, NOW)
    assert second.status == "copy" and second.story_id == first.story_id
    assert [m.new for m in second.mentions] == [True] and second.alert_id is not None
    # The alert leads with the page that says what it quotes, not with the earlier copy that said nothing to the rules.
    content = archive.alert_content(second.alert_id)
    assert (content.headline, content.copies[0].url) == (real[0], "https://outlet.example/a")
    # The very same page from a third outlet is one more URL of the real page's article; a copy the rules read as
    # the stored one is one more URL too.
    again = ingest(archive, _article("https://third.example/a", *real, minutes=2), ruleset, NOW)
    assert (again.status, again.article_id) == ("same-text", second.article_id)
    retyped = ingest(archive, _article("https://fourth.example/a", disguised[0], disguised[1] + " ", 3), ruleset, NOW)
    assert (retyped.status, retyped.article_id) == ("same-text", first.article_id)


def test_an_outlet_whose_text_a_copier_stored_first_is_named_in_the_alert(archive: Archive, ruleset: Ruleset) -> None:
    """The very same text from a second outlet is one more URL of the copy stored first: the alert showed the copier's
    page alone, under its headline, and never the outlet it copied."""
    headline, text = EXPELLED
    first = ingest(archive, _article("https://copier.example/b", "Sign in to read the cable", text), ruleset, NOW)
    second = ingest(archive, _article("https://outlet.example/b", headline, text, minutes=1), ruleset, NOW)
    assert second.status == "same-text" and first.alert_id is not None
    copies = archive.alert_content(first.alert_id).copies
    assert [(c.url, c.outlet, c.folded) for c in copies] == [
        ("https://copier.example/b", "copier.example", False), ("https://outlet.example/b", "outlet.example", True)]
    assert "(the same text)\n    outlet.example, date unknown\n    https://outlet.example/b" in render_text(
        archive.alert_content(first.alert_id))


RECEPTION = ("The US ambassador to Russia, Lynne Tracy, attended a reception at the foreign ministry on Tuesday evening"
             " with diplomats from several countries and spoke about the cultural programme of the season, the embassy"
             " said in a statement.")
DRIFTED = RECEPTION.replace("and spoke about the cultural programme of the season,",
                            "and spoke about her plans to leave the country,")
GUESSED = DRIFTED.replace("attended a reception at the foreign ministry on Tuesday evening with diplomats from several"
                          " countries", "was told at the foreign ministry on Tuesday evening to go")


def test_a_passage_seen_before_is_no_yardstick_for_the_next(archive: Archive, ruleset: Ruleset) -> None:
    """Each passage within a fifth of the one before: a chain of pages, none alerted, walked from an old passage to a
    guess at the next day's news, and the real report was no news either. Only passages alerted as new count."""
    assert dedup.seen_before(DRIFTED, [RECEPTION]) and dedup.seen_before(GUESSED, [DRIFTED])
    assert not dedup.seen_before(GUESSED, [RECEPTION])
    first = ingest(archive, _article("https://outlet.example/1", "Reception", RECEPTION), ruleset, NOW)
    drifted = ingest(archive, _article("https://copier.example/1", "Calendar", DRIFTED, 1), ruleset, NOW)
    assert [m.new for m in first.mentions] == [True] and [m.new for m in drifted.mentions] == [False]
    real = ingest(archive, _article("https://wire.example/1", "Envoy told to go", GUESSED, 2), ruleset, NOW)
    assert [m.new for m in real.mentions] == [True] and real.alert_id is not None


@pytest.mark.parametrize(("earlier", "later"), [
    ("Russia summoned the US ambassador over the drone incident, the foreign ministry said.",
     "Russia expelled the US ambassador over the drone incident, the foreign ministry said."),
    ("Russia threatened to expel the US ambassador over the drone incident, the foreign ministry said.",
     "Russia expelled the US ambassador over the drone incident, the foreign ministry said."),
    ("Reports that Russia has recalled its ambassador to the United States, Anatoly Antonov, for consultations are"
     " false, the foreign ministry said.",
     "Russia has recalled its ambassador to the United States, Anatoly Antonov, for consultations, the foreign"
     " ministry said."),
    ("The US ambassador to Russia, Lynne Tracy, will not return to Moscow, the embassy said.",
     "The US ambassador to Russia, Lynne Tracy, will return to Moscow, the embassy said."),
], ids=["summoned, then expelled", "threatened, then expelled", "denied, then recalled", "not returning, then returning"])
def test_another_event_or_a_denial_lifted_is_news(archive: Archive, ruleset: Ruleset, earlier: str, later: str) -> None:
    """Novelty read names and numbers alone, and 80 % of a sentence's text: one verb, or a "not", was the whole
    difference, and the earlier report (or a hostile outlet's denial) made the event itself old news."""
    assert ingest(archive, _article("https://a.example/1", "Envoy", earlier), ruleset, NOW).alert_id is not None
    later_one = ingest(archive, _article("https://b.example/1", "Envoy", later, 1), ruleset, NOW)
    assert [m.new for m in later_one.mentions] == [True]
    # The same report again, from a third outlet, is no news.
    again = ingest(archive, _article("https://c.example/1", "Envoy", later + " ", 2), ruleset, NOW)
    assert again.status == "same-text" or [m.new for m in again.mentions] == [False]


@pytest.mark.parametrize(
    ("text", "count", "expected"),
    [("one two three", 3, True), ("one two three", 4, False), ("U.S. envoy", 2, True), ("U.S. envoy", 3, False),
     ("", 1, False), ("— … —", 1, False), ("посол США вернулся", 3, True)],
)
def test_has_words_counts_the_words_that_dedup_compares(text: str, count: int, expected: bool) -> None:
    assert dedup.has_words(text, count) is expected
    assert dedup.has_words(text, count) is (len(dedup.words(text)) >= count)


# ------------------------------------------------------------------ word hashes (stored: must never change)

MASK = 2**64 - 1


def _reference_word_hash(word: str) -> int:
    """The documented formula, one word at a time in plain Python: a polynomial hash, then splitmix64's finaliser."""
    value = sum((byte + 1) * 0x100000001B3**i for i, byte in enumerate(word.encode())) & MASK
    value ^= value >> 30
    value = (value * 0xBF58476D1CE4E5B9) & MASK
    value ^= value >> 27
    value = (value * 0x94D049BB133111EB) & MASK
    value ^= value >> 31
    return value | 1


@pytest.mark.parametrize("words", [
    ["ab", "cd"],
    ["Москва", "日本語テキスト", "de", "x" * 70, "ambassador"],
    [f"w{i}" for i in range(12_000)],  # longer than the tables of powers: the computed path
])  # fmt: skip
def test_word_hashes_follow_the_documented_formula(words: list[str]) -> None:
    hashes = dedup._word_hashes(" ".join(words)).tolist()
    assert hashes == [_reference_word_hash(word) for word in words]


def test_the_long_case_is_longer_than_the_tables_of_powers() -> None:
    assert len(" ".join(f"w{i}" for i in range(12_000)).encode()) > len(dedup._POWERS)


def test_word_hashes_of_nothing_is_empty() -> None:
    assert dedup._word_hashes("").tolist() == []


PINNED_TEXT = (
    "WASHINGTON (AP) — The U.S. and Russia swapped prisoners on Friday.\n\n"
    + " ".join(f"Paragraph two has word{i}" for i in range(8))
    + ".\r\nShort line.\nThe third paragraph says the exchange took place at Abu Dhabi airport after months of talks"
    " between the two governments, officials said."
)


@pytest.mark.parametrize(("text", "text_hash", "digest", "shingles", "word_count"), [
    (PINNED_TEXT, "8e57e4e7f9b8c2c77edc8df3133e7f09", "429db3a85b16b38cac60210ca6ac505e", 53, 66),
    ("Посол США вернулся в Москву.\n\nМинистерство иностранных дел России сообщило, что переговоры о новом обмене"
     " заключёнными продолжатся в следующем месяце в Абу-Даби.",
     "e2e983b8be4fe2ce87696ef684bbd9f7", "2f965b7fb6e37dfcd733d059ecf3d0ea", 15, 23),
    ("Ｆｕｌｌ-width text, a so\u00adft hyphen, e\u0301 and ﬁne ligatures in one paragraph without any line break at all.",
     "ddfece9d82d2d7bfc3aa4f76d4041199", "ad49e6358f2bf54fe2761e5ffad21851", 15, 19),
    (" \n\n ", "cae66941d9efbd404e4d88758ea67670", "cae66941d9efbd404e4d88758ea67670", 0, 0),
], ids=["paragraphs", "cyrillic", "one-paragraph", "empty"])  # fmt: skip
def test_stored_fingerprints_never_change(text: str, text_hash: str, digest: str, shingles: int, word_count: int) -> None:
    """Archives keep these values: a faster fingerprint must give the very same ones (digest of signature and band keys)."""
    text_print = dedup.fingerprint(text)
    keys = np.array(text_print.band_keys, dtype="<i8").tobytes()
    assert text_print.text_hash == text_hash
    assert hashlib.blake2b(text_print.signature + keys, digest_size=16).hexdigest() == digest
    assert (text_print.shingles, text_print.word_count) == (shingles, word_count)


_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


@given(st.lists(st.one_of(st.text(min_size=1, max_size=4), st.sampled_from([*_LINE_BREAKS, "\r\n", " ", ".", "_"])),
                max_size=40).map("".join))
def test_a_fingerprints_words_are_each_lines_words_as_re_finds_them(text: str) -> None:
    """The fingerprint finds words in an array of code points; they must be the ``\\w+`` words of each of
    ``str.splitlines``' lines, or stored prints would stop matching new ones."""
    _assert_words_of_each_line(text)


@pytest.mark.parametrize("line_break", [*_LINE_BREAKS, "\r\n"])
def test_a_fingerprints_words_are_cut_at_every_line_break_splitlines_knows(line_break: str) -> None:
    _assert_words_of_each_line(f"Über_1 café{line_break}Посол, ü.{line_break}{line_break}end")


def _assert_words_of_each_line(text: str) -> None:
    lines = [found for line in text.splitlines() if (found := re.findall(r"\w+", line))]
    joined, lengths = dedup._paragraph_words(text)
    assert joined == " ".join(word for line in lines for word in line)
    assert lengths == [len(line) for line in lines]
