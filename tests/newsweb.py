"""A simulated news web on 127.0.0.x: outlets that publish, syndicate, recycle and misbehave.

Why a web of our own rather than recorded pages: the end-to-end tests, the crash
test and the pipeline benchmark all need a web that *changes between cycles*
(new articles, a wire story re-published elsewhere, an old paragraph reused in a
new piece), answers conditional requests the way real servers do, fails in every
way the web fails, and says afterwards exactly which requests it received. A
replay of real pages can do none of that.

Every outlet is its own HTTP/1.1 server on its own loopback address (127.0.0.10,
.11, …), so the archive sees distinct sites. Each discovers its articles one way
(RSS, Atom, JSON Feed, a news sitemap, a sitemap index, a listing page) and wraps
them in one of three page templates with the usual boilerplate. All text is
generated from this module's phrase lists (filler) or written here (the script).

``NewsWeb`` runs in the test's process (threads); ``NewsWebProcess`` runs the same
web in a child process and forwards method calls to it, so that a benchmark's
server does not compete with the measured pipeline for the GIL.

The script (``scripted=True``, the end-to-end tests; needs ``outlets >= 5``):

* edition 0: an ambassador recalled (story A, outlet 0; the alert) and its printer
  version under a second URL (same text); a goodwill ambassador and a swap of
  prisoners of war (traps that raise no alert);
* edition 1: A re-published by outlet 2 with another headline, a paragraph dropped
  and one added (same story, no alert); a prisoner swap (story B, the alert); an
  article on grain shipments that recycles one of A's paragraphs (no alert);
* edition 2: a new ambassador appointed (story D, the alert).

The faults (``faults=True``): whole sources that answer 500, 429 with
Retry-After, hang past any timeout, or serve malformed XML; and, listed in outlet
0's feed, article links that are truncated, huge, redirect in a loop, hang, fail,
show a consent wall, are disallowed by robots.txt, lead to private addresses (a
canary server that must never be hit), or are malformed HTML with a real article
inside (which must be stored).
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import multiprocessing
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

__all__ = ["FAULT_SOURCES", "Hit", "NewsWeb", "NewsWebProcess", "WebArticle", "start_daemon", "wait_for"]

ROOT = Path(__file__).resolve().parent.parent
EPOCH = datetime(2024, 3, 4, 6, 0, tzinfo=UTC)
FEED_SIZE = 150  # items a source lists: the newest ones, as real feeds do
HANG_SECONDS = 30.0  # longer than any timeout a test configures
HUGE_BYTES = 3_000_000  # over the 1 MB max_bytes the tests configure
RETRY_AFTER = 120
DISCOVERY_KINDS = ("rss", "atom", "listing", "sitemap", "json", "sitemap-index")
TEMPLATES = ("wordpress", "newsroom", "plain")
ROBOTS = "User-agent: *\nDisallow: /members/\n"
LISTING_SELECTOR = "h2.headline a"

# Sources that fail as a whole, each in its own way (name -> what it does).
FAULT_SOURCES = {
    "failing": "answers 500",
    "throttled": f"answers 429 with Retry-After: {RETRY_AFTER}",
    "stalled": "never answers within the timeout",
    "garbled": "serves a feed that is not well-formed XML",
}

# ----------------------------------------------------------------- filler text
# Sentences are assembled from short pieces around random names and numbers, so
# that no run of five words recurs often enough to make two filler articles look
# like copies of one story. No piece uses a word the beat's rules look for.

_FIRST = ("Marta", "Jonas", "Elena", "Tomas", "Ingrid", "Pavel", "Sofia", "Henrik", "Lucia", "Anton",
          "Greta", "Milan", "Nora", "Viktor", "Clara", "Ruben", "Aino", "Dario", "Femke", "Oskar")
_LAST = ("Halvorsen", "Okafor", "Brandt", "Lindqvist", "Moreau", "Novak", "Castell", "Rahman", "Keller",
         "Sato", "Duarte", "Varga", "Ferreira", "Holm", "Petit", "Kowal", "Aalto", "Bianchi", "Mertens", "Quist")
_PLACES = ("Tallinn", "Porto", "Lyon", "Gdansk", "Bergen", "Valencia", "Graz", "Tampere", "Ghent", "Brno",
           "Cork", "Aarhus", "Bologna", "Malmo", "Split", "Ljubljana", "Utrecht", "Bilbao", "Turku", "Kaunas")
_THINGS = ("bicycle lanes", "tram stops", "school kitchens", "wind turbines", "river ferries", "street lights",
           "public libraries", "rail bridges", "heat pumps", "bus shelters", "community gardens", "harbour cranes",
           "swimming pools", "clinic beds", "flood barriers", "night buses", "solar roofs", "cycle bridges",
           "market halls", "water mains")
_ADJECTIVES = ("delayed", "ambitious", "modest", "costly", "revised", "disputed", "popular", "temporary",
               "regional", "overdue", "experimental", "scaled-back")
_ORGS = ("city council", "regional board", "transport authority", "water utility", "chamber of commerce",
         "teachers' union", "planning office", "housing cooperative", "port company", "audit office",
         "farmers' association", "university senate")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")
_OPENERS = ("", "On {day},", "In {place},", "Late on {day},", "Earlier this month,", "For the {nth} time,",
            "After weeks of debate,", "To general surprise,")
_SUBJECTS = ("{person}", "the {org} of {place}", "{n} residents of {place}", "a committee led by {person}",
             "officials in {place}", "{person}, who chairs the {org},", "the {org}", "engineers from {place}")
_VERBS = ("approved", "postponed", "announced", "rejected", "welcomed", "questioned", "proposed", "defended",
          "reviewed", "funded", "redesigned", "put on hold")
_OBJECTS = ("{n} new {thing}", "a {adj} plan for {thing}", "the {adj} {thing} near {place}",
            "repairs to {n} {thing}", "a study of {thing} in {place}", "{thing} for {n} households",
            "the {org}'s budget for {thing}", "a {adj} tender for {thing}")
_TAILS = ("after {n} complaints", "at a cost of {money}", "citing worries about {thing}",
          "before the {month} deadline", "despite objections from {person}", "with support from the {org}",
          "as {pct} percent of voters asked", "until at least {month}", "ahead of a vote on {day}",
          "following a review of {n} sites")
_HEADLINES = ("{place} {verb} {n} {thing}", "{place}: {org} {verb} {thing}", "{thing} in {place}: {person} speaks",
              "{n} {thing} for {place}", "{place} {org} {verb} {adj} {thing}")


def _fill(template: str, rng: random.Random) -> str:
    slots = {
        "person": f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
        "place": rng.choice(_PLACES),
        "thing": rng.choice(_THINGS),
        "adj": rng.choice(_ADJECTIVES),
        "org": rng.choice(_ORGS),
        "day": rng.choice(_DAYS),
        "month": rng.choice(_MONTHS),
        "n": str(rng.randint(3, 980)),
        "nth": ("second", "third", "fourth", "fifth")[rng.randrange(4)],
        "pct": str(rng.randint(11, 89)),
        "money": f"{rng.randint(1, 240)}.{rng.randint(1, 9)} million euros",
        "verb": rng.choice(_VERBS),
    }
    return template.format(**slots)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _sentence(rng: random.Random) -> str:
    parts = [rng.choice(_OPENERS), rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS), rng.choice(_TAILS)]
    return _capital(" ".join(_fill(part, rng) for part in parts if part)) + "."


def _filler_paragraphs(rng: random.Random) -> list[str]:
    return [" ".join(_sentence(rng) for _ in range(rng.randint(2, 3))) for _ in range(rng.randint(4, 6))]


def _swap_paragraph(rng: random.Random) -> str:
    """A prisoner swap told afresh: new names and numbers, so the rules see a new mention."""
    freed, returned = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}", f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    return (
        f"Russia and the United States completed a prisoner swap on {rng.choice(_DAYS)}, officials in Washington "
        f"said: {freed}, held in Moscow for {rng.randint(5, 60)} months, was flown home in return for {returned}, "
        f"who had served {rng.randint(2, 14)} years of a sentence in an American prison."
    )


# ----------------------------------------------------------------- the script

_RECALL = (
    "Russia recalled its ambassador to the United States for consultations on Thursday, the Foreign Ministry "
    "said, a step that leaves the embassy in Washington without its head for the first time in years.",
    "The ministry said the envoy would brief officials in Moscow on the state of relations with Washington and "
    "return once the consultations were over. It gave no date for his return.",
    "The recall follows a new round of American sanctions announced earlier in the week, which the Kremlin "
    "called hostile and promised to answer in a way it did not describe.",
    "A State Department spokesperson said the United States remained open to dialogue and would keep its own "
    "ambassador in Moscow, where the embassy already works with a sharply reduced staff.",
    "Analysts in both capitals said the move was largely symbolic but warned that the two governments now had "
    "fewer channels through which to settle disputes over visas, property and detained citizens.",
)
_SCRIPT: tuple[tuple[int, int, str, str, str, tuple[str, ...], bool], ...] = (
    # edition, outlet, key, title, byline, paragraphs, brings a new mention
    (0, 0, "recall", "Moscow recalls its ambassador from Washington", "By Irina Holm", _RECALL, True),
    (0, 1, "goodwill", "Harbour city names cellist as goodwill ambassador", "By Ruben Petit", (
        "The harbour city named a cellist as its goodwill ambassador on Tuesday, asking her to promote the "
        "summer music festival in Moscow, Washington and a dozen other cities where she will tour this year.",
        "The cellist, who grew up above her parents' bakery near the old port, said she would play free concerts "
        "in schools before each festival and record an album with the city orchestra.",
        "The festival drew 40,000 visitors last summer, and organisers hope the appointment will lift ticket "
        "sales abroad, where the event is still little known outside specialist circles.",
    ), False),
    (0, 3, "pows", "Kyiv and Moscow trade prisoners of war", "By Oskar Quist", (
        "Russia and Ukraine carried out an exchange of prisoners of war on Saturday, each side returning 95 "
        "soldiers, in a swap brokered by the United Arab Emirates, officials in Kyiv and Moscow said.",
        "The returning soldiers were taken to hospitals for checks, and relatives gathered at the border "
        "crossing with photographs of men still missing, some of them held since the first months of the war.",
        "Mediators said talks on further exchanges would continue, while both sides accused each other of "
        "delaying the return of wounded soldiers and of the bodies of the fallen.",
    ), False),
    (1, 2, "recall-copy", "Russia pulls envoy from Washington after sanctions", "Wire staff", (
        *_RECALL[:4],
        "Wire services contributed to this report, and our correspondent added reporting from the diplomatic "
        "quarter of the capital, where the embassy's gates stayed shut all afternoon.",
    ), False),
    (1, 1, "swap", "Russia and United States complete prisoner swap", "By Femke Aalto", (
        "Russia and the United States carried out a prisoner swap on Friday, trading two detained citizens on "
        "the tarmac of an airport in a third country, officials in Washington and Moscow said.",
        "The American released in the exchange, a chemistry teacher held in Russia for three years on drug "
        "charges, was flown to a military base in Germany for medical checks, the White House said.",
        "In return Washington freed a Russian businessman convicted of wire fraud, who landed in Moscow late on "
        "Friday and was greeted on the runway by his wife and two daughters.",
        "Negotiations had lasted more than a year, according to two people familiar with the talks, and were "
        "brokered by intermediaries who shuttled between the two capitals with lists of names.",
    ), True),
    (1, 3, "grain", "Grain shipments slow as insurers raise premiums", "By Dario Bianchi", (
        "Grain shipments from the region's southern ports slowed for a third week as insurers raised premiums "
        "for vessels, traders said, leaving several bulk carriers waiting at anchor outside the harbour.",
        "Freight rates for the route rose by a fifth in a month, according to a broker in Geneva, and two "
        "millers said they had begun buying wheat from farther away to keep their mills supplied.",
        _RECALL[0],
        "Port officials said loading would speed up once the insurers settled on new terms, which they expected "
        "within days, and that storage silos near the quay were filling but not yet full.",
    ), False),
    (2, 4, "appointment", "Washington names new ambassador to Moscow", "By Lucia Varga", (
        "The White House named a veteran diplomat as the next United States ambassador to Russia on Monday, "
        "filling a post that has been vacant since the spring.",
        "The nominee, a former consul general in Yekaterinburg who speaks Russian, must be confirmed by the "
        "Senate before she can present her credentials at the Kremlin.",
        "Officials in Moscow said the appointment was a practical step that would let the embassies resume "
        "routine work on visas and consular visits to detained citizens.",
    ), True),
)


# ----------------------------------------------------------------- the model


@dataclass(frozen=True)
class WebArticle:
    """An article as the web publishes it."""

    outlet: int
    path: str
    title: str
    byline: str
    published: datetime
    paragraphs: tuple[str, ...]
    edition: int
    alerting: bool = False  # brings a rule mention no earlier article had
    key: str = ""  # the script's name for it; "" for filler
    malformed: bool = False  # served as broken HTML (a real article all the same)


@dataclass(frozen=True)
class Outlet:
    index: int
    slug: str
    name: str
    host: str
    discovery: str  # one of DISCOVERY_KINDS, or "fault:<FAULT_SOURCES key>"
    template: str

    @property
    def source_path(self) -> str:
        return {"rss": "/feed.xml", "atom": "/atom.xml", "listing": "/latest/", "sitemap": "/news-sitemap.xml",
                "json": "/feed.json", "sitemap-index": "/sitemap-index.xml"}.get(self.discovery, "/rss.xml")

    @property
    def fault(self) -> str:
        """The :data:`FAULT_SOURCES` key of a source that fails as a whole; "" for a healthy outlet."""
        return self.discovery.removeprefix("fault:") if self.discovery.startswith("fault:") else ""

    @property
    def source_kind(self) -> str:
        return {"listing": "page", "sitemap": "sitemap", "sitemap-index": "sitemap"}.get(self.discovery, "feed")


@dataclass(frozen=True)
class Hit:
    """One request the web received."""

    outlet: str  # slug, or "canary"
    path: str
    kind: str  # "source" | "article" | "robots" | "canary"
    conditional: bool
    status: int


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    action: str = ""  # "" | "hang" | "truncate"


@dataclass
class _State:
    """Everything that changes as editions go by, guarded by one lock."""

    edition: int = 0
    articles: list[WebArticle] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    cache: dict[tuple[int, str], _Reply] = field(default_factory=dict)


class NewsWeb:
    """The simulated web; ``with NewsWeb(...) as web:`` serves it until the block ends.

    ``outlets`` healthy outlets start with ``articles`` filler articles each;
    every :meth:`advance` publishes the next edition: ``fresh`` filler articles
    spread over the outlets (every ``alerting_every``-th of them, if set, telling
    a prisoner swap afresh) plus the script's articles of that edition.
    """

    def __init__(
        self,
        *,
        outlets: int = 6,
        articles: int = 3,
        fresh: int = 2,
        alerting_every: int = 0,
        scripted: bool = True,
        faults: bool = True,
        seed: int = 1,
        pages: str = "",
    ) -> None:
        if scripted and outlets < 5:
            raise ValueError("the script needs at least 5 outlets")
        # Real pages (``*.html`` or ``*.html.gz`` in the folder ``pages``) served in place of the filler
        # articles' generated ones, in turn: the pipeline benchmark's web of real-world pages.
        self._real_pages = sorted(path for path in Path(pages).iterdir()
                                  if path.name.endswith((".html", ".html.gz"))) if pages else []
        self._real_page_of: dict[str, Path] = {}
        self.scripted, self.faults, self.seed = scripted, faults, seed
        self.fresh, self.alerting_every = fresh, alerting_every
        names = ("Courier", "Ledger", "Tribune", "Wire", "Gazette", "Index", "Herald", "Chronicle", "Post",
                 "Observer", "Times", "Review", "Record", "Bulletin", "Dispatch", "Journal", "Sentinel", "Monitor")
        towns = ("Northern", "Harbour", "Valley", "Coastal", "Plains", "Metro", "Upland", "River", "Lakeside",
                 "Eastern", "Western", "Island", "Border", "Capital", "Mountain", "Delta", "Forest", "Bay")
        self.outlets: list[Outlet] = [
            Outlet(i, f"outlet{i}", f"{towns[i % len(towns)]} {names[(i * 7) % len(names)]}"
                   + (f" {i // len(towns) + 1}" if i >= len(towns) else ""),
                   f"127.0.0.{10 + i}", DISCOVERY_KINDS[i % len(DISCOVERY_KINDS)], TEMPLATES[i % len(TEMPLATES)])
            for i in range(outlets)
        ]
        if faults:
            for offset, fault in enumerate(FAULT_SOURCES):
                index = outlets + offset
                self.outlets.append(Outlet(index, fault, f"The {fault.title()} Times", f"127.0.0.{10 + index}",
                                           f"fault:{fault}", "plain"))
        self._state = _State()
        self._lock = threading.Lock()
        self._filler_count = 0
        self._servers: list[ThreadingHTTPServer] = []
        self.bases: dict[str, str] = {}
        self.canary = ""
        with self._lock:
            for outlet in self.outlets[:outlets]:
                for _ in range(articles):
                    self._add_filler(0, outlet.index, alerting=False)
            self._publish_script(0)
            if faults:
                self._add_malformed()
                garbled = next(o for o in self.outlets if o.slug == "garbled")
                self._add_filler(0, garbled.index, alerting=False)

    # ------------------------------------------------------------- lifecycle

    def __enter__(self) -> NewsWeb:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        for outlet in self.outlets:
            server = _server(outlet.host, self._handler(outlet))
            self.bases[outlet.slug] = f"http://{outlet.host}:{server.server_address[1]}"
            self._servers.append(server)
        canary = _server("127.0.0.1", self._canary_handler())
        self.canary = f"127.0.0.1:{canary.server_address[1]}"
        self._servers.append(canary)

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()

    # ------------------------------------------------------------- what tests ask

    @property
    def edition(self) -> int:
        return self._state.edition

    def advance(self) -> int:
        """Publish the next edition; returns its number."""
        with self._lock:
            state = self._state
            state.edition += 1
            healthy = [outlet for outlet in self.outlets if not outlet.fault]
            for _ in range(self.fresh):
                outlet = healthy[self._filler_count % len(healthy)]
                alerting = bool(self.alerting_every) and (self._filler_count + 1) % self.alerting_every == 0
                self._add_filler(state.edition, outlet.index, alerting=alerting)
            self._publish_script(state.edition)
            state.cache.clear()
            return state.edition

    def prerender(self) -> None:
        """Render every article page of this edition now, as its first request would.

        The benchmark calls it before any client runs: this web stands in for remote
        servers, so rendering a page on its first request would charge the first client
        measured (and not the next) for work that is no client's.
        """
        with self._lock:
            for article in self._state.articles:
                self._reply_for(self.outlets[article.outlet], article.path)

    def cpu_seconds(self) -> float:
        """CPU time of the process serving the web: on one machine, the server's share is not the client's."""
        return time.process_time()

    def articles(self) -> list[WebArticle]:
        """Every article published so far (each must end up in the archive exactly once)."""
        with self._lock:
            return list(self._state.articles)

    def article(self, key: str) -> WebArticle:
        return next(article for article in self.articles() if article.key == key)

    def url(self, article: WebArticle) -> str:
        """The article's canonical URL."""
        return self.bases[self.outlets[article.outlet].slug] + article.path

    def article_urls(self) -> list[str]:
        return [self.url(article) for article in self.articles()]

    def hits(self) -> list[Hit]:
        with self._lock:
            return list(self._state.hits)

    def hit_count(self) -> int:
        """Requests served so far: where the next client's requests will start in :meth:`hits`."""
        with self._lock:
            return len(self._state.hits)

    def hit_counts(self, start: int = 0, stop: int | None = None) -> dict[str, int]:
        """Requests by kind among ``hits()[start:stop]``: ``<kind>``, ``<kind> <status>``, ``<kind> conditional``."""
        counts: Counter[str] = Counter()
        for hit in self.hits()[start:stop]:
            counts[hit.kind] += 1
            counts[f"{hit.kind} {hit.status}"] += 1
            if hit.conditional:
                counts[f"{hit.kind} conditional"] += 1
        return dict(counts)

    def source_checks(self) -> int:
        """How many times every outlet's source has been requested at least (completed cycles, roughly)."""
        paths = {outlet.slug: outlet.source_path for outlet in self.outlets}
        counts = Counter(hit.outlet for hit in self.hits() if paths.get(hit.outlet) == hit.path)
        return min(counts.get(slug, 0) for slug in paths)

    def sources_toml(self) -> str:
        """The ``[[sources]]`` tables of a config.toml that watches every outlet."""
        blocks = []
        for outlet in self.outlets:
            links = f'links = "{LISTING_SELECTOR}"\n' if outlet.source_kind == "page" else ""
            blocks.append(f'[[sources]]\nname = "{outlet.name}"\nkind = "{outlet.source_kind}"\n'
                          f'url = "{self.bases[outlet.slug]}{outlet.source_path}"\n{links}')
        return "\n".join(blocks)

    def origins(self) -> dict[str, str]:
        """Each outlet's ``http://host:port`` by slug."""
        return dict(self.bases)

    def config_toml(self, smtp_port: int | None, *, timeout: float = 2.0, smtp_timeout: float = 5.0,
                    burst: int = 10) -> str:
        """A config.toml watching every outlet once a second with the shipped rules.

        Politeness delay 0 and short timeouts keep tests fast; ``max_bytes`` is
        1 MB so that the huge article is cut off. ``smtp_timeout`` also sets the
        outbox's lease on a claimed alert (about eleven times it); ``burst`` is ``[email] burst``.
        """
        email = (f'[email]\nhost = "127.0.0.1"\nport = {smtp_port}\nsender = "monitor@example.org"\n'
                 f'recipients = ["analyst@example.org"]\ntimeout = {smtp_timeout}\nburst = {burst}\n'
                 ) if smtp_port else ""
        return (f'database = "monitor.db"\n[fetch]\ndelay = 0\ntimeout = {timeout}\nmax_bytes = 1000000\n'
                f"[schedule]\ninterval = 1\njitter = 0\nadaptive = false\n{email}\n{self.sources_toml()}\n{shipped_rules()}")

    def source_name(self, slug: str) -> str:
        return next(outlet.name for outlet in self.outlets if outlet.slug == slug)

    # ------------------------------------------------------------- publishing

    def _add_filler(self, edition: int, outlet: int, *, alerting: bool) -> None:
        number = self._filler_count
        self._filler_count += 1
        rng = random.Random(f"{self.seed}:{number}")
        paragraphs = _filler_paragraphs(rng)
        if alerting:
            paragraphs.insert(1, _swap_paragraph(rng))
        self._state.articles.append(WebArticle(
            outlet=outlet, path=f"/{2024 + number // 5000}/story-{number:05d}-{rng.choice(_PLACES).lower()}/",
            title=_capital(_fill(rng.choice(_HEADLINES), rng)), byline=f"By {_fill('{person}', rng)}",
            published=EPOCH + timedelta(hours=edition, seconds=number), paragraphs=tuple(paragraphs),
            edition=edition, alerting=alerting,
        ))
        if self._real_pages:
            self._real_page_of[self._state.articles[-1].path] = self._real_pages[number % len(self._real_pages)]

    def _publish_script(self, edition: int) -> None:
        if not self.scripted:
            return
        for when, outlet, key, title, byline, paragraphs, alerting in _SCRIPT:
            if when == edition:
                self._state.articles.append(WebArticle(
                    outlet=outlet, path=f"/world/{key}/", title=title, byline=byline,
                    published=EPOCH + timedelta(hours=edition, minutes=30), paragraphs=paragraphs,
                    edition=edition, alerting=alerting, key=key,
                ))

    def _add_malformed(self) -> None:
        rng = random.Random(f"{self.seed}:malformed")
        self._state.articles.append(WebArticle(
            outlet=0, path="/fault/malformed/", title="Ferry timetable changes for the winter",
            byline="By Greta Sato", published=EPOCH, paragraphs=tuple(_filler_paragraphs(rng)), edition=0,
            key="malformed", malformed=True,
        ))

    # ------------------------------------------------------------- serving

    def respond(self, outlet: Outlet, path: str, headers: dict[str, str]) -> _Reply:
        """The answer to ``GET path`` on ``outlet``; recorded in :meth:`hits`."""
        path = path.split("?", 1)[0]
        conditional = "if-none-match" in headers or "if-modified-since" in headers
        with self._lock:
            kind = "robots" if path == "/robots.txt" else "source" if self._is_source(outlet, path) else "article"
            reply = self._reply_for(outlet, path)
            if kind == "source" and reply.status == 200 and _matches(reply, headers):
                reply = _Reply(304, headers=tuple(h for h in reply.headers if h[0] in ("ETag", "Last-Modified")))
            self._state.hits.append(Hit(outlet.slug, path, kind, conditional, reply.status))
        return reply

    def _reply_for(self, outlet: Outlet, path: str) -> _Reply:
        """The page at ``path``, rendered once per edition unless it must be fresh (a fault); hold the lock."""
        reply = self._state.cache.get((outlet.index, path))
        if reply is None:
            reply = self._render(outlet, path)
            if reply.status == 200 and not reply.action:
                self._state.cache[(outlet.index, path)] = reply
        return reply

    def _is_source(self, outlet: Outlet, path: str) -> bool:
        return path == outlet.source_path or (outlet.discovery == "sitemap-index" and path.startswith("/sitemaps/"))

    def _render(self, outlet: Outlet, path: str) -> _Reply:
        if path == "/robots.txt":
            return _Reply(200, ROBOTS.encode(), (("Content-Type", "text/plain"),))
        if outlet.fault and path == outlet.source_path:
            return self._render_fault_source(outlet)
        if self._is_source(outlet, path):
            return self._render_source(outlet, path)
        if outlet.index == 0 and self.faults and path.startswith("/fault/"):
            fault = _fault_article(path)
            if fault is not None:
                return fault
        printed = path.startswith("/print/")
        wanted = "/" + path.removeprefix("/print/") if printed else path
        real = self._real_page_of.get(path)
        if real is not None:  # as it was saved: its own encoding, declared (if at all) in the page
            body = real.read_bytes()
            return _Reply(200, gzip.decompress(body) if real.suffix == ".gz" else body, (("Content-Type", "text/html"),))
        for article in self._state.articles:
            if article.outlet == outlet.index and article.path == wanted and (not printed or article.key == "recall"):
                page = _article_page(outlet, article, self.bases[outlet.slug], canonical=not printed)
                return _Reply(200, page.encode(), (("Content-Type", "text/html; charset=utf-8"),))
        return _Reply(404, b"<html><body><h1>Not found</h1></body></html>", (("Content-Type", "text/html"),))

    def _own(self, outlet: Outlet) -> list[WebArticle]:
        own = [article for article in self._state.articles if article.outlet == outlet.index]
        return sorted(own, key=lambda a: a.published, reverse=True)[:FEED_SIZE]

    def _links(self, outlet: Outlet) -> list[tuple[str, str, datetime]]:
        """(url, title, date) of everything the outlet's source lists, newest first."""
        base = self.bases[outlet.slug]
        links = [(f"{base}{a.path}?utm_source=feed&utm_medium=rss", a.title, a.published) for a in self._own(outlet)]
        if self.scripted and outlet.index == 0:
            links.append((f"{base}/print/world/recall/", "Moscow recalls its ambassador (print)", EPOCH))
        if self.faults and outlet.index == 0:
            links += [(f"{base}{p}", f"Fault {p}", EPOCH) for p in _FAULT_PATHS]
            links += [(f"http://{self.canary}/private/admin", "Private", EPOCH),
                      (f"http://localhost:{self.canary.rsplit(':', 1)[1]}/private/by-name", "Private", EPOCH)]
        return links

    def _render_source(self, outlet: Outlet, path: str) -> _Reply:
        links = self._links(outlet)
        base = self.bases[outlet.slug]
        if outlet.discovery == "sitemap-index" and path == outlet.source_path:
            body, content_type = _sitemap_index(base, links), "application/xml"
        elif outlet.discovery in ("sitemap", "sitemap-index"):
            body, content_type = _news_sitemap(outlet, links), "application/xml"
        else:
            body, content_type = _SOURCE_RENDERERS[outlet.discovery](outlet, base, links)
        newest = max((when for _, _, when in links), default=EPOCH)
        data = body.encode()
        return _Reply(200, data, (
            ("Content-Type", content_type),
            ("ETag", '"' + hashlib.sha1(data).hexdigest()[:16] + '"'),
            ("Last-Modified", format_datetime(newest, usegmt=True)),
        ))

    def _render_fault_source(self, outlet: Outlet) -> _Reply:
        fault = outlet.fault
        if fault == "failing":
            return _Reply(500, b"<h1>Internal Server Error</h1>", (("Content-Type", "text/html"),))
        if fault == "throttled":
            return _Reply(429, b"slow down", (("Content-Type", "text/plain"), ("Retry-After", str(RETRY_AFTER))))
        if fault == "stalled":
            return _Reply(200, action="hang")
        # garbled: an unescaped ampersand, an unclosed element, a wrong end tag; its items are usable.
        items = "".join(f"<item><title>{_e(a.title)} & more</title><link>{self.bases[outlet.slug]}{a.path}</link>"
                        "<description>Unclosed <b>bold</description></item>" for a in self._own(outlet))
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Garbled & Co</title>{items}</channel></wrongend>'

        return _Reply(200, body.encode(), (("Content-Type", "application/rss+xml"),))

    def _handler(self, outlet: Outlet) -> type[BaseHTTPRequestHandler]:
        web = self

        class Handler(_QuietHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                reply = web.respond(outlet, self.path, {k.lower(): v for k, v in self.headers.items()})
                self.send(reply)

        return Handler

    def _canary_handler(self) -> type[BaseHTTPRequestHandler]:
        web = self

        class Handler(_QuietHandler):
            def do_GET(self) -> None:  # noqa: N802
                with web._lock:
                    web._state.hits.append(Hit("canary", self.path, "canary", False, 200))
                self.send(_Reply(200, b"<html><body>secret</body></html>", (("Content-Type", "text/html"),)))

        return Handler


def _matches(reply: _Reply, request: dict[str, str]) -> bool:
    """Whether a conditional request names the current version (RFC 9110: ETag first)."""
    validators = dict(reply.headers)
    if "if-none-match" in request:
        return request["if-none-match"] == validators.get("ETag")
    return "if-modified-since" in request and request["if-modified-since"] == validators.get("Last-Modified")


class _QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client's connection pool is part of what is measured

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the web keeps its own log
        pass

    def send(self, reply: _Reply) -> None:
        try:
            if reply.action == "hang":
                time.sleep(HANG_SECONDS)
                self.close_connection = True
                return
            self.send_response(reply.status)
            for name, value in reply.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body) * (3 if reply.action == "truncate" else 1)))
            self.end_headers()
            if reply.action == "truncate":  # promise three times the body, send it once, hang up
                self.wfile.write(reply.body)
                self.close_connection = True
                return
            view = memoryview(reply.body)
            for start in range(0, len(view), 256 * 1024):
                self.wfile.write(view[start : start + 256 * 1024])
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up, as it should on a huge body


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client dropping a kept-alive connection is normal; anything else is printed."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _server(host: str, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = _Server((host, 0), handler)
    # The stop polled for every 50 ms, not every half second: each outlet's server made a test's end wait for it.
    threading.Thread(target=server.serve_forever, args=(0.05,), name=f"newsweb-{host}", daemon=True).start()
    return server


