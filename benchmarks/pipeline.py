"""The whole pipeline's speed and memory over a simulated news web, beside trafilatura.

    python benchmarks/pipeline.py [--outlets 20] [--articles 100] [--pages DIR] [--workers N] [--rounds 5]
                                  [--soak 50] [--no-peer] [--no-boundary] [--profile]

What it measures, each phase in a process of its own so that one phase's memory
is not another's, and with the web served by a separate process (tests/newsweb.py)
so that the server never competes with the measured pipeline for the GIL. The web
stands in for remote sites, so it renders every article page before any client runs;
its CPU still comes out of the same two cores here, and the table shows how much:

1. **Cold cycle**: every outlet's source checked once against an empty archive -
   discovery, robots.txt, fetching every article, extraction, dedup, rules, one
   transaction per article - with politeness delay 0, as plain ``monitor once`` runs it
   (its parsing workers: one per core unless ``--workers``; the clock runs from starting
   them to the last alert delivered). Articles stored per second of wall time, end to
   end, CPU of the whole process tree, and the tree's peak memory (PSS, sampled every 100 ms).
2. **Peer**: the same article URLs through trafilatura's own command line
   (its downloader and extractor, ``--parallel`` as wide as our concurrency,
   ``SLEEP_TIME = 0`` and ``SSRF_PROTECTION = off`` in its config file, so that it
   may fetch from 127.0.0.x without pauses), and the ratio. The peer is given the URL list; we discover it.
3. **Warm cycle**: the same sources again, nothing new, as the daemon's first cycle
   after the cold one (one process, a new fetcher, so robots.txt is asked again):
   requests by kind, as the web saw them - every source request should be
   conditional and answered 304, and no article fetched - and its time as a share
   of the cold cycle's.
4. **The boundary's cost** (unless ``--no-boundary``, in the first round): the cold cycle
   with one parsing worker against the same cycle parsed in the monitor's own process
   (``workers = 0``), and the round trip of one article page to a worker and back
   (200 pages, one after the other, against the same calls made in-process).
5. **Soak**: ``monitor run`` as a real daemon (interval 1 s) for ``--soak``
   cycles while the web publishes a few new articles per cycle; RSS after cycle
   5 and after the last.

Phases 1-3 run ``--rounds`` times, ours and the peer's back to back, each round into a fresh
archive: this machine's speed drifts by half between minutes, so the ratio within a round is the
figure to trust, and the table shows the round with the median ratio (every round on its first
line).

Targets: cold >= 150 articles/s and >= 5x the peer; warm < 5 % of cold with zero
article fetches; cold peak memory (PSS) of the process tree < 400 MB; soak RSS within 10 %.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
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
from datetime import UTC, datetime
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
    cpu: float  # seconds of CPU of the whole process tree: less sensitive than wall time to a busy machine
    cpu_own: float  # seconds of CPU of the monitor's own process (fetching, the loop, the writer), workers excluded
    stored: int
    peak_rss: int  # bytes: of the whole process tree (PSS), sampled
    peak_own: int  # bytes: of the monitor's own process (PSS), sampled
    peak_child: int  # bytes: of its largest child (a parsing worker or the fork server), sampled
    profile: str  # of the monitor's own process


@dataclass(frozen=True)
class Warm:
    seconds: float
    stored: int


def in_child(function: Callable[..., T], *args: Any) -> T:
    """Run ``function(*args)`` in a fresh spawned process, so its peak RSS is its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


_SAMPLE_EVERY = 0.1  # seconds between two samples of the process tree (see TreeSampler)


