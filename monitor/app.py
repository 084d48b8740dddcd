"""The application: what each command does, as functions over settings that return records.

The CLI (:mod:`monitor.cli`) parses arguments, calls one of these and prints what it
returns; it imports nothing else of the package but config and errors. Anything a
script or a test wants to do as a user would goes through here too.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor import dedup, health
from monitor.alerts import deliver_pending
from monitor.alerts.channels import deliver_channels
from monitor.alerts.notices import deliver_notices
from monitor.alerts.render import printable
from monitor.config import Settings, shipped_rules
from monitor.demo import DemoResult, run_demo
from monitor.errors import BadArgumentError, ConfigError, MonitorError
from monitor.fetch.client import Fetcher
from monitor.fetch.urls import canonicalize
from monitor.ingest import novelty
from monitor.models import Extracted, Heartbeat, LabelledPassage, Match, NotModified, RuleVerdict
from monitor.pipeline import CheckReport, utcnow
from monitor.prepare import extract_fetched, extract_file
from monitor.rules import highlight_spans, rules_of
from monitor.rules.evaluation import RuleScore, evaluate, label_key
from monitor.scheduler import Daemon, open_pipeline
from monitor.stopping import run_stoppable
from monitor.store import Archive, iso
from monitor.store import datasette as store_datasette
from monitor.store.lock import instance_lock
from monitor.store.writer import ArchiveWriter
from monitor.workers import Workers

log = logging.getLogger(__name__)

__all__ = [
    "ArchiveStatus", "CheckReport", "DemoResult", "OnceResult", "check_once", "counted", "datasette_metadata", "demo",
    "evaluate_rules", "extract_page", "health_problems", "highlight_spans", "iso", "judge_rules", "printable",
    "run_daemon", "search", "status",
]


def _say_if_nothing_to_check(settings: Settings) -> None:
    """A config without sources (a first try, sources left in another file) checked nothing in silence: exit 0."""
    if not settings.sources:
        log.warning("the config has no [[sources]]: nothing is checked (queued alerts are still delivered)")


def _check_rules(settings: Settings) -> None:
    """Compile the rules here, once, so that a bad query (an unknown @list, a ( never closed) is a ConfigError.

    Only the parsing workers compiled them: ``once`` printed each worker's traceback and then "the parsing workers
    could not start", and ``run`` started and failed every check with that, for as long as it ran.
    """
    rules_of(settings)


def run_daemon(settings: Settings) -> None:
    """The daemon, until SIGINT, SIGTERM or SIGHUP; one per archive (a second is refused, naming the first)."""
    _say_if_nothing_to_check(settings)
    _check_rules(settings)
    with instance_lock(Path(settings.database)):
        Archive.create(settings.database).close()  # made or migrated here; the daemon's one connection follows
        asyncio.run(Daemon(settings).run())


@dataclass(frozen=True)
class OnceResult:
    """What ``monitor once`` did: each source's check, and a line for each way of delivery that failed this run."""

    checks: list[CheckReport]
    undelivered: list[str]  # e.g. "e-mail: 2 alerts not delivered (SMTP 550 5.7.1 Relaying denied)"

    @property
    def unstored(self) -> list[str]:
        """A line for each source whose articles could not be stored, the archive not written (locked, a full disk)."""
        return [f"{check.source}: {counted(len(check.unstored), 'article')} not stored"
                f" ({next(iter(check.unstored.values()))})" for check in self.checks if check.unstored]


def check_once(
    settings: Settings, source_name: str | None, *, force: bool, progress: Callable[[int], None] | None = None
) -> OnceResult:
    """Check every source (or one) once and deliver what is queued (alerts, operator notices), even when a check
    failed. ``progress`` is told how many sources are done, as each is.
    """
    _say_if_nothing_to_check(settings)
    sources = [settings.source(source_name)] if source_name else list(settings.sources)
    done = 0

    def checked() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done)

    async def check_and_deliver() -> OnceResult:
        # The workers start first: their fork server loads its modules (a third of a second) while the rules are
        # checked here, which the first page waited for. A bad rule still stops before the archive is opened. A pool
        # without workers compiled them here as it opened.
        async with Workers(settings) as workers:
            if not workers.in_process:
                await asyncio.to_thread(_check_rules, settings)
            Archive.create(settings.database).close()  # made or migrated here; the check's one connection follows
            async with ArchiveWriter(settings.database) as writer:
                channels = [channel.name for channel in settings.channels]
                await writer.run(lambda archive: archive.register_channels(channels, utcnow()))
                try:
                    async with open_pipeline(settings, writer, workers) as pipeline:
                        checks = await pipeline.check_all(sources, force=force, on_checked=checked)
                finally:
                    mailed = await deliver_pending(writer, settings.email, utcnow())
                    posted = await deliver_channels(writer, settings.channels, utcnow())
                    await deliver_notices(writer, settings.email, settings.channels, utcnow())
        failures = {"e-mail": mailed.failed} | {f"channel {name}": report.failed for name, report in posted.items()}
        return OnceResult(checks, [_undelivered(way, failed) for way, failed in failures.items() if failed])

    return run_stoppable(check_and_deliver())


