"""How dedup's cost grows with the archive: one article against 10k, 100k and 1M stored ones.

    /work/venv/bin/python benchmarks/dedup.py [--sizes 10000,100000,1000000] [--queries 300] [--keep DIR]

The archive is grown in steps to each size with synthetic rows written in bulk
(``executemany`` straight into the archive's tables, bypassing the one-by-one
API that would take hours for a million rows). Synthetic articles come in
stories of 1 to 30 copies whose signatures share most values, so LSH buckets
hold real neighbours, not only random keys; their stored text is a short
placeholder, so the database size printed is the dedup tables' cost plus a
minimal article row, not the cost of storing 5 KB texts.

At each size a fresh process opens the archive, as the daemon would after a
restart, and ingests generated articles of about 600 words through
:func:`monitor.pipeline.ingest` with no rules (so only dedup and storage are
timed): half are new stories, half are trimmed copies of those that must join
their story. It reports the time per article, the candidates read back per
lookup and the process's resident memory. The targets: the time at the
largest size within 2x of the smallest, and memory that does not grow with
the archive (SQLite's page cache is bounded per connection).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor import dedup  # noqa: E402
from monitor.store import Archive  # noqa: E402

CHUNK = 50_000
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
VOCABULARY = 30_000
WORDS = [f"w{n:05d}" for n in range(VOCABULARY)]
WEIGHTS = [1 / (n + 10) for n in range(VOCABULARY)]  # Zipf-like, as word frequencies are


# ------------------------------------------------------------------ building the archive


def _synthetic_signatures(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Signatures of ``count`` articles in stories of 1-30 copies, and each article's story number (0-based, local)."""
    sizes = np.minimum(rng.geometric(0.25, count), 30)
    story = np.repeat(np.arange(len(sizes)), sizes)[:count]
    base = rng.integers(0, 1 << 32, (story[-1] + 1, dedup.SIGNATURE), dtype=np.uint32)
    own = rng.integers(0, 1 << 32, (count, dedup.SIGNATURE), dtype=np.uint32)
    # copies share about 60% of the whole text's values and 90% of the leads'
    share = np.where(np.arange(dedup.SIGNATURE) < dedup.PERMUTATIONS, 0.6, 0.9)
    first = np.r_[True, story[1:] != story[:-1]]
    keep = (rng.random((count, dedup.SIGNATURE)) < share) | first[:, None]
    return np.where(keep, base[story], own), story


def grow(archive: Archive, target: int, rng: np.random.Generator) -> float:
    """Add synthetic articles until the archive holds ``target``; return the seconds it took."""
    conn = archive.db.conn
    started = time.perf_counter()
    have = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    conn.execute("PRAGMA cache_size = -500000")  # 500 MB while loading only
    while have < target:
        count = min(CHUNK, target - have)
        signatures, local_story = _synthetic_signatures(rng, count)
        first_story = (conn.execute("SELECT coalesce(max(id), 0) FROM stories").fetchone()[0]) + 1
        ids = np.arange(have + 1, have + count + 1)
        stories = local_story + first_story
        fetched = [(EPOCH + timedelta(minutes=int(i))).isoformat(timespec="seconds").replace("+00:00", "Z") for i in ids]
        keys = dedup.band_keys(signatures)
        with conn:
            conn.executemany(
                "INSERT INTO stories (id, title, first_seen, article_count, outlet_count) VALUES (?, ?, ?, 1, 1)",
                [(int(s), f"Synthetic story {s}", fetched[n]) for n, s in enumerate(stories) if n == 0 or stories[n - 1] != s],
            )
            conn.executemany(
                "INSERT INTO articles (id, url, site, title, published, fetched, text, story_id, source, text_hash,"
                " word_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'synthetic', ?, 600)",
                [
                    (int(i), f"https://site{i % 97}.example/news/{i}", f"site{i % 97}.example", f"Article {i}",
                     fetched[n], fetched[n], f"Synthetic article {i} about story {stories[n]}.", int(stories[n]),
                     f"{i:032x}")
                    for n, i in enumerate(ids)
                ],
            )
            conn.executemany(
                "INSERT INTO article_signatures (article_id, shingles, signature) VALUES (?, 500, ?)",
                [(int(i), signatures[n].astype("<u4").tobytes()) for n, i in enumerate(ids)],
            )
            conn.executemany(
                "INSERT INTO article_urls (url, source, article_id) VALUES (?, 'synthetic', ?)",
                [(f"https://site{i % 97}.example/news/{i}", int(i)) for i in ids],
            )
            # in key order: a B-tree takes sorted keys far faster than random ones
            bands = np.column_stack((keys.ravel(), np.repeat(ids, keys.shape[1])))
            bands = bands[np.argsort(bands[:, 0], kind="stable")]
            conn.executemany("INSERT OR IGNORE INTO article_bands (band_key, article_id) VALUES (?, ?)", bands.tolist())
        have += count
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.perf_counter() - started