# ----------------------------------------------------------------- faulty articles

_FAULT_PATHS = ("/fault/truncated/", "/fault/huge/", "/fault/loop-a/", "/fault/slow/", "/fault/gone/",
                "/fault/consent/", "/members/insider-briefing/")
_HTML = (("Content-Type", "text/html; charset=utf-8"),)


def _fault_article(path: str) -> _Reply | None:
    """The answer of a faulty article path, or None for a path that is a real article."""
    if path == "/fault/truncated/":
        return _Reply(200, b"<html><body><article><p>" + b"The ferry timetable " * 200, _HTML, "truncate")
    if path == "/fault/huge/":
        paragraph = b"<p>" + b"Harbour cranes were repainted again this week at great length. " * 40 + b"</p>\n"
        return _Reply(200, b"<html><body><article>" + paragraph * (HUGE_BYTES // len(paragraph) + 1), _HTML)
    if path == "/fault/loop-a/":
        return _Reply(302, headers=(("Location", "/fault/loop-b/"),))
    if path == "/fault/loop-b/":
        return _Reply(302, headers=(("Location", "/fault/loop-a/"),))
    if path == "/fault/slow/":
        return _Reply(200, action="hang")
    if path == "/fault/gone/":
        return _Reply(500, b"<h1>Server error</h1>", _HTML)
    if path == "/fault/consent/":
        wall = ("<html><body><div class='consent'><h1>We value your privacy</h1><p>We and our partners use "
                "cookies. Accept all to continue reading.</p><button>Accept all</button></div></body></html>")
        return _Reply(200, wall.encode(), _HTML)
    return None


# ----------------------------------------------------------------- documents

_e = html.escape


def _rss(outlet: Outlet, base: str, links: list[tuple[str, str, datetime]]) -> tuple[str, str]:
    items = "".join(f"<item><title>{_e(title)}</title><link>{_e(url)}</link><guid isPermaLink='false'>"
                    f"{hashlib.sha1(url.encode()).hexdigest()[:12]}</guid><pubDate>{format_datetime(when)}</pubDate>"
                    "</item>" for url, title, when in links)
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>{_e(outlet.name)}</title>'
            f"<link>{base}/</link><description>Latest stories</description>{items}</channel></rss>",
            "text/xml; charset=utf-8")  # feeds come under many content types


def _atom(outlet: Outlet, base: str, links: list[tuple[str, str, datetime]]) -> tuple[str, str]:
    entries = "".join(f'<entry><title>{_e(title)}</title><link rel="alternate" href="{_e(url)}"/><id>{_e(url)}</id>'
                      f"<updated>{when.isoformat()}</updated></entry>" for url, title, when in links)
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><title>'
            f"{_e(outlet.name)}</title><id>{base}/</id><updated>{EPOCH.isoformat()}</updated>{entries}</feed>",
            "application/atom+xml")


