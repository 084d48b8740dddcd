"""One check of one source, end to end: discover, fetch, extract, dedup, store, match.

The decisions (is this text known, which story, is this passage new) are made by
the pure functions of :mod:`monitor.dedup` and :mod:`monitor.rules`; this module
only sequences them around the I/O of fetching and of the archive.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from monitor import dedup, drift
from monitor.alerts.render import render_text
from monitor.config import DEFAULT_MESSAGE_DOMAIN, Settings, SourceSettings
from monitor.errors import (
    ArchiveError, DeferredError, FetchError, HTTPStatusError, NetworkError, ParseLimitError,
    RobotsUnreachableError, UnsupportedContentError,
)
from monitor.fetch.client import Fetcher, Holding, politeness_key
from monitor.fetch.backoff import next_delay
from monitor.fetch.fairness import PARTY, FairSlots
from monitor.fetch.urls import canonicalize, is_home, outlet_of
from monitor.ingest import plan, reads_more
from monitor.models import (
    Article, CheckRecord, IngestPlan, Known, Link, Mention, NotModified, Page, SourceNotice, SourceState,
)
from monitor.polling import WINDOW, interval_for
from monitor.prepare import Prepared, prepare, read_article
from monitor.rules import Ruleset
from monitor.sources import discover
from monitor.storage import IngestStore
from monitor.store import Archive
from monitor.store.writer import ArchiveWriter
from monitor.workers import Workers, WorkersError

log = logging.getLogger(__name__)

# Bytes of article bodies the monitor's process holds between fetching them and a worker parsing them, about: half
# in small bodies, half in large ones (near fetch.max_bytes).
UNPARSED_BYTES = 64_000_000
# Articles under way at once (fetching, waiting for a worker or for the writer), per fetch.concurrency: pages fetched
# and not yet parsed are at most two per request (Pipeline._unparsed); the rest is room for those waiting to be stored.
UNDER_WAY_PER_FETCH = 4

DAY = timedelta(days=1)  # the period of limits.text_per_day
# What a page costs limits.text_per_day besides its text and its URLs (URL_COST): an article's other rows (its bands,
# signature, index entries) take the archive about 2.5 KB. Without it a source's thousand short pages a check, 420
# characters each, added 2.2 GB a day at the shortest interval within the budget.
PAGE_CHARS = 2000
# What a character of an article's URLs costs it, a character of text costing one: a URL is kept in several tables
# and their keys (the article, the URLs that lead to it, when each was read), without the full-text index's share.
# Uncounted, links of 7,700 characters redirected to as long a URL with as long a canonical one took 73 KB of archive
# a page, 29 bytes for each character the budget counted.
URL_COST = 4

# A link whose fetch failed for a passing reason is tried in this many checks, then left alone. Each try waits
# RETRY_PAUSE after the last failure, doubling with each (see retry_due).
MAX_ARTICLE_ATTEMPTS = 5
RETRY_PAUSE = timedelta(minutes=2)
# A page its listing says changed after its source read it (a feed item's update time, a sitemap's lastmod) is read
# again while its story is younger than REREAD_DAYS: a breaking story is written in place. After a read again that found
# no news there, the next waits REREAD_PAUSE, doubling with each such read up to REREAD_PAUSE_MAX (see read_again).
REREAD_DAYS = timedelta(days=7)
REREAD_PAUSE = timedelta(minutes=10)
REREAD_PAUSE_MAX = timedelta(days=1)
SENT_HOME = "redirected to the site's home page"
# Alerts a check cut short by a stop logs in full; the rest are counted in one line (see Pipeline._log_alerts).
CUT_SHORT_LOGGED = 10

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Ingested:
    """What storing one article did."""

    article_id: int
    status: str  # "new" | "copy" (near-duplicate, same story) | "same-text" (alias of a stored article) | "known-url"
    story_id: int
    alert_id: int | None = None
    mentions: tuple[Mention, ...] = ()


@dataclass
class CheckReport:
    """What one check of one source found, for logs, ``monitor once`` and benchmarks."""

    source: str
    links: int = 0
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    skipped: int = 0
    alerts: set[int] = field(default_factory=set)
    not_modified: bool = False
    reread: int = 0  # links read before, taken again: their listing says the page changed since (read_again)
    error: str | None = None
    backing_off_until: datetime | None = None  # not checked: the source is backing off after failures
    next_due: datetime | None = None  # when the source is to be checked next (adaptive interval or backoff)
    retry_later: int = 0  # article fetches that failed in a way worth retrying (5xx, timeouts, a stub)
    # Links whose article (or failure) could not be written to the archive (locked, a full disk): the cause, by URL.
    unstored: dict[str, str] = field(default_factory=dict)
    left: int = 0  # new links past limits.links_per_check, taken by the next checks
    # Of those, the links whose host asked to wait (a 429, a Retry-After), and what it said: one line for the check
    # in the log, not one a link, for as long as the host rate-limits.
    held_by_host: int = 0
    host_said: str = ""
    text_chars: int = 0  # characters of text the extractions of the fetched pages gave, in all
    url_chars: int = 0  # characters of the URLs the articles read are stored under, in all
    text_left: float = math.inf  # characters of text the source may still give this check (limits.text_per_day)
    notice: SourceNotice | None = None  # the source's health changed
    moved_to: str | None = None  # the source's URL redirects there for good (301, 308): its config is out of date


def ingest(
    archive: Archive, article: Article, ruleset: Ruleset, now: datetime, domain: str = DEFAULT_MESSAGE_DOMAIN
) -> Ingested:
    """Store one article with its urls, story, mentions and alert, in one transaction."""
    with archive.transaction():
        return store(archive, prepare(article, ruleset), now, domain)


def store(
    archive: IngestStore, prepared: Prepared, now: datetime, domain: str = DEFAULT_MESSAGE_DOMAIN,
    outlet_sources: tuple[str, ...] = (),
) -> Ingested:
    """Store a prepared article: look up what the archive knows, decide (:func:`monitor.ingest.plan`), apply.

    ``outlet_sources`` are the sources of the article's source's outlet (:func:`outlets`; itself alone if none).
    Run it in a transaction, so that the lookups and the writes see one state of the archive and
    all of it lands or none: :func:`ingest` opens one, and the archive writer runs each write in
    a savepoint of its own.
    """
    known = _known(archive, prepared, outlet_sources or (prepared.article.source,))
    return _apply(archive, prepared, plan(prepared.matches, prepared.passage_keys, known), now, domain)


def outlets(sources: Sequence[SourceSettings]) -> dict[str, tuple[str, ...]]:
    """Each source's name with the names of its outlet's sources, itself included (:func:`outlet_of` of their URLs):
    what one's links led to, the others know too, so that an outlet's feed and sitemap fetch a story once. Another
    outlet's links do not count: a feed listing an outlet's next URL before the story is there is no outlet's."""
    by_outlet: dict[str, list[str]] = {}
    for source in sources:
        by_outlet.setdefault(outlet_of(source.url), []).append(source.name)
    return {name: tuple(names) for names in by_outlet.values() for name in names}