def database_figures(path: Path) -> dict[str, float]:
    """File size, and bytes per article of the dedup tables (from SQLite's dbstat)."""
    with Archive.create(path) as archive:
        articles = archive.db.execute("SELECT count(*) FROM articles").fetchone()[0]
        tables = dict(
            archive.db.execute(
                "SELECT name, sum(pgsize) FROM dbstat WHERE name IN ('article_signatures', 'article_bands') GROUP BY name"
            ).fetchall()
        )
    return {
        "articles": articles,
        "file_mb": path.stat().st_size / 1e6,
        "dedup_bytes_per_article": sum(tables.values()) / max(1, articles),
    }


# ------------------------------------------------------------------ measuring (in a fresh process)


def _text(rng: random.Random, words: list[str]) -> list[str]:
    """Twelve paragraphs of about 50 words from a skewed vocabulary, like news prose."""
    return [
        " ".join(rng.choices(words, weights=WEIGHTS, k=rng.randint(35, 65))).capitalize() + "."
        for _ in range(12)
    ]


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _stored_lookups(archive: Archive, rng: random.Random, count: int = 200) -> tuple[list[float], list[int]]:
    """Look up stored synthetic articles: their buckets hold their story's other copies, as a new copy's would."""
    total = archive.db.execute("SELECT max(article_id) FROM article_signatures").fetchone()[0]
    chosen = sorted(rng.sample(range(1, total + 1), count))
    rows = archive.db.execute(
        f"SELECT signature FROM article_signatures WHERE article_id IN ({','.join('?' * len(chosen))})", chosen
    ).fetchall()
    seconds: list[float] = []
    found: list[int] = []
    for (signature,) in rows:
        values = np.frombuffer(signature, dtype="<u4")
        text_print = dedup.TextPrint("", signature, 500, tuple(dedup.band_keys(values).tolist()), 600)
        started = time.perf_counter()
        candidates = archive.near_candidates(text_print.band_keys)
        dedup.closest(text_print, [c.signature for c in candidates], [c.shingles for c in candidates])
        seconds.append(time.perf_counter() - started)
        found.append(len(candidates))
    return seconds, found