def _json_feed(outlet: Outlet, base: str, links: list[tuple[str, str, datetime]]) -> tuple[str, str]:
    items = [{"id": url, "url": url, "title": title, "date_published": when.isoformat()} for url, title, when in links]
    document = {"version": "https://jsonfeed.org/version/1.1", "title": outlet.name, "home_page_url": base + "/",
                "items": items}
    return json.dumps(document), "application/feed+json"


def _listing(outlet: Outlet, base: str, links: list[tuple[str, str, datetime]]) -> tuple[str, str]:
    teasers = "".join(f'<div class="teaser"><h2 class="headline"><a href="{_e(url.removeprefix(base))}">'
                      f'{_e(title)}</a></h2><p class="kicker">{when:%d %B %Y}</p></div>' for url, title, when in links)
    return _chrome(outlet, "Latest news", f"<main><h1>Latest news</h1>{teasers}</main>"), "text/html; charset=utf-8"


_SOURCE_RENDERERS: dict[str, Callable[[Outlet, str, list[tuple[str, str, datetime]]], tuple[str, str]]] = {
    "rss": _rss, "atom": _atom, "json": _json_feed, "listing": _listing,
}


def _news_sitemap(outlet: Outlet, links: list[tuple[str, str, datetime]]) -> str:
    urls = "".join(f"<url><loc>{_e(url)}</loc><news:news><news:publication><news:name>{_e(outlet.name)}"
                   f"</news:name><news:language>en</news:language></news:publication><news:publication_date>"
                   f"{when.isoformat()}</news:publication_date><news:title>{_e(title)}</news:title></news:news></url>"
                   for url, title, when in links)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}</urlset>')