def _undelivered(way: str, failed: dict[int, str]) -> str:
    return f"{way}: {counted(len(failed), 'alert')} not delivered ({next(iter(failed.values()))})"


def counted(count: int, noun: str) -> str:
    """``3 alerts``, ``1 alert``: a count and its noun, in the lines a person reads."""
    return f"{count} {noun}{'s' if count != 1 else ''}"


def demo(settings: Settings | None, output: Path) -> DemoResult:
    """One offline cycle over the bundled sample; ``settings`` None: the rules shipped with monitor."""
    beat = settings or shipped_rules()
    _check_rules(beat)
    return run_demo(beat, output)


def search(database: Path, query: str, limit: int) -> list[dict[str, Any]]:
    """Articles of the archive at ``database`` matching a full-text query (FTS5 syntax)."""
    try:
        query.encode("utf-8")
    except UnicodeEncodeError:  # bytes the locale could not decode arrive as lone surrogates
        raw = query.encode("utf-8", "surrogateescape")
        try:
            query = raw.decode("utf-8")  # UTF-8 typed under a locale that is not (LANG=C): the archive's own
        except UnicodeDecodeError as exc:
            raise MonitorError(f"the search query {raw!r} is not UTF-8 text: type it in a UTF-8 terminal,"
                               " or set LANG to a UTF-8 locale") from exc
    with Archive.read(database) as archive:
        return archive.search(query, limit)


def datasette_metadata(database: Path) -> dict[str, Any]:
    """Datasette's metadata for the archive at ``database``: what each table holds, labels, facets, sort orders."""
    return store_datasette.datasette_metadata(database)


def judge_rules(
    settings: Settings, rule_name: str | None, *, since: datetime | None, text: str | None, title: str
) -> tuple[list[RuleVerdict], int]:
    """What the rules (or one) make of the archive's articles, or of one text, and how many were read.

    Novelty is judged as ingest judges it, against the passages shown before; nothing is written.
    """
    if not settings.rules:
        raise MonitorError("the configuration has no [[rules]]")
    chosen = [settings.rule(rule_name)] if rule_name else list(settings.rules)
    ruleset = rules_of(settings.model_copy(update={"rules": chosen}))
    if text is not None:
        articles = [(0, title, text)]
    else:
        with Archive.read(settings.database) as archive:
            articles = list(archive.articles(since=since))
    earlier: dict[tuple[str, str], list[str]] = {}
    verdicts: list[RuleVerdict] = []
    for article_id, article_title, body in articles:
        judgements = ruleset.explain(body, article_title)
        verdicts += [RuleVerdict(article_id, article_title, j, None) for j in judgements if not j.matched]
        matched = [judged for judged in judgements if judged.matched]
        keys = [dedup.passage_keys(judged.passage) for judged in matched]
        known = [[p for key in k for p in earlier.get((j.rule, key), ())] for j, k in zip(matched, keys, strict=True)]
        mentions = novelty([Match(j.rule, j.passage, j.terms) for j in matched], keys, known)
        for judged, judged_keys, mention in zip(matched, keys, mentions, strict=True):
            for key in judged_keys:
                earlier.setdefault((judged.rule, key), []).append(judged.passage)
            verdicts.append(RuleVerdict(article_id, article_title, judged, mention.new))
    return verdicts, len(articles)


_PASSAGE_FIELDS = frozenset({"id", "title", "text", "note"})  # a labelled record's fields besides its labels


def evaluate_rules(settings: Settings, labelled: Path) -> dict[str, RuleScore]:
    """Each rule's precision and recall over a labelled JSONL file.

    A bad line or label, or a file labelling no passage for any rule (whose scores would read 1.000), is a
    ConfigError naming the file; a field that names no rule (a typo, or a rule of another config) is warned of.
    """
    ruleset = rules_of(settings)
    rule_of = {label_key(name): name for name in ruleset.names}
    # Bytes: a line that is not UTF-8 is named; U+2028 ends no line. A byte-order mark (Notepad's, Excel's "CSV UTF-8")
    # was line 1's "Unexpected UTF-8 BOM", a character no editor shows.
    lines = labelled.read_bytes().removeprefix(codecs.BOM_UTF8).splitlines()
    passages = []
    strays: dict[str, int] = {}  # a field naming no rule, and its first line
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            record = _labelled_record(raw)
            labels = {rule_of[key]: _label(key, value) for key, value in record.items() if key in rule_of}
        except ValueError as exc:
            raise ConfigError([f"line {number}: {exc}"], str(labelled)) from exc
        passages.append(LabelledPassage(str(record.get("id", number)), record["text"], record.get("title") or "",
                                        labels, str(record.get("note", ""))))
        for key in record:
            if key not in rule_of and key not in _PASSAGE_FIELDS:
                strays.setdefault(key, number)
    named = ", ".join(f"{key!r} (line {number})" for key, number in strays.items())
    if not any(passage.labels for passage in passages):
        raise ConfigError([f"no passage is labelled for any rule: label fields are {', '.join(map(repr, rule_of))}"
                           + (f"; these name no rule: {named}" if named else "")], str(labelled))
    if named:
        log.warning("%s: these fields name no rule and are left out: %s", labelled, named)
    return evaluate(ruleset, passages)