def measure(path: Path, queries: int, seed: int) -> dict[str, float]:
    """Ingest ``queries`` articles (new stories, then trimmed copies of them) and time each."""
    from monitor.models import Article
    from monitor.pipeline import ingest
    from monitor.rules import compile_rules

    rng = random.Random(seed)
    ruleset = compile_rules([])
    originals = [_text(rng, WORDS) for _ in range(queries // 2)]
    copies = [p[: int(len(p) * 0.6)] + [f"Reaction number {n} from our city desk, added by the outlet."] for n, p in enumerate(originals)]
    texts = ["\n\n".join(p) for p in originals + copies]
    now = datetime.now(UTC)
    timings: list[float] = []
    candidates: list[int] = []
    statuses: dict[str, int] = {}
    with Archive.create(path) as archive:
        rss_open = _rss_kb("VmRSS")
        for n, text in enumerate(texts):
            article = Article(
                url=f"https://bench{seed}.example/{n}", site=f"bench{n % 7}.example", title=f"Benchmark {n}",
                text=text, source="bench", fetched=now,
            )
            started = time.perf_counter()
            result = ingest(archive, article, ruleset, now)
            timings.append(time.perf_counter() - started)
            statuses[result.status] = statuses.get(result.status, 0) + 1
            # the lookup alone, after the fact: how many stored texts it read back
            candidates.append(len(archive.near_candidates(dedup.fingerprint(text).band_keys)))
        neighbours, neighbour_candidates = _stored_lookups(archive, rng)
    steady = timings[10:]  # the first few warm the page cache and numpy
    return {
        "ingest_ms_median": statistics.median(steady) * 1e3,
        "ingest_ms_mean": statistics.fmean(steady) * 1e3,
        "ingest_ms_p95": sorted(steady)[int(len(steady) * 0.95)] * 1e3,
        "candidates_mean": statistics.fmean(candidates),
        "stored_lookup_ms_median": statistics.median(neighbours) * 1e3,
        "stored_candidates_mean": statistics.fmean(neighbour_candidates),
        "rss_open_mb": rss_open / 1024,
        "rss_end_mb": _rss_kb("VmRSS") / 1024,
        "rss_peak_mb": _rss_kb("VmHWM") / 1024,
        "new": statuses.get("new", 0),
        "copy": statuses.get("copy", 0),
    }


# ------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="archive sizes, ascending (default: %(default)s)")
    parser.add_argument("--queries", type=int, default=300, help="articles ingested at each size (default: %(default)s)")
    parser.add_argument("--keep", type=Path, help="build the archive in this directory and keep it")
    parser.add_argument("--measure", nargs=2, metavar=("DB", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure[0]), args.queries, int(args.measure[1]))))
        return
    sizes = sorted(int(s) for s in args.sizes.split(","))
    with tempfile.TemporaryDirectory(prefix="dedup-bench-") as scratch:
        directory = args.keep or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "bench.db"
        rng = np.random.default_rng(1)
        rows = []
        for seed, size in enumerate(sizes):
            with Archive.create(path) as archive:
                built = grow(archive, size, rng)
            size_figures = database_figures(path)
            child = subprocess.run(
                [sys.executable, __file__, "--queries", str(args.queries), "--measure", str(path), str(seed)],
                check=True, capture_output=True, text=True,
            )
            figures = {"size": size, "build_s": built, **size_figures, **json.loads(child.stdout)}
            rows.append(figures)
            print(
                f"{size:>9,} articles (built in {built:6.1f} s): ingest median {figures['ingest_ms_median']:.2f} ms"
                f" (mean {figures['ingest_ms_mean']:.2f}, p95 {figures['ingest_ms_p95']:.2f}),"
                f" {figures['candidates_mean']:.1f} candidates,"
                f" stored-copy lookup {figures['stored_lookup_ms_median']:.2f} ms"
                f" ({figures['stored_candidates_mean']:.1f} candidates),"
                f" RSS {figures['rss_end_mb']:.0f} MB (peak {figures['rss_peak_mb']:.0f}),"
                f" DB {figures['file_mb']:.0f} MB, dedup tables {figures['dedup_bytes_per_article']:.0f} B/article,"
                f" {figures['new']} new + {figures['copy']} copies",
                flush=True,
            )
    print()
    print(
        "| archive | ingest median (ms) | p95 (ms) | candidates"
        " | stored-copy lookup (ms) | its candidates | RSS end / peak (MB) | DB (MB) | dedup B/article |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['size']:,} | {r['ingest_ms_median']:.2f} | {r['ingest_ms_p95']:.2f} |"
            f" {r['candidates_mean']:.1f} | {r['stored_lookup_ms_median']:.2f} | {r['stored_candidates_mean']:.1f} |"
            f" {r['rss_end_mb']:.0f} / {r['rss_peak_mb']:.0f} | {r['file_mb']:.0f} |"
            f" {r['dedup_bytes_per_article']:.0f} |"
        )
    ratio = rows[-1]["ingest_ms_median"] / rows[0]["ingest_ms_median"]
    growth = rows[-1]["rss_peak_mb"] - rows[0]["rss_peak_mb"]
    print(f"\ningest time at {rows[-1]['size']:,} / at {rows[0]['size']:,}: {ratio:.2f}x (target within 2x)")
    print(f"peak RSS growth from {rows[0]['size']:,} to {rows[-1]['size']:,}: {growth:+.1f} MB")


if __name__ == "__main__":
    main()
