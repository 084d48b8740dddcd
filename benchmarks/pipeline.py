"""The whole pipeline's speed and memory over a simulated news web, beside trafilatura.

    python benchmarks/pipeline.py [--outlets 20] [--articles 100] [--processes N] [--rounds 5] [--soak 50]
                                  [--no-peer] [--profile]

What it measures, each phase in a process of its own so that one phase's memory
is not another's, and with the web served by a separate process (tests/newsweb.py)
so that the server never competes with the measured pipeline for the GIL. The web
stands in for remote sites, so it renders every article page before any client runs;
its CPU still comes out of the same two cores here, and the table shows how much:

1. **Cold cycle**: every outlet's source checked once against an empty archive -
   discovery, robots.txt, fetching every article, extraction, dedup, rules, one
   transaction per article - with politeness delay 0, as ``monitor once --processes N``
   runs it (N: one per core by default; the clock runs from compiling the rules and
   forking the workers to the last worker's end). Articles stored per second of wall
   time, end to end, CPU of all the processes, and their peak RSS summed.
2. **Peer**: the same article URLs through trafilatura's own command line
   (its downloader and extractor, ``--parallel`` as wide as our concurrency,
   ``SLEEP_TIME = 0`` and ``SSRF_PROTECTION = off`` in its config file, so that it
   may fetch from 127.0.0.x without pauses), and the ratio. The peer is given the URL list; we discover it.
3. **Warm cycle**: the same sources again, nothing new, as the daemon's first cycle
   after the cold one (one process, a new fetcher, so robots.txt is asked again):
   requests by kind, as the web saw them - every source request should be
   conditional and answered 304, and no article fetched - and its time as a share
   of the cold cycle's.
4. **Soak**: ``monitor run`` as a real daemon (interval 1 s) for ``--soak``
   cycles while the web publishes a few new articles per cycle; RSS after cycle
   5 and after the last.

Phases 1-3 run ``--rounds`` times, ours and the peer's back to back, each round into a fresh
archive: this machine's speed drifts by half between minutes, so the ratio within a round is the
figure to trust, and the table shows the round with the median ratio (every round on its first
line).

Targets (issue 8): cold >= 150 articles/s and >= 5x the peer; warm < 5 % of cold
with zero article fetches; cold peak RSS < 200 MB; soak RSS within 10 %.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib.metadata
import importlib.util
import io
import os
import pstats
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.newsweb import NewsWebProcess, monitor_env  # noqa: E402 - needs ROOT on the path

T = TypeVar("T")
CONCURRENCY = 32  # requests in flight, for us and the peer: more gained nothing here, 16 cost us 10-20 %
MB = 1024 * 1024


@dataclass(frozen=True)
class Cold:
    """What the measured process reports about its cold cycle, its workers included."""

    seconds: float
    cpu: float  # seconds of CPU of all its processes: less sensitive than wall time to a busy machine
    stored: int
    peak_rss: int  # bytes: its own peak plus each worker's (an upper bound on their peak together)
    profile: str  # of this process's share


@dataclass(frozen=True)
class Warm:
    seconds: float
    stored: int


def in_child(function: Callable[..., T], *args: Any) -> T:
    """Run ``function(*args)`` in a fresh spawned process, so its peak RSS is its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def measure_cold(config: str, processes: int, profile: bool) -> Cold:
    """In the child: a cold cycle as ``monitor once --processes N`` runs it, forking its workers."""
    from monitor.config import load_config
    from monitor.parallel import ProcessCrawl
    from monitor.store import Archive

    settings = load_config(config)
    with Archive.create(settings.database):
        pass  # created before the clock starts, as ``monitor once`` does before it forks
    profiler = cProfile.Profile() if profile else None
    started, cpu = time.perf_counter(), _cpu_seconds()
    with ProcessCrawl(settings, list(settings.sources), processes) as crawl:
        if profiler:
            profiler.enable()
        reports = crawl.run()
        if profiler:
            profiler.disable()
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu  # the workers are joined: counted
    own, worker = (resource.getrusage(who).ru_maxrss * 1024 for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    text = ""
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
        text = out.getvalue()
    return Cold(seconds, cpu, sum(r.stored for r in reports), own + worker * (crawl.processes - 1), text)


def _cpu_seconds() -> float:
    """CPU of this process and of its children that have ended."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def measure_warm(config: str) -> Warm:
    """In the child: the daemon's first cycle after the cold one, with nothing new.

    A new process, so a new fetcher: robots.txt is asked for again.
    """
    from monitor.config import load_config
    from monitor.scheduler import open_pipeline
    from monitor.store import Archive

    settings = load_config(config)

    async def run() -> Warm:
        with Archive.create(settings.database) as archive:
            async with open_pipeline(settings, archive) as pipeline:
                started = time.perf_counter()
                reports = await pipeline.check_all()
                return Warm(time.perf_counter() - started, sum(r.stored for r in reports))

    return asyncio.run(run())


@dataclass(frozen=True)
class Peer:
    name: str
    seconds: float
    cpu: float  # its processes' CPU seconds
    extracted: int
    peak_rss: int

    @property
    def rate(self) -> float:
        return self.extracted / self.seconds


def run_trafilatura(urls: list[str], workdir: Path) -> Peer:
    """trafilatura's CLI over the URL list, as a user would run it; peak RSS polled with psutil."""
    import psutil

    spec = importlib.util.find_spec("trafilatura")
    assert spec is not None and spec.origin is not None, "pip install trafilatura lxml_html_clean"
    settings = Path(spec.origin).with_name("settings.cfg").read_text()
    config = workdir / "trafilatura.cfg"
    config.write_text(settings.replace("SLEEP_TIME = 5.0", "SLEEP_TIME = 0")
                      .replace("SSRF_PROTECTION = on", "SSRF_PROTECTION = off"))
    (workdir / "urls.txt").write_text("\n".join(urls) + "\n")
    output = workdir / "trafilatura-out"
    command = [str(Path(sys.executable).with_name("trafilatura")), "--input-file", str(workdir / "urls.txt"),
               "--parallel", str(CONCURRENCY), "--output-dir", str(output), "--config-file", str(config),
               "--with-metadata"]
    started, children = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    process = psutil.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, process.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    extracted = sum(1 for path in output.rglob("*") if path.is_file())
    return Peer(f"trafilatura {importlib.metadata.version('trafilatura')}", seconds, cpu, extracted, peak)


def soak(workdir: Path, web: NewsWebProcess, cycles: int) -> tuple[int, int, int]:
    """``monitor run`` for ``cycles`` cycles, a few new articles each; RSS after cycle 5 and the last, in bytes."""
    import psutil

    log = (workdir / "soak.log").open("wb")
    daemon = psutil.Popen([sys.executable, "-m", "monitor", "-q", "run"], cwd=workdir, env=monitor_env(),
                          stdout=log, stderr=log)
    rss: dict[int, int] = {}
    base = web.call("source_checks")
    seen = 0
    try:
        while seen < cycles:
            if daemon.poll() is not None:
                raise RuntimeError(f"the daemon exited: see {workdir / 'soak.log'}")
            done = web.call("source_checks") - base
            if done > seen:  # a cycle ended (every source asked once more): measure, then publish
                seen = done
                rss[seen] = daemon.memory_info().rss
                web.call("advance")
            time.sleep(0.05)
    finally:
        daemon.terminate()
        daemon.wait(timeout=20)
        log.close()
    with sqlite3.connect(workdir / "monitor.db") as conn:
        stored = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    return rss[min(5, cycles)], rss[cycles], stored


def requests_by_kind(counts: dict[str, int]) -> str:
    parts = [f"robots {counts.get('robots', 0)}",
             f"source {counts.get('source', 0)} (conditional {counts.get('source conditional', 0)}, "
             f"304 {counts.get('source 304', 0)}, 200 {counts.get('source 200', 0)})",
             f"article {counts.get('article', 0)}"]
    return ", ".join(parts)


def row(metric: str, value: str, target: str = "", ok: bool | str | None = None) -> str:
    verdict = ok if isinstance(ok, str) else "" if ok is None else ("yes" if ok else "NO")
    return f"| {metric:<34} | {value:<72} | {target:<11} | {verdict:<3} |"


@dataclass(frozen=True)
class Round:
    """One cold and warm cycle of ours, then the peer on the same URLs, back to back."""

    cold: Cold
    warm: Warm
    served: float  # the web server's CPU seconds during our cold cycle
    cold_counts: dict[str, int]
    warm_counts: dict[str, int]
    peer: Peer | None
    peer_served: float

    @property
    def rate(self) -> float:
        return self.cold.stored / self.cold.seconds

    @property
    def ratio(self) -> float:
        return self.rate / self.peer.rate if self.peer else 0.0


def measure_round(web: NewsWebProcess, config: Path, urls: list[str], processes: int, peer: bool,
                  profile: bool) -> Round:
    before, served = web.call("hit_count"), web.call("cpu_seconds")
    cold = in_child(measure_cold, str(config), processes, profile)
    split, served = web.call("hit_count"), web.call("cpu_seconds") - served
    warm = in_child(measure_warm, str(config))
    cold_counts: dict[str, int] = web.call("hit_counts", before, split)
    warm_counts: dict[str, int] = web.call("hit_counts", split)
    peer_served = web.call("cpu_seconds")
    peer_run = run_trafilatura(urls, config.parent) if peer else None
    return Round(cold, warm, served, cold_counts, warm_counts, peer_run, web.call("cpu_seconds") - peer_served)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outlets", type=int, default=20, help="outlets (sources) in the web")
    parser.add_argument("--articles", type=int, default=100, help="articles per outlet in the cold cycle")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of our cycles and the peer, back to back")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="processes of the cold cycle, as in monitor once --processes (default: one per core)")
    parser.add_argument("--soak", type=int, default=50, help="daemon cycles in the soak (0: no soak)")
    parser.add_argument("--no-peer", action="store_true", help="skip trafilatura")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the cold cycle")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    workdir = Path(tempfile.mkdtemp(prefix="monitor-bench-"))
    rounds: list[Round] = []
    with NewsWebProcess(outlets=args.outlets, articles=args.articles, fresh=3, alerting_every=10,
                        scripted=False, faults=False) as web:
        text = web.call("config_toml", None).replace("max_bytes = 1000000", f"concurrency = {CONCURRENCY}")
        urls: list[str] = web.call("article_urls")
        print(f"web: {args.outlets} outlets, {len(urls)} article pages, served by a separate process", flush=True)
        web.call("prerender")  # every client then finds the same warm server
        for number in range(1, args.rounds + 1):
            config = workdir / f"round-{number}" / "config.toml"  # a fresh archive each round
            config.parent.mkdir()
            config.write_text(text.replace("timeout = 2.0", "timeout = 20"))
            done = measure_round(web, config, urls, args.processes, not args.no_peer, args.profile)
            rounds.append(done)
            peer_rate = f", peer {done.peer.rate:.0f}/s" if done.peer else ""
            print(f"round {number}: {done.cold.stored} stored in {done.cold.seconds:.1f} s = {done.rate:.0f}/s"
                  f"{peer_rate}; warm: {done.warm.seconds:.2f} s", flush=True)
        soaked = None
        if args.soak:
            print(f"soak: {args.soak} daemon cycles ...", flush=True)
            soaked = soak(config.parent, web, args.soak)  # on the last round's archive

    # The table shows the median round: by the ratio to the peer, or by our rate without one.
    ranked = sorted(rounds, key=lambda r: (r.ratio, r.rate))
    middle = ranked[len(ranked) // 2]
    print("\n" + "\n".join(report(middle, rounds, soaked, args, len(urls))))
    if middle.cold.profile:
        print("\ncold cycle, this process's share, cProfile (cumulative):\n" + middle.cold.profile)
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def report(middle: Round, rounds: list[Round], soaked: tuple[int, int, int] | None, args: argparse.Namespace,
           pages: int) -> list[str]:
    cold, warm, peer = middle.cold, middle.warm, middle.peer
    rate = middle.rate
    lines = [row("metric", "value", "target", "ok"), "|" + "-" * 36 + "|" + "-" * 74 + "|" + "-" * 13 + "|-----|"]
    if len(rounds) > 1:
        each = ", ".join(f"{r.rate:.0f}" + (f" vs {r.peer.rate:.0f} ({r.ratio:.1f}x)" if r.peer
                                            else "") for r in rounds)
        lines.append(row(f"rounds (ours vs peer per s): {len(rounds)}", each))
    lines.append(row("cold: articles stored / pages", f"{cold.stored} / {pages} in {cold.seconds:.2f} s"))
    per_article = 1000 / cold.stored
    lines.append(row("cold: articles per second",
                     f"{rate:.0f} ({args.processes} processes, CPU {cold.cpu * per_article:.1f} ms per article)",
                     ">= 150", rate >= 150))
    lines.append(row("cold: the web server's CPU", f"{middle.served * per_article:.1f} ms per article (same cores)"))
    lines.append(row("cold: peak RSS, processes summed", f"{cold.peak_rss / MB:.0f} MB", "< 200 MB",
                     cold.peak_rss < 200 * MB))
    lines.append(row("cold: requests by kind", requests_by_kind(middle.cold_counts)))
    if peer is not None:
        lines.append(row(f"peer: {peer.name}", f"{peer.extracted} extracted in {peer.seconds:.2f} s = "
                         f"{peer.rate:.0f}/s (CPU {peer.cpu / max(peer.extracted, 1) * 1000:.1f} ms per article)"))
        lines.append(row("peer: peak RSS", f"{peer.peak_rss / MB:.0f} MB"))
        lines.append(row("peer: the web server's CPU",
                         f"{middle.peer_served / max(peer.extracted, 1) * 1000:.1f} ms per article"))
        cpu_ratio = (peer.cpu / max(peer.extracted, 1)) / (cold.cpu / cold.stored)
        lines.append(row("cold vs peer: wall (CPU) ratio", f"{middle.ratio:.1f}x ({cpu_ratio:.1f}x)", ">= 5x",
                         middle.ratio >= 5))
    warm_counts = middle.warm_counts
    warm_share = warm.seconds / cold.seconds
    fetched = warm_counts.get("article", 0)
    lines.append(row("warm: requests by kind", requests_by_kind(warm_counts)))
    all_304 = warm_counts.get("source", 0) == warm_counts.get("source 304", -1) == warm_counts.get(
        "source conditional", -1) == args.outlets
    lines.append(row("warm: sources all conditional 304", f"{all_304}", "all", all_304))
    lines.append(row("warm: article fetches / stored", f"{fetched} / {warm.stored}", "0", fetched == 0))
    lines.append(row("warm: time", f"{warm.seconds * 1000:.0f} ms = {warm_share:.1%} of cold", "< 5 %",
                     warm_share < 0.05))
    if soaked is not None:
        early, late, stored = soaked
        growth = late / early - 1
        lines.append(row(f"soak: RSS after cycle 5 / {args.soak}",
                         f"{early / MB:.1f} MB / {late / MB:.1f} MB ({growth:+.1%}); {stored} articles in archive",
                         "within 10 %", abs(growth) <= 0.10))
    return lines


if __name__ == "__main__":
    sys.exit(main())
