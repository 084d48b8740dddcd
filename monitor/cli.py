"""The ``monitor`` command line: a thin click layer over the pipeline's modules."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from monitor import __version__
from monitor.config import Settings, SourceSettings, load_config
from monitor.errors import ConfigError, FetchError, MonitorError
from monitor.store import Archive, iso

log = logging.getLogger("monitor")
EXIT_FAILURE = 1
EXIT_CONFIG = 2


class Context:
    """Global options, resolved lazily: ``demo`` and ``extract`` need no archive."""

    def __init__(self, config_path: Path, db_path: Path | None, config_given: bool = True) -> None:
        self.config_path = config_path
        self.config_given = config_given  # --config on the command line, rather than the default
        self.db_path = db_path
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_config(self.config_path)
            if self.db_path is not None:
                self._settings = self._settings.model_copy(update={"database": str(self.db_path)})
        return self._settings

    def archive(self, *, read_only: bool = False) -> Archive:
        """The archive; ``read_only`` for commands that only look (they never create or migrate it)."""
        return Archive(self.settings.database, read_only=read_only)


def fail(message: str, status: int = EXIT_FAILURE) -> NoReturn:
    click.echo(f"monitor: {message}", err=True)
    sys.exit(status)


class MonitorGroup(click.Group):
    """Turns the package's errors into one line on stderr and the right exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(f"monitor: {exc.path or _config_name(ctx)}: {problem}", err=True)
            sys.exit(EXIT_CONFIG)
        except MonitorError as exc:
            fail(str(exc))


def _config_name(ctx: click.Context) -> str:
    obj = ctx.find_object(Context)
    return str(obj.config_path) if obj else "config"


def _setup_logging(verbose: int, quiet: bool) -> None:
    """INFO by default (a daemon's log is its story), -q for warnings only, -v debug, -vv libraries too."""
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if verbose < 2:
        for noisy in ("httpx", "httpcore", "apscheduler", "hpack"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


@click.group(cls=MonitorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="monitor")
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=Path("config.toml"),
    show_default=True, help="Configuration file.",
)
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), help="Database path (overrides the config).")
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.pass_context
def cli(ctx: click.Context, config_path: Path, db_path: Path | None, verbose: int, quiet: bool) -> None:
    """News monitor for US–Russia relations: new mentions of the ambassadors and prisoner swaps."""
    _setup_logging(verbose, quiet)
    given = ctx.get_parameter_source("config_path") is not click.core.ParameterSource.DEFAULT
    ctx.obj = Context(config_path, db_path, given)


@cli.command()
@click.pass_obj
def run(obj: Context) -> None:
    """Run the daemon: check every source on its schedule and deliver alerts until SIGINT/SIGTERM."""
    from monitor.scheduler import Daemon
    from monitor.store.lock import instance_lock

    settings = obj.settings
    with instance_lock(Path(settings.database)), obj.archive() as archive:
        asyncio.run(Daemon(settings, archive).run())


@cli.command()
@click.option("--source", "source_name", help="Check only the source with this name.")
@click.option("--force", is_flag=True, help="Also check sources that are backing off after failures.")
@click.option(
    "--processes", type=click.IntRange(1, 64), default=1, show_default=True,
    help="Split the sources over this many processes (a host's sources stay together): for a first crawl of "
    "many sources on several cores.",
)
@click.pass_obj
def once(obj: Context, source_name: str | None, force: bool, processes: int) -> None:
    """Check every source (or one) once, deliver the alerts it queued, and exit.

    A source backing off after failures (or a Retry-After) is skipped until its
    next due time unless --force. Exits 1 when every source checked failed.
    """
    from monitor.alerts import deliver_pending
    from monitor.alerts.channels import deliver_channels
    from monitor.parallel import ProcessCrawl
    from monitor.pipeline import utcnow

    settings = obj.settings
    sources = [settings.source(source_name)] if source_name else list(settings.sources)
    with obj.archive() as archive:  # created or migrated here, before the processes share it
        archive.register_channels([channel.name for channel in settings.channels], utcnow())
    try:
        with (
            ProcessCrawl(settings, sources, processes, force=force) as crawl,
            Progress(transient=True, disable=not sys.stderr.isatty() or len(sources) < 2) as progress,
        ):
            task = progress.add_task("checking sources", total=len(sources))
            reports = crawl.run(lambda done: progress.update(task, completed=done))
    finally:  # alerts queued by this run or an earlier one go out even when a check failed
        with obj.archive() as archive:
            asyncio.run(deliver_pending(archive, settings.email, utcnow()))
            asyncio.run(deliver_channels(archive, settings.channels, utcnow()))
    table = Table("source", "links", "fetched", "stored", "duplicates", "alerts", "status")
    for report in reports:
        if report.error:
            status = f"[red]{report.error}[/red]"
        elif report.backing_off_until:
            status = f"backing off until {iso(report.backing_off_until)}"
        else:
            status = "not modified" if report.not_modified else "ok"
        table.add_row(report.source, str(report.links), str(report.fetched), str(report.stored),
                      str(report.duplicates), str(len(report.alerts)), status)
    Console(stderr=False).print(table)
    if reports and all(report.error for report in reports):
        fail("every source failed")


