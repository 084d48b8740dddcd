"""Articles per second for the shipped rules, on one core, over the extraction corpus's texts.

    python -m benchmarks.rules [--corpus PATH] [--config PATH] [--rounds N] [--target N]

The pages are decoded and extracted first (not timed), each text shaped as the pipeline shapes
it (title, blank line, text). Then :meth:`Ruleset.match` runs over every text, ``--rounds``
times, with the process pinned to one CPU; the best round is reported, since slower rounds
measure the machine's other load rather than the rules. Both wall-clock and CPU time are
shown: on a shared machine the CPU time (time this process actually ran) is the rules' own
speed, and the target (exit status non-zero below ``--target``) is checked against it.

The first line of figures is the rules' start-up: compiling them (the CPU time of the process's first compile, as
``monitor once``, ``run`` and every rules command pay it) and loading the compiled rules a parsing worker is sent (a
pickle, loaded in a new process, CPU time).

Few corpus pages are about the beat, so most are dismissed by the rules' literal prefilter. The
last line of output times the articles the monitor is for: synthetic news articles of about 300
words, every sentence dense with the beat's words (Russia, U.S., ambassador, exchange, deal ...),
in which the prefilter passes and the patterns have to run. It is reported, not held to a target.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import pickle
import random
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from monitor.config import load_config
from monitor.rules import Ruleset, compile_rules

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "extraction-dev"


def _text_of(html: str, url: str) -> tuple[str, str]:
    """The article as the pipeline matches it: its title and its text."""
    try:
        from monitor.extract import extract
    except ImportError:  # the extractor is not there yet: the page's body text will do
        from selectolax.lexbor import LexborHTMLParser

        body = LexborHTMLParser(html).body
        return "", body.text(separator="\n\n") if body is not None else ""
    extracted = extract(html, url)
    return extracted.title or "", extracted.text


def load_texts(corpus: Path) -> list[tuple[str, str]]:
    """Every corpus page, decoded and extracted once."""
    entries = json.loads((corpus / "expectations.json").read_text(encoding="utf-8"))
    texts = []
    for entry in entries:
        with gzip.open(corpus / entry["file"]) as handle:
            html = handle.read().decode("utf-8", "replace")
        texts.append(_text_of(html, entry["url"]))
    return texts


# Sentences of the synthetic beat-heavy articles: ordinary news prose, dense with the beat's words
# (most sentences name Russia or the U.S., many a deal, trade, exchange or swap), with slots.
_TEMPLATES = [
    "{Side} and {side} agreed on {day} to resume talks on trade and energy after a {adjective} call.",
    "The {side} said it was ready to discuss a new deal on {topic} with {side}, officials told reporters.",
    "{Person} told reporters in {city} that relations between {side} and {side} had hit a new low.",
    "{Side}\u2019s foreign ministry summoned the U.S. ambassador on {day} over the {topic} dispute.",
    "The {adjective} exchange of views between {person} and {person} lasted nearly two hours.",
    "Analysts said the deal would cut trade between Russia and the United States by 12 percent.",
    "{Person} said the exchange of prisoners had been prepared for months by {side} and {side}.",
    "Russia\u2019s ambassador to the United States met officials at the State Department on {day}.",
    "Shares in Moscow rose 3.5 percent after reports that {side} might ease sanctions on {topic}.",
    "{Side} has expelled two diplomats from the Russian embassy in Washington, Mr. {name} said.",
    "The swap, which freed two Americans held in Russia, was brokered by {third} in {city}.",
    "U.S. and Russian negotiators met in {city} to discuss a possible trade of detained citizens.",
    "Exports of {topic} to {third} climbed after the U.S. Treasury eased some sanctions on Moscow.",
    "\u201cWe are open to a deal,\u201d {person} said, adding that {side} wanted \u201cconcrete steps\u201d first.",
    "The Kremlin said the American envoy had not yet presented his credentials in Moscow.",
    "Trading in the rouble was thin on {day} as investors awaited news of the {topic} talks.",
    "A spokesman for the U.S. embassy in Moscow declined to comment on staffing levels.",
    "{Person} praised the exchange and said more Americans could be released from Russian prisons.",
    "The White House said Washington would not trade sanctions relief for a ceasefire in Ukraine.",
    "On {day}, Moscow and Washington exchanged lists of {topic} projects they hoped to revive.",
]
_SLOTS = {
    "side": ["Russia", "the United States", "Moscow", "Washington", "the Kremlin", "the U.S.", "the White House"],
    "person": ["Putin", "Trump", "Lavrov", "Rubio", "Peskov", "Witkoff", "Dmitriev", "Ryabkov"],
    "city": ["Moscow", "Washington", "Istanbul", "Riyadh", "Geneva", "Abu Dhabi"],
    "third": ["Turkey", "Saudi Arabia", "the United Arab Emirates", "Belarus", "Qatar"],
    "topic": ["energy", "Arctic", "aviation", "fertiliser", "grain", "arms control", "banking"],
    "adjective": ["frank", "lengthy", "tense", "constructive", "brief"],
    "day": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Jan. 12"],
    "name": ["Smith", "Brown", "Jones"],
}


def beat_texts(count: int = 200, words: int = 300, seed: int = 1) -> list[tuple[str, str]]:
    """``count`` synthetic articles of about ``words`` words, every sentence about the beat.

    A title, then paragraphs of two to four sentences drawn from :data:`_TEMPLATES`: the
    prefilter passes every article, the patterns find many candidates in every paragraph,
    and some passages match (a real exchange of prisoners, a summoned ambassador).
    """
    rng = random.Random(seed)

    def sentence() -> str:
        def fill(slot: re.Match[str]) -> str:
            word = rng.choice(_SLOTS[slot.group(1).lower()])
            return word[0].upper() + word[1:] if slot.group(1)[0].isupper() else word

        return re.sub(r"\{(\w+)\}", fill, rng.choice(_TEMPLATES))

    texts = []
    for _ in range(count):
        paragraphs, total = [sentence().rstrip(".")], 0
        while total < words:
            paragraph = " ".join(sentence() for _ in range(rng.randint(2, 4)))
            paragraphs.append(paragraph)
            total += len(paragraph.split())
        texts.append(("", "\n\n".join(paragraphs)))
    return texts


def time_rounds(ruleset: Ruleset, texts: list[tuple[str, str]], rounds: int) -> list[tuple[float, float]]:
    """(wall-clock, CPU) seconds taken by each round of matching every (title, text) once."""
    for title, text in texts[:20]:  # warm-up
        ruleset.match(text, title)
    seconds = []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        for title, text in texts:
            ruleset.match(text, title)
        seconds.append((time.perf_counter() - wall, time.process_time() - cpu))
    return seconds


_LOAD = """
import pickle, sys, time
import monitor.rules
data = sys.stdin.buffer.read()
started = time.process_time()
pickle.loads(data)
print(time.process_time() - started)
"""


def _loading(ruleset: Ruleset) -> float:
    """CPU seconds a new process takes to load the rules as a parsing worker receives them."""
    data = pickle.dumps(ruleset, protocol=pickle.HIGHEST_PROTOCOL)
    done = subprocess.run([sys.executable, "-c", _LOAD], input=data, capture_output=True, check=True)
    return float(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--config", type=Path, default=ROOT / "config.toml")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--target", type=float, default=2000.0, help="articles/s below which to fail")
    args = parser.parse_args(argv)

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    settings = load_config(args.config)
    compiling = time.process_time()
    ruleset = compile_rules(settings.rules, settings.lists, settings.people)  # as with no compiled rules kept yet
    compiling = time.process_time() - compiling
    texts = load_texts(args.corpus)
    chars = sum(len(title) + len(text) for title, text in texts)
    seconds = time_rounds(ruleset, texts, args.rounds)
    wall = min(wall for wall, _ in seconds)
    cpu = min(cpu for _, cpu in seconds)
    rate = len(texts) / cpu
    matched = Counter(match.rule for title, text in texts for match in ruleset.match(text, title))

    print(f"rules: {', '.join(ruleset.names)}")
    print(f"start-up: compiling {compiling * 1000:.0f} ms CPU; a worker's loading of them {_loading(ruleset) * 1000:.0f}"
          " ms CPU")
    print(f"texts: {len(texts)} articles, {chars / 1e6:.1f} M characters "
          f"(median {statistics.median(len(text) for _, text in texts):.0f} per article)")
    print(f"rounds (wall/CPU): {', '.join(f'{w * 1000:.0f}/{c * 1000:.0f} ms' for w, c in seconds)}")
    print(f"speed: {rate:,.0f} articles/s, {chars / cpu / 1e6:.1f} M characters/s (one core, CPU time, best round)")
    print(f"wall clock: {len(texts) / wall:,.0f} articles/s (load average {os.getloadavg()[0]:.1f})")
    print(f"passages matched: {dict(matched) or 'none'}", flush=True)
    beat = beat_texts()
    beat_cpu = min(cpu for _, cpu in time_rounds(ruleset, beat, args.rounds))
    beat_matched = Counter(match.rule for title, text in beat for match in ruleset.match(text, title))
    print(f"beat-heavy synthetic articles ({len(beat)}, ~300 words): {beat_cpu / len(beat) * 1000:.2f} ms "
          f"CPU per article, {len(beat) / beat_cpu:,.0f} articles/s; passages matched: {dict(beat_matched)}",
          flush=True)
    if rate < args.target:
        print(f"below the target of {args.target:,.0f} articles/s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