def _known(archive: IngestStore, prepared: Prepared, outlet_sources: tuple[str, ...]) -> Known:
    """What the archive holds that bears on a new article; only as much as the decision needs.

    A URL another outlet's link led to is not known for this one until what is there now is compared: the same text
    or a near copy is that article, a different text a new one (that link came before the story was there).
    """
    article, text_print = prepared.article, prepared.text_print
    urls = (article.url, *article.aliases)
    mine = archive.article_at(urls, outlet_sources)
    if mine is not None and archive.text_hash_of(mine) == text_print.text_hash:
        return Known(mine, None, 0, ())
    # Not there, or read again and changed since (see read_again): judged as a page first read.
    same_text = archive.article_with_hash(text_print.text_hash)
    if same_text is not None:
        if not reads_more(prepared.matches, prepared.passage_keys, archive.matched_passages(same_text)):
            return Known(None, same_text, 0, ())
        # The same text to the exact-copy key, not to the rules: a copy of its own in that story, its passages judged.
        text_key = dedup.variant_key(text_print.text_hash, article.title, article.text)
        same_variant = archive.article_with_hash(text_key)
        if same_variant is not None:
            return Known(None, same_variant, 0, ())
        return Known(None, None, archive.story_of(same_text), _earlier_passages(archive, prepared), text_key)
    listed = archive.articles_at(urls)
    found = dedup.closest(text_print, [c.signature for c in listed], [c.shingles for c in listed])
    if found is not None:
        near = listed[found]
        if not reads_more(prepared.matches, prepared.passage_keys, archive.matched_passages(near.article_id)):
            return Known(near.article_id, None, 0, ())
        # The story written in place, news the rules read added (a breaking story's updates): a copy of its own in
        # that story, its passages judged.
        return Known(None, None, near.story_id, _earlier_passages(archive, prepared))
    candidates = archive.near_candidates(text_print.band_keys)
    found = dedup.closest(text_print, [c.signature for c in candidates], [c.shingles for c in candidates])
    story = 0 if found is None else candidates[found].story_id
    return Known(None, None, story, _earlier_passages(archive, prepared))


