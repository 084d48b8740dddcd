"""Articles per second for the shipped rules, on one core, over the extraction corpus's texts.

    python -m benchmarks.rules [--corpus PATH] [--config PATH] [--rounds N] [--target N]

The pages are decoded and extracted first (not timed), each text shaped as the pipeline shapes
it (title, blank line, text). Then :meth:`Ruleset.match` runs over every text, ``--rounds``
times, with the process pinned to one CPU; the best round is reported, since slower rounds
measure the machine's other load rather than the rules. Both wall-clock and CPU time are
shown: on a shared machine the CPU time (time this process actually ran) is the rules' own
speed, and the target (exit status non-zero below ``--target``) is checked against it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from monitor.config import load_config
from monitor.rules import Ruleset, compile_rules

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "extraction-dev"


def _text_of(html: str, url: str) -> str:
    """The article text as the pipeline matches it: the title, a blank line, the text."""
    try:
        from monitor.extract import extract
    except ImportError:  # the extractor is not there yet: the page's body text will do
        from selectolax.lexbor import LexborHTMLParser

        body = LexborHTMLParser(html).body
        return body.text(separator="\n\n") if body is not None else ""
    extracted = extract(html, url)
    return f"{extracted.title or ''}\n\n{extracted.text}"


def load_texts(corpus: Path) -> list[str]:
    """Every corpus page, decoded and extracted once."""
    entries = json.loads((corpus / "expectations.json").read_text(encoding="utf-8"))
    texts = []
    for entry in entries:
        with gzip.open(corpus / entry["file"]) as handle:
            html = handle.read().decode("utf-8", "replace")
        texts.append(_text_of(html, entry["url"]))
    return texts


def time_rounds(ruleset: Ruleset, texts: list[str], rounds: int) -> list[tuple[float, float]]:
    """(wall-clock, CPU) seconds taken by each round of matching every text once."""
    for text in texts[:20]:  # warm-up
        ruleset.match(text)
    seconds = []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        for text in texts:
            ruleset.match(text)
        seconds.append((time.perf_counter() - wall, time.process_time() - cpu))
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--config", type=Path, default=ROOT / "config.toml")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--target", type=float, default=2000.0, help="articles/s below which to fail")
    args = parser.parse_args(argv)

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    ruleset = compile_rules(load_config(args.config).rules)
    texts = load_texts(args.corpus)
    chars = sum(map(len, texts))
    seconds = time_rounds(ruleset, texts, args.rounds)
    wall = min(wall for wall, _ in seconds)
    cpu = min(cpu for _, cpu in seconds)
    rate = len(texts) / cpu
    matched = Counter(match.rule for text in texts for match in ruleset.match(text))

    print(f"rules: {', '.join(ruleset.names)}")
    print(f"texts: {len(texts)} articles, {chars / 1e6:.1f} M characters "
          f"(median {statistics.median(map(len, texts)):.0f} per article)")
    print(f"rounds (wall/CPU): {', '.join(f'{w * 1000:.0f}/{c * 1000:.0f} ms' for w, c in seconds)}")
    print(f"speed: {rate:,.0f} articles/s, {chars / cpu / 1e6:.1f} M characters/s (one core, CPU time, best round)")
    print(f"wall clock: {len(texts) / wall:,.0f} articles/s (load average {os.getloadavg()[0]:.1f})")
    print(f"passages matched: {dict(matched) or 'none'}", flush=True)
    if rate < args.target:
        print(f"below the target of {args.target:,.0f} articles/s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
