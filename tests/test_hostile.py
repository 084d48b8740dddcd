"""Hostile pages cost one article (or one source's check), never the daemon.

Each page is built here and served on 127.0.0.1 beside a healthy source, and ``monitor
once`` and ``monitor run`` run as real processes. What is asserted is what an operator
would see: the healthy source's alert delivered in the same run, each hostile URL recorded
with the limit it overran, the whole process tree's memory bounded while it runs, the run
bounded in time, and a stop honoured within 10 s whatever a parsing worker is doing.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from tests.httpserver import LocalWeb
from tests.newsweb import monitor_env, shipped_rules, wait_for
from tests.smtpserver import SmtpServer, smtp_server  # noqa: F401 - the fixture

from monitor.ingest import QUOTED_PER_RULE
from monitor.rules import MAX_PASSAGES

MB = 2**20
CPU_SECONDS = 2
CHILD_SITEMAP_BYTES = 4_500_000
SITEMAP_BUDGET = 20_000_000

GENEVA = (
    "Russia and the United States agreed on Wednesday to send their ambassadors back to Washington and Moscow, "
    "officials of both governments said after a day of talks in Geneva. "
) + " ".join(f"The talks covered embassy staffing, visas and property in a session numbered {n}." for n in range(12))
SURROGATE_STORY = " ".join(f"Line {n} of a report on embassy property and visa queues in both capitals." for n in range(20))
SWAP_PARAGRAPH = (
    "Russia and the United States exchanged prisoners in Abu Dhabi on Friday, freeing detainees held by each side."
)


def article(title: str, body: str, head: str = "") -> str:
    return f"<html><head><title>{title}</title>{head}</head><body><article><h1>{title}</h1>{body}</article></body></html>"


def formatting_bomb() -> str:
    """Active formatting elements closed off the stack but not the list: each later paragraph rebuilds them all."""
    opened = "".join(f"<b id={n}>" for n in range(2000))
    return f"<div>{opened}</div>" + "<p>x</p>" * 5000


def rss(items: list[tuple[str, str]]) -> str:
    entries = "".join(f"<item><title>{title}</title><link>{link}</link></item>" for title, link in items)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{entries}</channel></rss>'


def urlset(web: LocalWeb, *paths: str, padding: int = 0) -> str:
    urls = "".join(f"<url><loc>{web.url(path)}</loc></url>" for path in paths)
    filler = f"<!-- {'x' * padding} -->" if padding else ""
    return f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{filler}{urls}</urlset>'


def sitemap_index(web: LocalWeb, paths: list[str]) -> str:
    entries = "".join(f"<sitemap><loc>{web.url(path)}</loc></sitemap>" for path in paths)
    return f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>'


ENTITIES_BEHIND_A_COMMENT = (
    '<?xml version="1.0"?><!DOCTYPE urlset [<!-- ]> --><!ENTITY a "' + "a" * 1000 + '">'
    + "".join(f'<!ENTITY {chr(98 + n)} "' + f"&{chr(97 + n)};" * 10 + '">' for n in range(8))
    + "]><urlset><url><loc>http://127.0.0.1/&i;</loc></url></urlset>"
)


def serve_hostile_web(web: LocalWeb) -> None:
    """A healthy feed, and one of each hostile kind of page, feed, listing and sitemap."""
    web.route("/healthy.xml", rss([("Envoys to return", web.url("/healthy/geneva"))]), content_type="application/rss+xml")
    web.route("/healthy/geneva", article("Envoys to return to Washington and Moscow", f"<p>{GENEVA}</p>"))

    surrogate = json.dumps({"@type": "NewsArticle", "headline": "Envoys \ud800 return"})  # "\ud800" in the JSON
    paragraphs = "".join(f"<p>{SWAP_PARAGRAPH} Report {n}.</p>" for n in range(1000))
    # 14 KB: ten matched passages that share the same sixty short sentences, so each shares hundreds of lookup
    # keys with the passages before it (the writer took 80 s and 1.6 GB judging their novelty).
    shared = " ".join(f"Zed item {n} of the list." for n in range(60))
    repeated = "".join(f"<p>{SWAP_PARAGRAPH} Tail {n}. {shared} {SWAP_PARAGRAPH}</p>" for n in range(10))
    hostile_articles = {
        "/a/formatting": article("Formatting", formatting_bomb()),
        "/a/self-closing": article("Self-closing", "<div/>" * 200_000),
        "/a/mismatched": article("Mismatched", "<div></span>" * 200_000),
        "/a/surrogate": article("Envoys return", f"<p>{SURROGATE_STORY}</p>",
                                f'<script type="application/ld+json">{surrogate}</script>'),
        "/a/paragraphs": article("Prisoners exchanged", paragraphs),
        "/a/repeated-sentences": article("Swap roundup", repeated),
        # Sentences are cut at runs of stops: tried at each stop of a run, the cut took the square of its length.
        "/a/stop-run": article("Envoy expelled", f"<p>Russia expelled the U.S. ambassador {'!' * 50_000} from Moscow.</p>"),
    }
    for path, body in hostile_articles.items():
        web.route(path, body)
    web.route("/hostile.xml", rss([(path, web.url(path)) for path in hostile_articles]),
              content_type="application/rss+xml")
    bomb_title = formatting_bomb().replace("<", "&lt;").replace(">", "&gt;")
    web.route("/bomb-title.xml", rss([(bomb_title, web.url("/healthy/geneva"))]), content_type="application/rss+xml")
    # One item's description of raw unclosed tags makes the feed ill-formed: feedparser's lenient parser read them.
    web.route("/healthy/abu-dhabi", article("Prisoners exchanged in Abu Dhabi", f"<p>{SWAP_PARAGRAPH}</p>"))
    web.route("/description-bomb.xml",
              rss([("Prisoners exchanged", web.url("/healthy/abu-dhabi"))]).replace(
                  "</channel>", f"<item><title>Other</title><link>{web.url('/other')}</link>"
                  f"<description>{'<b>' * 600_000}</description></item></channel>"),
              content_type="application/rss+xml")
    # A run of names that begin as a cut element's ("<contents", here in a category's CDATA: well-formed) was
    # searched for its end at each, the rest of the body read 300,000 times.
    web.route("/healthy/istanbul", article("Envoys meet in Istanbul", f"<p>{GENEVA}</p>"))
    web.route("/category-run.xml",
              rss([("Envoys meet", web.url("/healthy/istanbul"))]).replace(
                  "</item>", f"<category><![CDATA[{'<contents' * 300_000}]]></category></item>"),
              content_type="application/rss+xml")
    web.route("/nested.html", "<html><body>" + "<div>" * 200_000 + "<a href='/x'>x</a></body></html>")

    children = [f"/child/{n}.xml" for n in range(110)]
    web.route("/index.xml", sitemap_index(web, ["/index.xml", *children, *children]), content_type="application/xml")
    for n, path in enumerate(children):
        web.route(path, urlset(web, f"/listed/{n}", padding=CHILD_SITEMAP_BYTES), content_type="application/xml")
    # Links of 7,900 characters, for an operator's include of the form that backtracks over each: ".*/2026/.*".
    web.route("/long-links.xml", urlset(web, *(f"/{n}/{'a' * 7900}" for n in range(300))), content_type="application/xml")
    web.route("/entities.xml", ENTITIES_BEHIND_A_COMMENT, content_type="application/xml")
    web.route("/utf16.xml", ENTITIES_BEHIND_A_COMMENT.replace('"1.0"?', '"1.0" encoding="UTF-16"?', 1)
              .encode("utf-16"), content_type="application/xml")


SOURCES = {
    "healthy": ("feed", "/healthy.xml"),
    "hostile articles": ("feed", "/hostile.xml"),
    "bomb title": ("feed", "/bomb-title.xml"),
    "nested listing": ("page", "/nested.html"),
    "self-listing index": ("sitemap", "/index.xml"),
    "entities": ("sitemap", "/entities.xml"),
    "utf-16 entities": ("sitemap", "/utf16.xml"),
    "include over long links": ("sitemap", "/long-links.xml"),
    "description bomb": ("feed", "/description-bomb.xml"),
    "category run": ("feed", "/category-run.xml"),
}
OPTIONS = {"include over long links": 'include = ".*/2026/.*"\n'}


def config(web: LocalWeb, smtp_port: int, sources: dict[str, tuple[str, str]], *, cpu_seconds: int,
           wall_seconds: float) -> str:
    listed = "".join(
        f'[[sources]]\nname = "{name}"\nkind = "{kind}"\nurl = "{web.url(path)}"\n'
        + ('links = "a"\n' if kind == "page" else "") + OPTIONS.get(name, "")
        for name, (kind, path) in sources.items()
    )
    return (
        f'database = "monitor.db"\n[fetch]\ndelay = 0\ntimeout = 5\nrobots = false\n'
        f"[limits]\nworkers = 2\ncpu_seconds = {cpu_seconds}\nwall_seconds = {wall_seconds}\n"
        f"sitemap_bytes = {SITEMAP_BUDGET}\n"
        f'[schedule]\ninterval = 3600\njitter = 0\nadaptive = false\n'
        f'[email]\nhost = "127.0.0.1"\nport = {smtp_port}\nsender = "monitor@example.org"\n'
        f'recipients = ["analyst@example.org"]\n{listed}\n{shipped_rules()}'
    )


@dataclass
class TreeMemory:
    """Peak resident memory of a process and of its whole tree, sampled every 20 ms while it runs."""

    pid: int
    own: int = 0
    tree: int = 0
    worker: int = 0  # the largest any one child reached
    _stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        while not self._stop.is_set():
            try:
                parent = psutil.Process(self.pid)
                own = parent.memory_info().rss
                children = [child.memory_info().rss for child in parent.children(recursive=True)]
            except psutil.Error:
                children, own = [], 0
            self.own = max(self.own, own)
            self.worker = max(self.worker, *children, 0)
            self.tree = max(self.tree, own + sum(children))
            time.sleep(0.02)


@pytest.fixture
def hostile_web() -> Iterator[LocalWeb]:
    web = LocalWeb()
    serve_hostile_web(web)
    try:
        yield web
    finally:
        web.close()


def run_measured(cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], TreeMemory, float]:
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "monitor", *args], cwd=cwd, env=monitor_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    memory = TreeMemory(process.pid)
    sampler = threading.Thread(target=memory.sample, daemon=True)
    sampler.start()
    try:
        stdout, stderr = process.communicate(timeout=120)
    finally:
        memory._stop.set()
        sampler.join()
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr), memory, time.monotonic() - started


def test_one_cycle_over_a_hostile_web_records_each_page_and_delivers_the_healthy_alert(
    tmp_path: Path, hostile_web: LocalWeb, smtp_server: SmtpServer  # noqa: F811
) -> None:
    (tmp_path / "config.toml").write_text(
        config(hostile_web, smtp_server.port, SOURCES, cpu_seconds=CPU_SECONDS, wall_seconds=30))
    result, memory, seconds = run_measured(tmp_path, "once")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr

    # The healthy source's alert went out in the same run.
    subjects = [str(received.message["Subject"]) for received in smtp_server.messages]
    assert any("Envoys to return" in subject for subject in subjects), subjects

    conn = sqlite3.connect(tmp_path / "monitor.db")
    failed = {url.removeprefix(hostile_web.origin): (error, retry)
              for url, error, retry in conn.execute("SELECT url, error, retry FROM failed_urls")}
    assert failed["/a/formatting"] == ("page exceeded 256 MB while parsing (limits.memory_mb)", 0)
    # The nesting guard counts "<div/>" (no self-closing tag in HTML) and skips stray end tags ("</span>" with no
    # span open): both pages are seen to nest 200,000 deep and refused for good before parsing, rather than killed at
    # the limit or tried again at each check as pages with no text yet.
    for path in ("/a/self-closing", "/a/mismatched"):
        assert failed[path] == ("elements nested deeper than 15,000 levels", 0)

    stored = dict(conn.execute("SELECT url, title FROM articles"))
    assert stored[hostile_web.url("/a/surrogate")] == "Envoys ? return"  # the lone surrogate replaced
    mentions = conn.execute(
        "SELECT count(*) FROM mentions JOIN articles ON articles.id = mentions.article_id WHERE articles.url = ?",
        [hostile_web.url("/a/paragraphs")]).fetchone()[0]
    assert 1 <= mentions <= MAX_PASSAGES  # per rule and article
    assert conn.execute(
        "SELECT count(*) FROM alert_mentions JOIN mentions ON mentions.id = alert_mentions.mention_id"
        " JOIN articles ON articles.id = mentions.article_id WHERE articles.url = ?",
        [hostile_web.url("/a/paragraphs")]).fetchone()[0] <= QUOTED_PER_RULE  # what its alert quotes
    assert hostile_web.url("/a/repeated-sentences") in stored
    assert conn.execute(
        "SELECT count(*) FROM mentions JOIN articles ON articles.id = mentions.article_id WHERE articles.url = ?",
        [hostile_web.url("/a/stop-run")]).fetchone()[0] == 1

    errors = dict(conn.execute("SELECT name, last_error FROM sources"))
    assert errors["healthy"] is None and errors["hostile articles"] is None
    assert errors["bomb title"] is None  # a title's markup is read up to 4,000 characters: the feed costs nothing
    assert errors["description bomb"] is None and hostile_web.url("/healthy/abu-dhabi") in stored  # never read
    assert errors["category run"] is None and hostile_web.hits("/healthy/istanbul") == 1  # the feed was read
    assert "elements nested deeper than 15,000 levels" in errors["nested listing"]  # refused before parsing
    assert "entity declarations" in errors["entities"]
    assert "entity declarations" in errors["utf-16 entities"]
    assert errors["include over long links"].startswith(  # in a worker: not on the event loop, where it took 60 s
        f"include/exclude over 300 links: page took more than {CPU_SECONDS} s of CPU to parse")

    # The self-listing index: read once, each child once, and no more bytes than the budget and one child.
    assert hostile_web.hits("/index.xml") == 1
    child_hits = [r.path for r in hostile_web.requests if r.path.startswith("/child/")]
    assert len(child_hits) == len(set(child_hits))
    assert len(child_hits) * CHILD_SITEMAP_BYTES <= SITEMAP_BUDGET + CHILD_SITEMAP_BYTES

    assert memory.own < 200 * MB, f"the monitor's own process reached {memory.own / MB:.0f} MB"
    assert seconds < 60
    assert memory.worker < 400 * MB, f"a worker reached {memory.worker / MB:.0f} MB"
    assert memory.tree < 900 * MB, f"the process tree reached {memory.tree / MB:.0f} MB"
    print(f"\n{seconds:.1f} s; peak RSS: monitor {memory.own / MB:.0f} MB, largest worker "
          f"{memory.worker / MB:.0f} MB, tree {memory.tree / MB:.0f} MB")


def test_the_daemon_stops_within_10_s_of_sigterm_while_a_worker_parses_a_hostile_page(
    tmp_path: Path, hostile_web: LocalWeb, smtp_server: SmtpServer  # noqa: F811
) -> None:
    sources = {"nested listing": SOURCES["nested listing"], "hostile articles": SOURCES["hostile articles"]}
    (tmp_path / "config.toml").write_text(config(hostile_web, smtp_server.port, sources, cpu_seconds=120,
                                                 wall_seconds=120))
    daemon = subprocess.Popen([sys.executable, "-m", "monitor", "run"], cwd=tmp_path, env=monitor_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: hostile_web.hits("/a/self-closing") and hostile_web.hits("/nested.html"), 30,
                 "the hostile pages to be fetched")
        workers = psutil.Process(daemon.pid).children(recursive=True)
        time.sleep(1.0)  # the workers are deep in the pages now
        started = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=15)
        stopped = time.monotonic() - started
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert stopped < 10, f"stopped {stopped:.1f} s after SIGTERM"
    assert daemon.returncode == 0, daemon.stderr.read() if daemon.stderr else ""
    assert workers
    wait_for(lambda: not [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE], 5,
             "the workers to be gone")
    conn = sqlite3.connect(tmp_path / "monitor.db")
    # A page cut short by the stop is not the page's fault: nothing is recorded against it.
    assert not conn.execute("SELECT url, error FROM failed_urls WHERE error LIKE '%CPU%' OR error LIKE '%longer%'"
                            " OR error LIKE '%died%'").fetchall()