@cli.command()
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-output"),
              show_default=True, help="Folder for the demo database and the .eml alerts.")
@click.pass_obj
def demo(obj: Context, output: Path) -> None:
    """Run offline on the bundled sample of news sites and show the alerts (no network, no SMTP).

    The rules come from --config (./config.toml by default); where there is none, the rules
    shipped inside monitor (the same as the repository's config.toml) are used.
    """
    from monitor.config import shipped_rules
    from monitor.demo import run_demo

    if obj.config_given or obj.config_path.exists():
        beat = obj.settings
    else:
        log.info("no %s here: the demo uses the rules shipped with monitor", obj.config_path)
        beat = shipped_rules()
    if logging.getLogger().level > logging.DEBUG:
        logging.getLogger("monitor.pipeline").setLevel(logging.WARNING)  # the demo prints its alerts itself
    started = datetime.now(UTC)
    result = run_demo(beat, output)
    console = Console()
    stored = sum(report.stored for report in result.reports)
    console.print(f"\n[bold]monitor demo[/bold]: {len(result.reports)} outlets checked, {stored} articles stored, "
                  f"{len(result.alert_texts)} alert(s) in {(datetime.now(UTC) - started).total_seconds():.1f}s\n")
    for text, path in zip(result.alert_texts, result.alert_files, strict=True):
        console.rule(str(path))
        click.echo(text)
    db = result.database
    console.rule("explore the archive")
    click.echo(
        f"sqlite-utils tables {db} --counts\n"
        f'sqlite-utils search {db} articles "ambassadors" -c title -c site -c url\n'
        f"sqlite-utils rows {db} stories\n"
        f'sqlite-utils query {db} "select rule, passage, site from new_mentions"\n'
        f"datasette {db}   # if you have Datasette"
    )


@cli.command()
@click.argument("query")
@click.option("--limit", default=20, show_default=True, help="Most results to show.")
@click.pass_obj
def search(obj: Context, query: str, limit: int) -> None:
    """Full-text search of the archive (SQLite FTS5 syntax: words, "phrases", OR, NOT)."""
    try:
        query.encode("utf-8")
    except UnicodeEncodeError:  # bytes the locale could not decode arrive as lone surrogates
        raw = query.encode("utf-8", "surrogateescape")
        fail(f"the search query {raw!r} is not UTF-8 text: type it in a UTF-8 terminal, or set LANG to a UTF-8 locale")
    with obj.archive(read_only=True) as archive:
        rows = archive.search(query, limit)
    table = Table("id", "published", "site", "title", "url")
    for row in rows:
        table.add_row(str(row["id"]), row["published"] or "", row["site"], row["title"], row["url"])
    Console().print(table)
    if not rows:
        click.echo("no matches", err=True)


@cli.group()
def rules() -> None:
    """Work with the rules of the config."""


@rules.command("test")
@click.option("--rule", "rule_name", help="Only this rule.")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
              help="Only articles fetched since this date (UTC).")