def _sitemap_index(base: str, links: list[tuple[str, str, datetime]]) -> str:
    newest = max((when for _, _, when in links), default=EPOCH)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{base}/sitemaps/news.xml</loc><lastmod>{newest.isoformat()}</lastmod></sitemap>"
            "</sitemapindex>")


# Real news pages weigh 50-300 KB of HTML, most of it scripts, styles and navigation, and an
# extractor's cost grows with all of it; the boilerplate below brings a page to about 60 KB.
_SECTIONS = ("World", "Politics", "Business", "Climate", "Science", "Sport", "Culture", "Travel", "Opinion",
             "Podcasts", "Weather", "Puzzles")
_MEGA_MENU = "".join(
    f'<li><a href="/{section.lower()}/{topic.replace(" ", "-")}/">{topic.title()}</a></li>'
    for section in _SECTIONS for topic in _THINGS[:10]
)
_STYLE = "".join(f".c{n}{{margin:{n % 7}px;padding:{n % 5}px;color:#{n * 2654435761 % 0xFFFFFF:06x}}}" for n in range(300))
_SITE_CONFIG = json.dumps({"ads": [{"slot": f"slot-{n}", "sizes": [[300, 250], [728, 90]], "targeting": {
    "section": _SECTIONS[n % len(_SECTIONS)], "keywords": list(_THINGS[n % 7 : n % 7 + 5])}} for n in range(160)]})