class TreeSampler:
    """Peak memory and CPU of a process and all its descendants (parsing workers, their fork server), every 100 ms.

    Memory is the sum of each process's PSS (its private pages, and its share of the pages it shares): the
    workers share their modules with the fork server they come from, which a sum of RSS would count thrice.
    The sampling runs in a process of its own: a thread in the measured process would take the event loop's
    GIL, and its CPU would be counted as the monitor's. A process of its own still takes its CPU from the same
    two cores: sampled every 20 ms (each sample scans /proc for the tree and walks each process's mappings for
    its PSS) it took a quarter of a core, which the peer, measured by ``getrusage``, never paid; the cold
    cycle's rate was 87-91/s against 94-106/s sampled every 100 ms, taking turns, on real pages.
    """

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self.peak_rss = self.peak_own = self.peak_child = 0
        self.cpu = 0.0  # CPU seconds the tree spent while sampled (a process's last 100 ms before it ended may be missed)
        self.cpu_own = 0.0  # of which the root process's

    def __enter__(self) -> TreeSampler:
        ours, theirs = get_context("spawn").Pipe()
        self._sampler = get_context("spawn").Process(target=_sample_tree, args=(self._pid, theirs), daemon=True)
        self._sampler.start()
        self._conn = ours
        assert ours.recv() == "ready"
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self.peak_rss, self.peak_own, self.peak_child, self.cpu, self.cpu_own = self._conn.recv()
        self._sampler.join()


def _sample_tree(pid: int, conn: Any) -> None:
    import psutil

    root, me = psutil.Process(pid), os.getpid()
    cpu: dict[int, float] = {}
    peaks = [0, 0, 0]  # the tree, the root, its largest child

    def sample() -> None:
        total = 0
        for process in [root, *root.children(recursive=True)]:
            if process.pid == me:
                continue
            try:
                times, pss = process.cpu_times(), _pss(process.pid)
            except (psutil.Error, OSError):
                continue
            cpu[process.pid] = times.user + times.system
            total += pss
            index = 1 if process.pid == pid else 2
            peaks[index] = max(peaks[index], pss)
        peaks[0] = max(peaks[0], total)

    sample()
    start, own = sum(cpu.values()), cpu[pid]
    conn.send("ready")
    while not conn.poll(_SAMPLE_EVERY):
        sample()
    sample()
    conn.send((*peaks, sum(cpu.values()) - start, cpu[pid] - own))


def _pss(pid: int) -> int:
    """A process's proportional set size in bytes, from the kernel's one-line summary of its mappings."""
    with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
        for line in rollup:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return 0


def measure_cold(config: str, workers: int | None, profile: bool) -> Cold:
    """In the child: a cold cycle as plain ``monitor once`` runs it, with ``workers`` parsing workers (None: the
    default)."""
    from monitor.app import check_once
    from monitor.config import LimitsSettings, load_config

    settings = load_config(config)
    if workers is not None:
        settings = settings.model_copy(update={"limits": LimitsSettings(workers=workers)})
    profiler = cProfile.Profile() if profile else None
    with TreeSampler(os.getpid()) as tree:
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        reports = check_once(settings, None, force=False).checks
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - started
    text = ""
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
        text = out.getvalue()
    return Cold(seconds, tree.cpu, tree.cpu_own, sum(r.stored for r in reports), tree.peak_rss, tree.peak_own, tree.peak_child,
                text)


def measure_round_trip(config: str, pages: int) -> tuple[float, float]:
    """In the child: ms per article page read in this process, and through one parsing worker, one page at a time."""
    from monitor.config import LimitsSettings, load_config
    from monitor.fetch.client import Fetcher
    from monitor.models import Link, Page
    from monitor.prepare import read_article
    from monitor.workers import Workers

    settings = load_config(config)
    source = settings.sources[0]

    async def run() -> tuple[float, float]:
        async with Fetcher(settings.fetch, [s.url for s in settings.sources]) as fetcher:
            links = [Link(url) for url in _article_urls(config)[:pages]]
            fetched = [await fetcher.fetch(link.url, kind="article") for link in links]
        timings = []
        for count in (0, 1):
            limited = settings.model_copy(update={"limits": LimitsSettings(workers=count)})
            async with Workers(limited) as workers:
                warm_up = fetched[0]
                assert isinstance(warm_up, Page)
                await workers.run("warm-up", read_article, warm_up, links[0], source, datetime.now(UTC))
                started = time.perf_counter()
                for page, link in zip(fetched, links, strict=True):
                    assert isinstance(page, Page)
                    await workers.run(page.url, read_article, page, link, source, datetime.now(UTC))
                timings.append((time.perf_counter() - started) * 1000 / len(fetched))
        return timings[0], timings[1]

    return asyncio.run(run())


def _article_urls(config: str) -> list[str]:
    return Path(config).with_name("urls.txt").read_text().split()