def _earlier_passages(archive: IngestStore, prepared: Prepared) -> tuple[tuple[str, ...], ...]:
    """Per match, the stored passages of its rule that share a lookup key with it: what its novelty is judged by."""
    return tuple(
        tuple(archive.passages_with_keys(match.rule, keys, dedup.EARLIER_PER_KEY, dedup.MAX_EARLIER_PASSAGES))
        for match, keys in zip(prepared.matches, prepared.passage_keys, strict=True)
    )


def _apply(archive: IngestStore, prepared: Prepared, decided: IngestPlan, now: datetime, domain: str) -> Ingested:
    """Write what the plan says: the article, its URLs, its story, its mentions and their alert (its
    Message-ID in ``domain``)."""
    article, text_print = prepared.article, prepared.text_print
    if decided.alias_of is not None:  # known-url, same-text: its source skips these URLs from now on
        archive.add_urls(decided.alias_of, (article.url, *article.aliases), article.source, article.fetched)
        return Ingested(decided.alias_of, decided.status, 0)
    story_id = decided.story or archive.new_story(article.title, now)
    article_id = archive.insert_article(
        article,
        story_id=story_id,
        text_hash=decided.text_key or text_print.text_hash,
        word_count=text_print.word_count,
        signature=text_print.signature,
        shingles=text_print.shingles,
        band_keys=text_print.band_keys,
    )
    new_mention_ids = []
    for mention, keys, quote in zip(decided.mentions, prepared.passage_keys, decided.quoted, strict=True):
        # Only a new passage is keyed for the next judgements (see :func:`monitor.ingest.novelty`).
        mention_id = archive.insert_mention(article_id, mention, now, keys if mention.new else ())
        if mention_id and quote:
            new_mention_ids.append(mention_id)
    alert_id = archive.queue_alert(story_id, new_mention_ids, now, domain) if new_mention_ids else None
    return Ingested(article_id, decided.status, story_id, alert_id, decided.mentions)


def read_again(updated: datetime, read: datetime, no_news: int, now: datetime) -> bool:
    """Whether a page read at ``read`` is read again ``now`` that its listing says it changed at ``updated``, after
    ``no_news`` reads in a row that found nothing new there.

    A listing whose times move at every check while the page stays as it is costs a few fetches of it a day: the wait
    doubles with each read that found no news. Counted against a fixed number of reads instead, such a listing used
    them up, and the page's real update after that was never read.
    """
    if updated.replace(microsecond=0) <= read:  # the archive keeps seconds
        return False
    return not no_news or now - read >= min(REREAD_PAUSE * 2 ** min(no_news - 1, 20), REREAD_PAUSE_MAX)


def retry_due(attempts: int, last_failed: datetime, now: datetime) -> bool:
    """Whether a link that failed in passing ``attempts`` times, last at ``last_failed``, is tried again ``now``.

    A server's error, a time-out or a stub are not mended in seconds: tried at once (a second ``once``, a check of a
    source that publishes every minute), the attempts were spent before the page could have changed, and the source
    was read in full each time to find the link again.
    """
    return now - last_failed >= RETRY_PAUSE * (1 << max(attempts - 1, 0))


def _sent_home(page: Page, link: Link) -> bool:
    """Whether a link was redirected to its site's home page, which is not its article: sites send there the URLs
    they do not know (yet). A passing failure, so that a story published a little after its link is still taken."""
    # Not redirected, the page is at its link, which is canonical: no parse of the URL (a cost on every article).
    return page.url != link.url and not is_home(link.url) and is_home(canonicalize(page.url))


def _spent(text_chars: int, pages: int, url_chars: int) -> int:
    """What pages, their text and their articles' URLs cost a source's ``limits.text_per_day`` (see
    :data:`PAGE_CHARS`, :data:`URL_COST`)."""
    return text_chars + PAGE_CHARS * pages + URL_COST * url_chars