def _chrome(outlet: Outlet, title: str, body: str, head: str = "") -> str:
    """The boilerplate every page of a site shares: scripts, styles, navigation, newsletter box, footer."""
    menu = "".join(f'<li><a href="/{s.lower()}/">{s}</a></li>' for s in _SECTIONS)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)} | {_e(outlet.name)}'
            f"</title><meta name='viewport' content='width=device-width'>{head}<style>{_STYLE}</style>"
            f"<script>window.siteConfig={_SITE_CONFIG};window.dataLayer=window.dataLayer||[];</script></head>"
            f'<body><header class="site-header"><a class="logo" href="/">{_e(outlet.name)}</a>'
            f'<nav class="menu"><ul>{menu}</ul><ul class="mega-menu">{_MEGA_MENU}</ul></nav></header>{body}'
            '<div class="newsletter"><h3>The morning briefing</h3><p>Our editors pick the day\'s stories for you, '
            'every weekday at seven.</p><form><input type="email" placeholder="E-mail"><button>Sign up</button></form>'
            f'</div><footer><p>© 2024 {_e(outlet.name)}. All rights reserved.</p><p><a href="/privacy">Privacy</a> · '
            '<a href="/terms">Terms</a> · <a href="/contact">Contact</a></p></footer></body></html>')