def measure_warm(config: str) -> Warm:
    """In the child: the daemon's first cycle after the cold one, with nothing new.

    A new process, so a new fetcher: robots.txt is asked for again.
    """
    from monitor.config import load_config
    from monitor.rulecache import rules_of
    from monitor.scheduler import open_pipeline
    from monitor.store.writer import ArchiveWriter
    from monitor.workers import Workers

    settings = load_config(config)
    rules_of(settings)  # compiled before the first cycle, as the daemon does as it starts (and sends its workers)

    async def run() -> Warm:
        async with (ArchiveWriter(settings.database) as writer, Workers(settings) as workers,
                    open_pipeline(settings, writer, workers) as pipeline):
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


def measure_round(web: NewsWebProcess, config: Path, urls: list[str], workers: int | None, peer: bool,
                  profile: bool) -> Round:
    before, served = web.call("hit_count"), web.call("cpu_seconds")
    cold = in_child(measure_cold, str(config), workers, profile)
    split, served = web.call("hit_count"), web.call("cpu_seconds") - served
    warm = in_child(measure_warm, str(config))
    cold_counts: dict[str, int] = web.call("hit_counts", before, split)
    warm_counts: dict[str, int] = web.call("hit_counts", split)
    peer_served = web.call("cpu_seconds")
    peer_run = run_trafilatura(urls, config.parent) if peer else None
    return Round(cold, warm, served, cold_counts, warm_counts, peer_run, web.call("cpu_seconds") - peer_served)


@dataclass(frozen=True)
class Boundary:
    """What parsing in workers costs: a cold cycle with one worker and in-process, and one page's round trip."""

    one_worker: Cold
    in_process: Cold
    inline_ms: float
    worker_ms: float

    def rows(self) -> list[str]:
        one, inline = (cold.stored / cold.seconds for cold in (self.one_worker, self.in_process))
        return [
            row("boundary: cold, 1 worker vs in-process", f"{one:.0f} vs {inline:.0f} articles/s ({one / inline:.2f}x)"),
            row("boundary: one page's round trip", f"{self.worker_ms - self.inline_ms:+.2f} ms per article "
                f"({self.worker_ms:.2f} ms through a worker, {self.inline_ms:.2f} ms in-process)"),
        ]