def _asked_to_wait(error: FetchError) -> bool:
    """Whether the host asked the monitor to slow down: it answered this link 429, or asked to wait (429 or 503 with
    Retry-After) and its wait was not over at the link's turn. Nothing is known of the link itself then."""
    return isinstance(error, DeferredError) or isinstance(error, HTTPStatusError) and error.status == 429


def _waiting(error: FetchError) -> str:
    if isinstance(error, DeferredError):
        return f"its host asked to wait {error.retry_after or 0:.0f} s more"
    return f"its host answered {error.reason}"


def _worth_retrying(error: FetchError) -> bool:
    """Server and network trouble passes (an unreadable robots.txt too); a refusal (robots, security, size,
    type, 4xx) does not. (A 429 is no failure of the link's: :func:`_asked_to_wait`.)"""
    if isinstance(error, HTTPStatusError):
        return error.status >= 500 or error.status == 408
    return isinstance(error, (NetworkError, RobotsUnreachableError))


class Pipeline:
    """Checks sources against one archive with one shared fetcher and one pool of parsing workers.

    Every read and write goes through ``writer``, the process's one connection to the
    archive. Use the pipeline as an async context manager: its start records the configured
    sources in the archive.
    """

    def __init__(
        self, settings: Settings, writer: ArchiveWriter, fetcher: Fetcher, workers: Workers, *, clock: Clock = utcnow
    ) -> None:
        self.settings = settings
        self.writer = writer
        self.fetcher = fetcher
        self.workers = workers
        self.clock = clock
        self._outlets = outlets(settings.sources)
        self._told_moved: set[str] = set()  # sources whose permanent redirect the log was told of, once a process
        # Article pages fetched or being fetched and not yet parsed. Pages arrive faster than the
        # workers read them, so without a bound a check of a few thousand links would hold them all;
        # and the bodies past a share of UNPARSED_BYTES are few at once (see Holding).
        slots = 2 * settings.fetch.concurrency
        self._unparsed = Holding(
            pages=FairSlots(slots),
            large=FairSlots(max(1, UNPARSED_BYTES // 2 // settings.fetch.max_bytes)),
            large_from=UNPARSED_BYTES // 2 // slots,
        )

    async def __aenter__(self) -> Pipeline:
        await self.writer.run(partial(Archive.sync_sources, sources=self.settings.sources))
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass  # the writer's owner commits what is queued as it closes it

    async def check(self, source: SourceSettings, *, force: bool = False) -> CheckReport:
        """Check one source; a source backing off after failures is left alone unless ``force``.

        Its requests wait for the fetcher's shared slots in turn with other sources' (:mod:`monitor.fetch.fairness`).
        """
        party = PARTY.set(source.name)
        try:
            return await self._check(source, force)
        finally:
            PARTY.reset(party)

    async def _check(self, source: SourceSettings, force: bool) -> CheckReport:
        report = CheckReport(source.name)
        state, waiting = await self.writer.run(lambda archive: (
            archive.source_state(source.name), archive.failures_to_retry(source.name, MAX_ARTICLE_ATTEMPTS)))
        started = self.clock()
        # Links to try again now: the source is read in full to find them (a 304 would lose them). Those not yet due
        # wait, and the source is asked conditionally meanwhile.
        due = {url for url, (attempts, last_failed) in waiting.items() if retry_due(attempts, last_failed, started)}
        deadline = asyncio.get_running_loop().time() + self.settings.limits.check_seconds
        if not force and state.failures and state.next_due and state.next_due > started:
            report.backing_off_until = state.next_due
            log.info("%s: backing off until %s", source.name, state.next_due)
            return report
        try:
            # Within the check's deadline too: a sitemap tree is 111 documents, each fetch may follow ten redirects to
            # new hosts whose robots.txt is read first, and each of those may take fetch.timeout. A tree of children
            # answering just before it held a check, and in `once` every source's alerts, for hours.
            async with asyncio.timeout_at(deadline):
                discovery = await discover(
                    source, self.fetcher, self.workers,
                    etag=None if due else state.etag, last_modified=None if due else state.last_modified,
                    body_hash=None if due else state.body_hash,
                )
        except TimeoutError:
            return await self._failed(source, state, started, report, self._overran("reading the source"), None)
        except FetchError as exc:
            retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
            return await self._failed(source, state, started, report, str(exc), retry_after)
        except WorkersError:
            raise  # no source's fault: nothing can be parsed, and the run says so
        except Exception as exc:  # noqa: BLE001 - the boundary of one source's check (see _failed)
            log.exception("%s: could not process the source", source.name)
            return await self._failed(source, state, started, report,
                                      f"could not be processed: {type(exc).__name__}: {exc}", None)
        report.not_modified = discovery.not_modified
        report.moved_to = discovery.moved_to
        if discovery.moved_to and source.name not in self._told_moved:
            self._told_moved.add(source.name)
            log.warning("%s: %s has moved for good (a permanent redirect) to %s: put that URL in the source's url in"
                        " the config, before the old one stops redirecting", source.name, source.url,
                        discovery.moved_to)
        links = list({link.url: link for link in discovery.links}.values())
        report.links = len(links)
        urls = [link.url for link in links]
        updated = {link.url: link.updated for link in links if link.updated is not None}
        outlet_sources = self._outlet_sources(source)
        known, reads, given_up = await self.writer.run(
            lambda archive: (archive.known_urls(urls, outlet_sources),
                             archive.last_reads(list(updated), outlet_sources, started - REREAD_DAYS),
                             archive.given_up_urls(urls, MAX_ARTICLE_ATTEMPTS, source.name))
        )
        changed = {url for url, (read, no_news) in reads.items() if read_again(updated[url], read, no_news, started)}
        skip = (known - changed) | given_up | (waiting.keys() - due)
        # A link due to be tried again that its source lists no more, or that led to an article since (through another
        # source of its outlet), is no failure of the source's any more: its row goes, or each check would read the
        # source in full to look for it, for the month failed_urls keeps it.
        if gone := (set() if discovery.not_modified else due.difference(urls) | (due & known)):
            await self.writer.run(lambda archive: archive.forget_failed_urls(gone, source.name))
        # Links never read first: a listing of many pages said to have changed would otherwise take the check's share
        # (limits.links_per_check) before a new story's link, and its alert waited for a later check.
        fresh = sorted((link for link in links if link.url not in skip), key=lambda link: link.url in known)
        report.reread = len(changed - given_up)
        # The source's last week of checks, read once: the day's text budget now, adaptive polling and health after.
        history = await self._history(source, since=started - WINDOW)
        report.text_left = self._text_left(source, history, started)
        # A check takes so many new links and leaves the rest to the next ones: a sitemap's 50,000 or a hostile
        # listing's 60,000 would hold this source's check (and in `once` every alert) for hours, a task each.
        wanted = fresh[: self.settings.limits.links_per_check] if report.text_left > 0 else []
        try:
            async with asyncio.timeout_at(deadline):  # a robots.txt for each new host, fetch.concurrency at a time
                taken = await self._polite_share(wanted)
        except TimeoutError:
            return await self._failed(source, state, started, report,
                                      self._overran("reading the robots.txt of its links' hosts"), None)
        report.left = len(fresh) - len(taken)
        # Articles of this check between the start of their fetch and their store. The writer can fall behind the
        # workers (an article of many matching passages takes it 50 ms; another process may hold the archive):
        # without a bound a check of 600 such articles held every one it had parsed, 130 MB in this process. A
        # check's own: its links wait for their hosts' turns, and a bound shared by every check would be held by
        # links waiting on one host while the others' turns went unused (half the rate over 20 outlets).
        under_way = asyncio.Semaphore(UNDER_WAY_PER_FETCH * self.settings.fetch.concurrency)
        try:
            results = await asyncio.gather(
                *(self._fetch_and_store(source, link, report, deadline, under_way) for link in taken)
            )
        except asyncio.CancelledError:
            # A stop (Ctrl-C, SIGTERM) cuts the check short: the alerts it queued are stored, and without [email] the
            # log is where they are seen, or they were never shown by any run.
            await self._log_alerts(source, report, cut_short=True)
            raise
        report.stored = sum(results)
        # With links left or articles not stored, keep the previous validators so the next check re-reads the source
        # and takes them instead of getting a 304 that would lose them for good. Links to retry are in failed_urls:
        # the check they are due at reads the source in full.
        unfinished = report.left > 0 or bool(report.unstored)
        check = CheckRecord(
            checked=started, ok=True, new_links=len(taken), changed=not discovery.not_modified, links=report.links,
            extracted=report.fetched, text_chars=report.text_chars, stored=report.stored, url_chars=report.url_chars,
        )
        history.append(check)
        next_due = report.next_due = started + timedelta(seconds=interval_for(source, self.settings, history, started))
        health = await self._judge(source, state.health, check, report, history)
        await self.writer.run(
            partial(
                Archive.record_success,
                name=source.name,
                check=check,
                next_due=next_due,
                etag=None if unfinished else discovery.etag,
                last_modified=None if unfinished else discovery.last_modified,
                body_hash=None if unfinished else discovery.body_hash,
                health=health,
                notice=report.notice,
            )
        )
        log.info(
            "%s: %d links, %d new%s, %d stored, %d duplicates%s%s%s",
            source.name, report.links, len(fresh) - report.reread,
            f", {report.reread} changed since read" if report.reread else "", report.stored, report.duplicates,
            f", {report.left - report.held_by_host} new links left for the next check (limits.links_per_check,"
            " wait_per_check, check_seconds, text_per_day)"
            if report.left > report.held_by_host else "",
            f", {report.held_by_host} new links left for a later check: {report.host_said}"
            if report.held_by_host else "",
            " (not modified)" if report.not_modified else "",
        )
        await self._log_alerts(source, report)
        return report

    async def _log_alerts(self, source: SourceSettings, report: CheckReport, cut_short: bool = False) -> None:
        """Alerts reach the log as well as the outbox, so none is unseen while [email] is absent: at the end of their
        check, where copies of a story found by it have folded into its alert, or as a stop cuts the check short.

        A stop logs the first :data:`CUT_SHORT_LOGGED` in full and counts the rest: a hostile feed's check had queued
        400 alerts, whose reading and logging held SIGTERM for 11 s."""
        alerts = sorted(report.alerts)
        if cut_short and len(alerts) > CUT_SHORT_LOGGED:
            log.info("%s: %d more alerts queued by its check, cut short by the stop: monitor status counts them, and the"
                     " archive's alerts table holds them", source.name, len(alerts) - CUT_SHORT_LOGGED)
            alerts = alerts[:CUT_SHORT_LOGGED]
        for alert_id in alerts:
            try:
                content = await self.writer.run(partial(Archive.alert_content, alert_id=alert_id))
            except Exception as exc:
                if not cut_short:
                    raise
                # A stop under way may have closed the writer: the alert is stored, and its number said.
                log.warning("%s: alert %d queued; its text could not be read for the log: %s", source.name, alert_id,
                            exc)
                continue
            log.info("alert %d queued%s:\n%s", alert_id,
                     f" (by {source.name}'s check, cut short by the stop)" if cut_short else "", render_text(content))

    async def _failed(
        self, source: SourceSettings, state: SourceState, started: datetime, report: CheckReport, error: str,
        retry_after: float | None,
    ) -> CheckReport:
        """Record a failed check and back off. A failure nobody foresaw (a source's body that trips a bug) is one
        too: it costs that source's check, never the other sources' or the run."""
        delay = next_delay(state.failures + 1, self.settings.interval_of(source), retry_after)
        next_due = report.next_due = started + timedelta(seconds=delay)
        report.error = error
        failed = CheckRecord(checked=started, ok=False, changed=False)
        health = await self._judge(source, state.health, failed, report)
        failures = await self.writer.run(
            partial(
                Archive.record_failure,
                name=source.name, checked=started, next_due=next_due, error=error, health=health,
                notice=report.notice,
            )
        )
        log.warning("%s: check failed (%d in a row), next in %.0fs: %s", source.name, failures, delay, error)
        return report

    def _outlet_sources(self, source: SourceSettings) -> tuple[str, ...]:
        """The names of the sources of ``source``'s outlet, its own included (:func:`outlets`)."""
        return self._outlets.get(source.name, (source.name,))

    def _overran(self, step: str) -> str:
        return f"{step} took more than limits.check_seconds ({self.settings.limits.check_seconds:g} s)"

    def _text_left(self, source: SourceSettings, history: list[CheckRecord], now: datetime) -> float:
        """Characters of article text the source may still give (``limits.text_per_day``, over the 24 hours of
        ``history`` before ``now``), each page fetched counted :data:`PAGE_CHARS` more.

        The archive keeps what a source gives, about 2.6 bytes a character with the full-text index: a source listing
        a thousand new pages of 200,000 characters at each check grew it by 520 MB a check, and a full disk stops
        every source's articles and alerts. Past the budget the source's new links wait for the next checks, which
        read the source again in full, as the links past ``links_per_check`` do: a busy outlet gives a tenth of it.
        """
        day = [check for check in history if check.checked >= now - DAY]
        spent = sum(_spent(check.text_chars, check.extracted, check.url_chars) for check in day)
        left = self.settings.limits.text_per_day - spent
        if left <= 0:
            log.warning("%s: its pages gave %d characters of text in 24 hours (limits.text_per_day): its new links"
                        " wait for the next checks", source.name, spent)
        return left

    async def _history(self, source: SourceSettings, since: datetime) -> list[CheckRecord]:
        return await self.writer.run(lambda archive: archive.check_history(source.name, since=since))

    async def _judge(
        self,
        source: SourceSettings,
        previous: str | None,
        check: CheckRecord,
        report: CheckReport,
        history: list[CheckRecord] | None = None,
    ) -> str | None:
        """The source's health after ``check``; ``report.notice`` says whether it changed (it is queued with the
        health, for :func:`monitor.alerts.notices.deliver_notices`)."""
        if history is None:
            history = [*await self._history(source, since=check.checked - WINDOW), check]
        health = drift.judge(history, check.checked, previous)
        report.notice = drift.notice_for(source.name, previous, health, check.checked)
        return health

    async def _polite_share(self, links: list[Link]) -> list[Link]:
        """The links one check takes: of each host, as many as its politeness delay lets through in
        ``limits.wait_per_check``. A Crawl-delay of 60 s and a listing of 1,000 links held a check, and in `once`
        every source's alerts, for 17 hours."""
        budget = self.settings.limits.wait_per_check
        first: dict[str, str] = {}  # each host's first link, in the links' order
        for link in links:
            first.setdefault(politeness_key(link.url), link.url)
        delays = await self._delays(list(first.values()))
        allowed = {host: max(1, budget // delay) if delay else math.inf
                   for host, delay in zip(first, delays, strict=True)}
        taken = []
        for link in links:
            host = politeness_key(link.url)
            if allowed[host] >= 1:
                allowed[host] -= 1
                taken.append(link)
        return taken

    async def _delays(self, urls: list[str]) -> list[float]:
        """The politeness delay of each URL's host, looked up at once (a robots.txt read, for a new host; the fetcher
        lets ``fetch.concurrency`` requests run at a time, these as any): looked up one host after another, 8 hosts
        whose robots.txt answered after 1.8 s held a check for 17.5 s, and 1,000 hostile subdomains would have held
        it for hours."""
        return list(await asyncio.gather(*(self.fetcher.delay_for(url) for url in urls)))

    async def _fetch_and_store(
        self, source: SourceSettings, link: Link, report: CheckReport, deadline: float, under_way: asyncio.Semaphore
    ) -> bool:
        """Fetch, extract, match and store one link. Whatever goes wrong with it costs that link only:
        a failure nobody foresaw (a page that trips a bug) is logged with its traceback, recorded
        against the URL as refused for good, and the check goes on. An archive that cannot be written (another
        process held it past the busy timeout, the disk is full) is no fault of the page: nothing is recorded
        against the URL, which the next check fetches again."""
        try:
            async with under_way:
                prepared = await self._fetch_article(source, link, report, deadline)
                if prepared is None:
                    return False
                domain = self.settings.email.message_domain if self.settings.email else DEFAULT_MESSAGE_DOMAIN
                result = await self.writer.run(
                    partial(store, prepared=prepared, now=prepared.article.fetched, domain=domain,
                            outlet_sources=self._outlet_sources(source)),
                    droppable=True,  # a stop drops it, and the next check fetches it again
                )
        except WorkersError:
            raise  # no page's fault: nothing can be parsed, and the check says so
        except ArchiveError as exc:  # the archive's trouble, not the page's: locked by another process, a full disk
            log.error("%s: %s could not be stored, and is fetched again at the next check: %s", source.name, link.url,
                      exc)
            report.unstored[link.url] = str(exc)
            return False
        except Exception as exc:  # noqa: BLE001 - the boundary of one article (see the docstring)
            log.exception("%s: could not process %s", source.name, link.url)
            report.skipped += 1
            await self._record_failed_url(link.url, source, f"could not be processed: {type(exc).__name__}: {exc}",
                                          retry=False)
            return False
        if result.status != "new" and result.status != "copy":
            report.duplicates += 1
            return False
        if result.alert_id is not None:
            report.alerts.add(result.alert_id)
        return True

    async def _fetch_article(
        self, source: SourceSettings, link: Link, report: CheckReport, deadline: float
    ) -> Prepared | None:
        """The article at a link, ready to store; the page is let go before it waits for the writer. A link not
        fetched, or fetched and not taken by a parsing worker, by the check's ``deadline`` (loop time,
        ``limits.check_seconds``) is left for the next check."""
        # The day's text is given; the pages under way as it ran out pass it a little.
        if _spent(report.text_chars, report.fetched, report.url_chars) >= report.text_left:
            report.left += 1
            return None
        try:
            async with asyncio.timeout_at(deadline):
                page = await self.fetcher.fetch(link.url, kind="article", hold=self._unparsed)
        except TimeoutError:
            report.left += 1
            return None
        except FetchError as exc:
            if _asked_to_wait(exc):
                # The host rate-limits: no attempt of the link's. Counted one, a host that rate-limited for five
                # checks had the links it answered 429 (or every link, before the wait was honoured) given up for good.
                report.host_said = _waiting(exc)
                log.debug("%s: %s left for a later check: %s", source.name, link.url, report.host_said)
                report.left += 1
                report.held_by_host += 1
                return None
            log.info("%s: skipped %s: %s", source.name, link.url, exc)
            report.skipped += 1
            retry = _worth_retrying(exc)
            report.retry_later += retry
            await self._record_failed_url(link.url, source, str(exc), retry=retry)
            return None
        refused = ""
        sent_home = False
        try:
            if isinstance(page, NotModified):
                return None
            sent_home = _sent_home(page, link)
            if not sent_home:
                report.fetched += 1
                read = await self.workers.run_by(deadline, page.url, read_article, page, link, source, self.clock())
        except TimeoutError:  # fetched in time, but no worker was free for it before the check's end: the next check's
            report.left += 1
            return None
        except (ParseLimitError, UnsupportedContentError) as exc:  # over a parsing limit, or binary data
            refused = exc.reason
        finally:
            # Whatever happens to the page: a place kept by one that raised was lost for the process's life.
            self._unparsed.release(0 if isinstance(page, NotModified) else len(page.body))
        if sent_home:
            log.info("%s: skipped %s: %s", source.name, link.url, SENT_HOME)
            report.skipped += 1
            report.retry_later += 1
            await self._record_failed_url(link.url, source, SENT_HOME, retry=True)
            return None
        if refused:
            log.warning("%s: refused %s: %s", source.name, link.url, refused)
            report.skipped += 1
            await self._record_failed_url(link.url, source, refused, retry=False)
            return None
        report.text_chars += read.text_chars
        report.url_chars += read.url_chars
        if read.prepared is None:
            # A stub now may be the story later: a breaking story goes up as a headline and a line, and is written
            # in place. Retried like a passing failure, it is read again at later checks while its source lists it.
            log.info("%s: no article text in %s (tried again at later checks)", source.name, page.url)
            report.skipped += 1
            report.retry_later += 1
            await self._record_failed_url(link.url, source, "no article text", retry=True)
        return read.prepared

    async def _record_failed_url(self, url: str, source: SourceSettings, error: str, *, retry: bool) -> None:
        await self.writer.run(
            partial(Archive.record_failed_url, url=url, source=source.name, error=error, retry=retry, when=self.clock())
        )

    async def check_all(
        self,
        sources: list[SourceSettings] | None = None,
        *,
        force: bool = False,
        on_checked: Callable[[], None] | None = None,
    ) -> list[CheckReport]:
        """Check ``sources`` (None: every configured one) at once; ``on_checked`` is told as each is done."""

        async def check(source: SourceSettings) -> CheckReport:
            report = await self.check(source, force=force)
            if on_checked:
                on_checked()
            return report

        chosen = self.settings.sources if sources is None else sources
        return list(await asyncio.gather(*(check(source) for source in chosen)))