def _article_page(outlet: Outlet, article: WebArticle, base: str, *, canonical: bool = True) -> str:
    when = article.published.isoformat()
    head = f'<link rel="canonical" href="{base}{_e(article.path)}">' if canonical else ""
    head += f'<meta property="og:title" content="{_e(article.title)}">'
    related = "".join(f'<li><a href="/{2024}/related-{n}/">More from {_e(outlet.name)} #{n}</a></li>' for n in range(8))
    aside = f'<aside class="related"><h3>Read more</h3><ul>{related}</ul></aside>'
    if article.malformed:  # unclosed paragraphs, a stray end tag, shouting tags, no </body></html>
        text = "".join(f"<P>{_e(p)}" for p in article.paragraphs)
        return (f"<html><head><title>{_e(article.title)}</title></head><body><div class=menu><a href=/>Home</a>"
                f"</span></div><article><h1>{_e(article.title)}</h1><p class=byline>{_e(article.byline)}<div "
                f"class=body>{text}<b>Updated</div></article>")
    paragraphs = "".join(f"<p>{_e(p)}</p>" for p in article.paragraphs)
    if outlet.template == "wordpress":
        body = (f'<main id="content"><article class="post type-post"><header class="entry-header"><h1 '
                f'class="entry-title">{_e(article.title)}</h1><div class="entry-meta"><span class="byline">'
                f'{_e(article.byline)}</span> <time class="entry-date published" datetime="{when}">'
                f'{article.published:%B %d, %Y}</time></div></header><div class="share-buttons"><a href="#">Share'
                f'</a> <a href="#">E-mail</a></div><div class="entry-content">{paragraphs}</div></article>{aside}</main>')
    elif outlet.template == "newsroom":
        ld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "headline": article.title,
                         "datePublished": when, "author": {"@type": "Person", "name": article.byline.removeprefix("By ")}})
        head += f'<script type="application/ld+json">{ld}</script>'
        body = (f'<div class="page"><div class="story"><h1 class="story-headline">{_e(article.title)}</h1>'
                f'<p class="story-byline">{_e(article.byline)} · <time datetime="{when}">{article.published:%d %b %Y}'
                f'</time></p><div class="story-body" itemprop="articleBody">{paragraphs}</div><div class="cookie-'
                f'banner">We use cookies. <button>Accept</button></div></div>{aside}</div>')
    else:
        body = (f'<main><div class="article"><h1>{_e(article.title)}</h1><div class="meta">{_e(article.byline)}, '
                f'{article.published:%Y-%m-%d}</div><div class="article-text">{paragraphs}</div><div class="comments">'
                f"<h3>Comments (0)</h3><p>Be the first to comment.</p></div></div>{aside}</main>")
    return _chrome(outlet, article.title, body, head)