def measure_boundary(workdir: Path, config_text: str, urls: list[str]) -> Boundary:
    """Each cold cycle into a fresh archive of its own; the round trip over the in-process one's web."""
    colds = []
    for workers in (1, 0):
        config = workdir / f"boundary-{workers}" / "config.toml"
        config.parent.mkdir()
        config.write_text(config_text.replace("timeout = 2.0", "timeout = 20"))
        (config.parent / "urls.txt").write_text("\n".join(urls))
        colds.append(in_child(measure_cold, str(config), workers, False))
        print(f"boundary: cold cycle with {workers} workers: {colds[-1].stored / colds[-1].seconds:.0f}/s", flush=True)
    inline_ms, worker_ms = in_child(measure_round_trip, str(config), 200)
    return Boundary(colds[0], colds[1], inline_ms, worker_ms)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outlets", type=int, default=20, help="outlets (sources) in the web")
    parser.add_argument("--articles", type=int, default=None,
                        help="articles per outlet in the cold cycle (default: 100, or with --pages as many as "
                             "the folder holds, each page once)")
    parser.add_argument("--pages", type=Path, default=None,
                        help="a folder of real pages (*.html, *.html.gz) served as the articles instead of "
                             "generated ones, e.g. the extraction corpus's pages/")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of our cycles and the peer, back to back")
    parser.add_argument("--workers", type=int, default=None,
                        help="parsing workers of the cold cycle, as [limits] workers (default: one per core)")
    parser.add_argument("--no-boundary", action="store_true",
                        help="skip measuring the cost of parsing in workers")
    parser.add_argument("--soak", type=int, default=50, help="daemon cycles in the soak (0: no soak)")
    parser.add_argument("--no-peer", action="store_true", help="skip trafilatura")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the cold cycle")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    if args.pages is not None and not args.pages.is_dir():
        parser.error(f"--pages: {args.pages} is not a folder")
    if args.articles is None:
        held = sum(1 for path in args.pages.iterdir() if path.name.endswith((".html", ".html.gz"))) if args.pages else 0
        args.articles = max(1, held // args.outlets) if args.pages else 100

    # Our modules' bytecode, as installing the package writes it (trafilatura's was written as it was installed): an
    # editable install run with PYTHONDONTWRITEBYTECODE set compiles every module again in each process it starts,
    # which cost the workers' fork server a quarter of a second before the first page.
    compileall.compile_dir(ROOT / "monitor", quiet=1)
    workdir = Path(tempfile.mkdtemp(prefix="monitor-bench-"))
    rounds: list[Round] = []
    with NewsWebProcess(outlets=args.outlets, articles=args.articles, fresh=3, alerting_every=10,
                        scripted=False, faults=False, pages=str(args.pages or "")) as web:
        text = web.call("config_toml", None).replace("max_bytes = 1000000", f"concurrency = {CONCURRENCY}")
        urls: list[str] = web.call("article_urls")
        print(f"web: {args.outlets} outlets, {len(urls)} article pages, served by a separate process", flush=True)
        web.call("prerender")  # every client then finds the same warm server
        for number in range(1, args.rounds + 1):
            config = workdir / f"round-{number}" / "config.toml"  # a fresh archive each round
            config.parent.mkdir()
            config.write_text(text.replace("timeout = 2.0", "timeout = 20"))
            done = measure_round(web, config, urls, args.workers, not args.no_peer, args.profile)
            rounds.append(done)
            peer_rate = f", peer {done.peer.rate:.0f}/s" if done.peer else ""
            print(f"round {number}: {done.cold.stored} stored in {done.cold.seconds:.1f} s = {done.rate:.0f}/s"
                  f"{peer_rate}; warm: {done.warm.seconds:.2f} s", flush=True)
        boundary = None if args.no_boundary else measure_boundary(workdir, text, urls)
        soaked = None
        if args.soak:
            print(f"soak: {args.soak} daemon cycles ...", flush=True)
            soaked = soak(config.parent, web, args.soak)  # on the last round's archive

    # The table shows the median round: by the ratio to the peer, or by our rate without one.
    ranked = sorted(rounds, key=lambda r: (r.ratio, r.rate))
    middle = ranked[len(ranked) // 2]
    lines = report(middle, rounds, soaked, args, len(urls))
    if boundary is not None:
        lines += boundary.rows()
    print("\n" + "\n".join(lines))
    if middle.cold.profile:
        print("\ncold cycle, this process's share, cProfile (cumulative):\n" + middle.cold.profile)
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def report(middle: Round, rounds: list[Round], soaked: tuple[int, int, int] | None, args: argparse.Namespace,
           pages: int) -> list[str]:
    from monitor.config import LimitsSettings

    cold, warm, peer = middle.cold, middle.warm, middle.peer
    rate = middle.rate
    lines = [row("metric", "value", "target", "ok"), "|" + "-" * 36 + "|" + "-" * 74 + "|" + "-" * 13 + "|-----|"]
    if len(rounds) > 1:
        each = ", ".join(f"{r.rate:.0f}" + (f" vs {r.peer.rate:.0f} ({r.ratio:.1f}x)" if r.peer
                                            else "") for r in rounds)
        lines.append(row(f"rounds (ours vs peer per s): {len(rounds)}", each))
    lines.append(row("cold: articles stored / pages", f"{cold.stored} / {pages} in {cold.seconds:.2f} s"))
    per_article = 1000 / cold.stored
    workers = LimitsSettings(workers=args.workers).worker_count
    lines.append(row("cold: articles per second",
                     f"{rate:.0f} ({workers} parsing workers, CPU {cold.cpu * per_article:.1f} ms per article, "
                     f"{cold.cpu_own * per_article:.1f} of it the monitor's process)",
                     ">= 150", rate >= 150))
    lines.append(row("cold: the web server's CPU", f"{middle.served * per_article:.1f} ms per article (same cores)"))
    lines.append(row("cold: peak memory, process tree (PSS)", f"{cold.peak_rss / MB:.0f} MB (the monitor "
                     f"{cold.peak_own / MB:.0f} MB, its largest child {cold.peak_child / MB:.0f} MB)", "< 400 MB",
                     cold.peak_rss < 400 * MB))
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