@click.option("--text", help="Judge this text (a title may be given with --title) instead of the archive.")
@click.option("--title", default="", help="The title that goes with --text.")
@click.pass_obj
def rules_test(obj: Context, rule_name: str | None, since: datetime | None, text: str | None, title: str) -> None:
    """Run the rules over the archive (or --text) and explain what they match, new or not, without alerting.

    Each passage shows the clause that fired, the context found outside it (title:, lead:,
    article:) and, for a near-miss, the veto that stopped it.
    """
    from monitor import dedup
    from monitor.ingest import novelty
    from monitor.models import Match
    from monitor.rules import highlight_spans, rules_of

    settings = obj.settings
    chosen = [rule for rule in settings.rules if rule_name in (None, rule.name)]
    if not chosen:
        fail(f"no rule named {rule_name!r}" if rule_name else f"{obj.config_path} has no [[rules]] to test")
    ruleset = rules_of(settings.model_copy(update={"rules": chosen}))
    since_utc = since.replace(tzinfo=UTC) if since else None
    console = Console()
    counts: dict[str, list[int]] = {rule.name: [0, 0] for rule in chosen}
    # Earlier passages by (rule, lookup key): novelty is judged as ingest judges it.
    earlier: dict[tuple[str, str], list[str]] = {}
    if text is not None:
        articles = [(0, title, text)]
    else:
        with obj.archive(read_only=True) as archive:
            articles = list(archive.articles(since=since_utc))
    for article_id, article_title, body in articles:
        judgements = ruleset.explain(body, article_title)
        for judged in judgements:
            if not judged.matched:
                console.print(Text(f"[{judged.rule}] vetoed #{article_id} {article_title}\n  ", style="dim")
                              + Text(judged.passage))
                for clause, vetoing in judged.vetoes:
                    console.print(Text(f"    veto {clause}: {vetoing}", style="red"))
        matched = [judged for judged in judgements if judged.matched]
        keys = [dedup.passage_keys(judged.passage) for judged in matched]
        known = [[p for key in k for p in earlier.get((judged.rule, key), ())] for judged, k in zip(matched, keys)]
        mentions = novelty([Match(j.rule, j.passage, j.terms) for j in matched], keys, known)  # as ingest judges
        for judged, judged_keys, mention in zip(matched, keys, mentions, strict=True):
            new = mention.new
            for key in judged_keys:
                earlier.setdefault((judged.rule, key), []).append(judged.passage)
            counts[judged.rule][0] += 1
            counts[judged.rule][1] += new
            line = Text(f"[{judged.rule}] {'NEW ' if new else 'seen'} #{article_id} {article_title}\n  ", style="bold")
            passage = Text(judged.passage)
            for start, end in highlight_spans(judged.passage, judged.terms):
                passage.stylize("reverse yellow", start, end)
            console.print(line + passage)
            for clause in judged.clauses:
                console.print(Text(f"    clause: {clause}", style="green"))
            for where, found in judged.context:
                console.print(Text(f"    context from {where}: {found}", style="cyan"))
            for clause, vetoing in judged.vetoes:
                console.print(Text(f"    vetoed elsewhere by {clause}: {vetoing}", style="dim"))
    table = Table("rule", "articles scanned", "passages matched", "would be new")
    for name, (matched_count, new_count) in counts.items():
        table.add_row(name, str(len(articles)), str(matched_count), str(new_count))
    console.print(table)