# ----------------------------------------------------------------- driving monitor against it


def shipped_rules() -> str:
    """The ``[[rules]]`` of the shipped config.toml: the tests hold the real rules to the script."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    return text.split("# BEGIN RULES", 1)[1].split("# END RULES", 1)[0]


def monitor_env() -> dict[str, str]:
    """The environment of a ``monitor`` subprocess: this checkout importable, after any PYTHONPATH given."""
    path = os.pathsep.join(filter(None, (os.environ.get("PYTHONPATH"), str(ROOT))))
    return {**os.environ, "PYTHONPATH": path, "COLUMNS": "250", "NO_COLOR": "1"}


def start_daemon(cwd: Path) -> subprocess.Popen[bytes]:
    """``monitor run`` in ``cwd`` as a real process; its log goes to ``cwd/daemon.log`` (appended)."""
    with (cwd / "daemon.log").open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "monitor", "run"], cwd=cwd, env=monitor_env(),
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log)


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``condition`` until it is true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


# ----------------------------------------------------------------- in a child process


class NewsWebProcess:
    """The same web served by a child process; method calls are forwarded over a pipe.

    ``with NewsWebProcess(outlets=20, ...) as web: web.call("advance")``. The
    child is started with ``spawn`` so it shares nothing with the parent.
    """

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._conn: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self.bases: dict[str, str] = {}

    def __enter__(self) -> NewsWebProcess:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(target=_serve_in_child, args=(child, self._options), daemon=True)
        self._process.start()
        self._conn = parent
        self.bases = self.call("origins")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            self._conn.send(None)
            self._conn.close()
        if self._process is not None:
            self._process.join(timeout=10)

    def call(self, method: str, *args: Any) -> Any:
        """``getattr(web, method)(*args)`` in the child; exceptions there are raised here."""
        assert self._conn is not None, "use NewsWebProcess as a context manager"
        self._conn.send((method, args))
        ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(f"newsweb child: {value}")
        return value


def _serve_in_child(conn: Connection, options: dict[str, Any]) -> None:
    with NewsWeb(**options) as web:
        for request in iter(conn.recv, None):
            method, args = request
            try:
                conn.send((True, getattr(web, method)(*args)))
            except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises
                conn.send((False, repr(exc)))


if __name__ == "__main__":  # for a person: serve the scripted web and print its sources
    with NewsWeb() as served:
        print(served.sources_toml())
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