def _labelled_record(raw: bytes) -> dict[str, Any]:
    """One line of a labelled file as its JSON object; a ValueError says what is wrong with it."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text (byte {exc.start}: {exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"not a labelled passage (JSONDecodeError: {exc})") from exc
    if not isinstance(record, dict) or not isinstance(record.get("text"), str) \
            or not isinstance(record.get("title") or "", str):
        raise ValueError('not a labelled passage: a JSON object with a "text" string, a "title" string (optional)'
                         " and a label for each rule")
    return record


def _label(key: str, value: object) -> bool:
    """A label is 0 or 1, or false or true: bool("0") and bool("no") were true."""
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    raise ValueError(f"label {key!r} is {json.dumps(value)}: give 0 or 1 (or false or true)")


_URL = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)  # any scheme, in any case: ftp:// is no file name


def extract_page(settings: Settings | None, target: str) -> Extracted:
    """What the extractor takes from a URL (fetched as the daemon fetches) or a file, parsed in a worker under
    the configured limits, as the daemon parses."""
    settings = settings or Settings()
    _check_rules(settings)  # the worker compiles them too
    is_url = _URL.match(target) is not None
    if is_url:
        try:
            canonicalize(target)  # as the fetcher will, before any worker starts
        except ValueError as exc:
            raise BadArgumentError(f"{exc} (give an http(s) URL or a file)") from None
    one_page = settings.limits.model_copy(update={"workers": min(settings.limits.worker_count, 1)})

    async def read() -> Extracted:
        async with Workers(settings.model_copy(update={"limits": one_page})) as workers:
            if not is_url:
                path = Path(target)
                if path.is_dir():
                    raise MonitorError(f"{target}: is a folder (give a page's file or an http(s) URL)")
                if not path.exists():
                    raise MonitorError(f"{target}: no such file (give a file or an http(s) URL)")
                if not path.is_file():  # a device or a pipe, which need not end, is not read
                    raise MonitorError(f"{target}: not a regular file (give a page's file or an http(s) URL)")
                try:
                    body = path.read_bytes()
                except OSError as exc:
                    raise MonitorError(f"{target}: cannot be read: {exc.strerror or exc}") from exc
                return await workers.run(target, extract_file, body, target)
            async with Fetcher(settings.fetch, [target]) as fetcher:
                page = await fetcher.fetch(target, kind="article")
            assert not isinstance(page, NotModified)  # no validators were sent
            return await workers.run(page.url, extract_fetched, page)

    return run_stoppable(read())


Backlog = tuple[int, str | None]  # the alerts a way of delivery has not delivered, and its latest error


@dataclass(frozen=True)
class ArchiveStatus:
    """What ``monitor status`` shows, read in one opening of the archive."""

    sources: dict[str, dict[str, Any]]  # the stored sources, by name
    counts: dict[str, int]  # articles, stories, mentions; ``notices``: operator notices not yet delivered everywhere
    email: Backlog
    channels: list[tuple[str, int, str | None]]  # each configured channel's name and backlog
    heartbeat: Heartbeat | None


def status(settings: Settings) -> ArchiveStatus:
    """The archive's view of the sources, its counts, what e-mail and each channel have not delivered, and the last
    heartbeat."""
    with Archive.read(settings.database) as archive:
        return ArchiveStatus(
            sources={row["name"]: row for row in archive.source_rows()},
            counts=archive.counts() | {"notices": archive.queued_notice_count()},
            email=archive.email_backlog(),
            channels=[(channel.name, *archive.channel_backlog(channel.name)) for channel in settings.channels],
            heartbeat=archive.heartbeat(),
        )


def health_problems(settings: Settings) -> tuple[list[str], Heartbeat | None]:
    """What makes the daemon unhealthy (none: healthy), with its last heartbeat. Only the sources, the heartbeat and
    the oldest alert each configured way of delivery owes are read, not the counts ``status`` shows: a health check
    runs every few seconds, on an archive of any size."""
    with Archive.read(settings.database) as archive:
        stored = {row["name"]: row for row in archive.source_rows()}
        heartbeat = archive.heartbeat()
        owed = {"e-mail": archive.email_waiting_since(digest=settings.email.mode == "digest")} if settings.email else {}
        for channel in settings.channels:
            owed[f"channel {channel.name}"] = archive.channel_waiting_since(channel.name)
    names = [source.name for source in settings.sources]
    return health.problems(heartbeat, names, stored, datetime.now(UTC), owed), heartbeat