@rules.command("eval")
@click.argument("labelled", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--misses/--no-misses", default=True, show_default=True, help="List every wrong judgement.")
@click.pass_obj
def rules_eval(obj: Context, labelled: Path, misses: bool) -> None:
    """Precision and recall of each rule over a labelled JSONL file, with every miss.

    Each line is an object with "text", "title" (optional), "id" (optional) and, per rule, a
    0/1 field named after the rule with spaces as underscores ("prisoner_swap").
    """
    from monitor.models import LabelledPassage
    from monitor.rules import rules_of
    from monitor.rules.evaluation import evaluate, label_key

    ruleset = rules_of(obj.settings)
    passages = []
    for number, line in enumerate(labelled.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            labels = {name: bool(record[label_key(name)]) for name in ruleset.names if label_key(name) in record}
            passages.append(LabelledPassage(str(record.get("id", number)), record["text"], record.get("title") or "",
                                            labels, str(record.get("note", ""))))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            fail(f"{labelled}:{number}: not a labelled passage ({exc.__class__.__name__}: {exc})", EXIT_CONFIG)
    scores = evaluate(ruleset, passages)
    table = Table("rule", "labelled", "precision", "recall", "true pos", "false pos", "missed")
    for name, score in scores.items():
        labelled_count = score.true_pos + score.false_pos + score.false_neg + score.true_neg
        table.add_row(name, str(labelled_count), f"{score.precision:.3f}", f"{score.recall:.3f}",
                      str(score.true_pos), str(score.false_pos), str(score.false_neg))
    console = Console()
    console.print(table)
    if misses:
        for name, score in scores.items():
            for kind, passage, matched in score.misses:
                console.print(Text(f"[{name}] {kind} {passage.id}: ", style="bold red")
                              + Text(f"{passage.title} | {passage.text}"), soft_wrap=True)
                for quoted in matched:
                    console.print(Text(f"    matched: {quoted}", style="dim"), soft_wrap=True)


@cli.command()
@click.argument("target", metavar="URL_OR_FILE")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.pass_obj
def extract(obj: Context, target: str, as_json: bool) -> None:
    """Show what the extractor takes from one page: title, byline, date, text."""
    from monitor.extract import extract as extract_page

    if target.startswith(("http://", "https://")):
        from monitor.config import FetchSettings
        from monitor.fetch import Fetcher
        from monitor.models import NotModified

        async def get() -> tuple[str, str]:
            try:
                fetch = obj.settings.fetch
            except ConfigError:
                fetch = FetchSettings()
            async with Fetcher(fetch, [target]) as fetcher:
                page = await fetcher.fetch(target, kind="article")
            assert not isinstance(page, NotModified)
            return page.text, page.url

        try:
            html, url = asyncio.run(get())
        except FetchError as exc:
            fail(str(exc))
    else:
        path = Path(target)
        if not path.is_file():
            fail(f"{target}: no such file (give a file or an http(s) URL)")
        html, url = path.read_bytes().decode("utf-8", "replace"), None
    result = extract_page(html, url)
    if as_json:
        data = asdict(result)
        data["published"] = result.published.isoformat() if result.published else None
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    console = Console()
    for label, value in (("title", result.title), ("byline", result.byline), ("published", result.published),
                         ("canonical", result.canonical_url), ("language", result.language),
                         ("outlet", result.outlet)):
        console.print(Text(f"{label:>10}: ", style="bold") + Text(str(value or "")), soft_wrap=True)
    console.rule()
    click.echo(result.text or "(no text)")


@cli.command()
@click.option("--check", is_flag=True, help="Only say whether the daemon is healthy; exit 1 when its scheduler "
              "has not ticked for three heartbeats or every source is failing (for health checks).")
@click.pass_obj
def status(obj: Context, check: bool) -> None:
    """Sources and their health (last check, last error, failures) and the queued alerts.

    Reads the archive only: a configured source not checked yet shows as never checked, and
    one in the archive but no longer in the config as retired.
    """
    from monitor import health

    settings = obj.settings
    with obj.archive(read_only=True) as archive:
        stored = {row["name"]: row for row in archive.source_rows()}
        queued = archive.queued_alert_count()
        counts = archive.counts()
        heartbeat = archive.heartbeat()
    if check:
        found = health.problems(heartbeat, [source.name for source in settings.sources], stored, datetime.now(UTC))
        if found:
            fail("unhealthy: " + "; ".join(found))
        assert heartbeat is not None
        click.echo(f"healthy: heartbeat {iso(heartbeat.beat)} from pid {heartbeat.pid}")
        return
    table = Table("source", "kind", "last checked", "failures", "next due", "interval", "articles", "health",
                  "last error")
    names = {source.name for source in settings.sources}
    configured = [(source.name, source.kind, stored.get(source.name)) for source in settings.sources]
    retired = [(f"{name} (retired)", row["kind"], row) for name, row in stored.items() if name not in names]
    for name, kind, row in configured + retired:
        row = row or {}
        source = settings.source(name) if name in names else None
        problem = row.get("health")
        table.add_row(name, kind, row.get("last_checked") or "never", str(row.get("failures", 0)),
                      row.get("next_due") or "", _interval(row.get("interval"), source, settings),
                      str(row.get("articles_found", 0)), Text(problem or "ok", style="yellow" if problem else ""),
                      Text(row.get("last_error") or "", style="red"))
    console = Console()
    console.print(table)
    console.print(f"articles: {counts['articles']}  stories: {counts['stories']}  mentions: {counts['mentions']}  "
                  f"alerts queued: {queued}")
    beat = f"last heartbeat {iso(heartbeat.beat)} from pid {heartbeat.pid}" if heartbeat else "never run"
    console.print(f"daemon: {beat}")


def _interval(seconds: int | None, source: SourceSettings | None, settings: Settings) -> str:
    """The interval of the last check, and whether it was learned: ``12m learned``, ``15m fixed``."""
    if source is None:
        return ""
    if seconds is None:
        seconds = settings.interval_of(source)
    if seconds >= 3600:
        spelled = f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    elif seconds >= 60:
        spelled = f"{seconds // 60}m{seconds % 60:02d}s"
    else:
        spelled = f"{seconds}s"
    return f"{spelled} {'learned' if settings.is_adaptive(source) else 'fixed'}"


def main() -> None:
    cli(prog_name="monitor")
