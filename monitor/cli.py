"""The ``monitor`` command line: a thin click layer over the pipeline's modules."""

from __future__ import annotations

import codecs
import io
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.progress import Progress
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from monitor import __version__, app
from monitor.config import Settings, SourceSettings, load_config, loops, names_folder, not_a_file, shipped_rules
from monitor.errors import BadArgumentError, ConfigError, MonitorError, Terminated
from monitor.stopping import terminate_as_interrupt


log = logging.getLogger("monitor")
EXIT_FAILURE = 1
EXIT_CONFIG = 2
EXIT_USAGE = 2  # as click's usage errors
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command Ctrl-C ended
MAX_SEARCH_RESULTS = 10_000  # far more than a terminal shows; a larger --limit is a typo
_UNCUT = 10_000  # columns of a console whose output goes to a pipe or a file
_RULE = 80  # columns of a rule between parts of the output, at most
_TERMINAL = 80  # columns of a terminal whose COLUMNS gives none


class Context:
    """Global options, resolved lazily: ``demo`` and ``extract`` need no config file."""

    def __init__(self, config_path: Path, db_path: Path | None, config_given: bool = True) -> None:
        self.config_path = config_path
        self.config_given = config_given  # --config on the command line, rather than the default
        self.db_path = db_path
        self._settings: Settings | None = None

    @property
    def has_config(self) -> bool:
        """Whether there is a config to read: one given by ``--config``, or ``./config.toml``."""
        return self.config_given or self.config_path.exists()

    @property
    def rules_settings(self) -> Settings:
        """The config's settings, or where there is none here (and none was given) the rules shipped with monitor,
        as the demo uses: the rules can be tried on a text or a labelled file from any folder."""
        if self.has_config:
            return self.settings
        log.info("no %s here: the rules shipped with monitor are used", self.config_path)
        shipped = shipped_rules()
        return shipped.model_copy(update={"database": str(self.db_path)}) if self.db_path is not None else shipped

    @property
    def database(self) -> Path:
        """The archive: ``--db``, else the config's. A command that reads the archive alone needs no config with
        ``--db`` (the demo's archive, a copy of the daemon's)."""
        return self.db_path or Path(self.settings.database)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_config(self.config_path)
            if self.db_path is not None:
                self._settings = self._settings.model_copy(update={"database": str(self.db_path)})
        return self._settings


def _rule(console: Console, title: str = "") -> None:
    """A rule between parts of the output, at most :data:`_RULE` wide: piped, the console is uncut (see
    :func:`_console`), and a rule was 10,000 columns wide (``extract``) or 30,000 (``demo``)."""
    console.print(Rule(title), width=min(console.width, _RULE))


def _console() -> Console:
    """A console for what pages and the archive say: rich's markup is not read in it ("[/x]" in a URL raised).

    Piped or logged (cron's mail, ``docker logs``), a table is as wide as its cells: cut to 80 columns, it lost the
    failing URL and the times an operator reads it for. A width given in ``COLUMNS`` still holds. A closed standard
    output (``>&-``, a service started without one) is None: rich prints nowhere, where asking it isatty() raised.
    A ``COLUMNS`` of no columns (0, a word) is no width given: rich took 0 and printed nothing, exit 0.
    """
    columns = os.environ.get("COLUMNS", "")
    given = columns.isdigit() and int(columns) > 0
    if not (sys.stdout and sys.stdout.isatty()):
        return Console(markup=False, emoji=False, width=None if given else _UNCUT)
    return Console(markup=False, emoji=False, width=None if given or not columns else _TERMINAL)


def _table(*headers: str) -> Table:
    """A table whose cells wrap rather than end in "…": in a narrow terminal every cell was cut to nothing."""
    table = Table()
    for header in headers:
        table.add_column(header, overflow="fold")
    return table


def fail(message: str, status: int = EXIT_FAILURE) -> NoReturn:
    """One line on stderr, escaped as log lines are: it may quote a server (an SMTP refusal, a channel's words)."""
    click.echo(f"monitor: {_UNPRINTABLE.sub(_escaped, message)}", err=True)
    sys.exit(status)


class MonitorGroup(click.Group):
    """Turns the package's errors into one line on stderr and the right exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.NoSuchOption as exc:
            if (misplaced := self._own_option(exc.option_name)) is None or exc.ctx is None:
                raise
            command = exc.ctx.command_path.removeprefix(f"{ctx.info_name} ")  # "rules test"
            fail(f"{exc.option_name} is an option of monitor itself, not of {command}: give it before the command"
                 f" (monitor {misplaced} {command} ...)", EXIT_USAGE)
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(f"monitor: {exc.path or _config_name(ctx)}: {problem}", err=True)
            sys.exit(EXIT_CONFIG)
        except BadArgumentError as exc:
            fail(str(exc), EXIT_USAGE)
        except MonitorError as exc:
            fail(str(exc))
        except Terminated as exc:
            fail(exc.said, 128 + exc.signum)  # as a shell reports a command the signal ended: now after a clean stop
        except KeyboardInterrupt:  # click's own "Aborted!" exited 1, as a failure, for what the user chose
            fail("interrupted", EXIT_INTERRUPTED)

    def _own_option(self, name: str) -> str | None:
        """A global option (``--config``, ``--db``, ``-v``, ``-q``) as it is written before a command, with what it
        takes (``--config FILE``), or None where ``name`` is none of them: given after the command, click said only
        "No such option", as if monitor had none."""
        for param in self.params:
            if isinstance(param, click.Option) and name in param.opts + param.secondary_opts:
                return name if param.is_flag or param.count else f"{name} FILE"
        return None


def _config_name(ctx: click.Context) -> str:
    obj = ctx.find_object(Context)
    return str(obj.config_path) if obj else "config"


# What a log line may not carry as it is: controls but the newline and tab (a terminal's escape sequences, C1's CSI
# and NEL among them), the line and paragraph separators, and the bidi embeddings, overrides and isolates.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class _EscapingFormatter(logging.Formatter):
    """Log lines with what is not printable escaped as Python writes it (``\\x9b``), seen and inert: a redirect's
    Location is the server's to write and reaches the log as it came, in the fetch error that names the URL.

    Their time is UTC, as ``2026-12-05T09:41:14.022Z``, as the archive, ``status`` and the alerts give every time: in
    local time without its offset, a line could not be set beside a source's ``next due``, and an hour of lines
    repeated its times when daylight saving time ended.
    """

    def __init__(self, fmt: str, datefmt: str) -> None:
        super().__init__(fmt, datefmt)
        self.converter = _utc

    def format(self, record: logging.LogRecord) -> str:
        return _UNPRINTABLE.sub(_escaped, super().format(record))


def _utc(seconds: float | None) -> time.struct_time:
    return time.gmtime(seconds)


def _escaped(found: re.Match[str]) -> str:
    return found[0].encode("unicode_escape").decode("ascii")


def _setup_logging(verbose: int, quiet: bool) -> None:
    """INFO by default (a daemon's log is its story), -q for warnings only, -v debug, -vv libraries too."""
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_EscapingFormatter("%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s",
                                            "%Y-%m-%dT%H:%M:%S"))
    logging.basicConfig(level=level, handlers=[handler])
    if verbose < 2:
        for noisy in ("httpx", "httpcore", "apscheduler", "hpack"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        # Its one warning, a run skipped while the job's last goes on, the daemon says itself, once a run.
        logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)


def _archive_file(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    """``--db ""`` (a variable that is not set) passes click as ``Path(".")``: ``run`` died on it with ValueError,
    and ``once`` and ``status`` blamed the current folder. ``--db data/`` made a file named ``data``."""
    if value is None:
        return None
    if not Path(value).name:
        raise click.BadParameter("empty: give the archive's file", ctx, param)
    if names_folder(value):
        raise click.BadParameter(f"{value} names a folder: give the archive's file, e.g. {value}monitor.db", ctx, param)
    if loops(value):
        raise click.BadParameter(f"{value} is a loop of symbolic links: give the archive's file", ctx, param)
    if not_a_file(value):  # /dev/null took a journal beside it and failed as "disk I/O error"
        raise click.BadParameter(f"{value} is not a regular file (a device, a pipe or a socket): give the archive's file",
                                 ctx, param)
    return Path(value)


@click.group(cls=MonitorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="monitor")
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=Path("config.toml"),
    show_default=True, help="Configuration file.",
)
@click.option("--db", "db_path", type=click.Path(dir_okay=False), callback=_archive_file,
              help="Database path (overrides the config).")
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.pass_context
def cli(ctx: click.Context, config_path: Path, db_path: Path | None, verbose: int, quiet: bool) -> None:
    """News monitor for US–Russia relations: new mentions of the ambassadors and prisoner swaps."""
    if verbose and quiet:  # -q won silently
        raise click.UsageError("-v asks for more logging and -q for less: give one of them", ctx)
    _setup_logging(verbose, quiet)
    given = ctx.get_parameter_source("config_path") is not click.core.ParameterSource.DEFAULT
    ctx.obj = Context(config_path, db_path, given)


@cli.command()
@click.pass_obj
def run(obj: Context) -> None:
    """Run the daemon: check every source on its schedule and deliver alerts until SIGINT/SIGTERM/SIGHUP."""
    try:
        app.run_daemon(obj.settings)
    except KeyboardInterrupt:  # SIGINT or SIGTERM before the daemon's own handlers: nothing was in flight
        log.info("daemon stopped before it started")


@cli.command()
@click.option("--source", "source_name", help="Check only the source with this name.")
@click.option("--force", is_flag=True, help="Also check sources that are backing off after failures.")
@click.pass_obj
def once(obj: Context, source_name: str | None, force: bool) -> None:
    """Check every source (or one) once, deliver the alerts it queued, and exit.

    A source backing off after failures (or a Retry-After) is skipped until its
    next due time unless --force. Exits 1 when every source checked failed, or every
    one failed or is backing off, when an
    article could not be stored because the archive could not be written (another
    process held it, the disk is full; it is fetched again at the next run), or when
    an alert could not be delivered, in this run or in an earlier one whose retry is
    still waiting (it stays queued). Ctrl-C, SIGTERM and SIGHUP stop it cleanly,
    delivering what is queued: exit 130, 143 and 129.
    """
    if source_name is not None and not source_name.strip():  # "" checked every source
        raise click.UsageError("--source needs a source's name", click.get_current_context())
    settings = obj.settings
    count = 1 if source_name else len(settings.sources)
    # On stderr, the terminal it is shown for: on stdout, redirected to a file, it left a blank line atop the table.
    # A closed stderr (2>&-) is None, and asking it isatty() failed the run before it began.
    shown = bool(sys.stderr and sys.stderr.isatty()) and count > 1
    with Progress(console=Console(stderr=True), transient=True, disable=not shown) as progress:
        task = progress.add_task("checking sources", total=count)
        result = app.check_once(settings, source_name, force=force,
                                progress=lambda done: progress.update(task, completed=done))
    reports = result.checks
    table = _table("source", "links", "fetched", "stored", "duplicates", "alerts", "status")
    for report in reports:
        if report.error:
            status = Text(app.printable(report.error), style="red")
        elif report.backing_off_until:
            status = Text(f"backing off until {app.iso(report.backing_off_until)}")
        else:
            status = Text("not modified" if report.not_modified else "ok")
            if report.left:
                status += f", {report.left} new links left for the next check"
            elif not report.links and not report.not_modified:  # a listing's selector may match nothing
                status += ", but no links found"
            if report.skipped:  # "ok" with nothing fetched read as if every link had been read
                status.append(_skipped(report.skipped, report.retry_later), style="yellow")
            if report.unstored:
                status.append(f", {len(report.unstored)} not stored (the archive could not be written)", style="red")
            if report.moved_to:  # followed at every check, until the old URL stops redirecting and the source fails
                status.append(f", moved for good to {app.printable(report.moved_to)}: put it in the config",
                              style="yellow")
        table.add_row(report.source, str(report.links), str(report.fetched), str(report.stored),
                      str(report.duplicates), str(len(report.alerts)), status)
    _console().print(table)
    problems = []
    if reports and all(report.error for report in reports):
        problems.append("every source failed")
    elif reports and all(report.error or report.backing_off_until for report in reports):
        # A cron job saw 0 while every source was broken: the runs within their backoff checked nothing.
        problems.append("no source was checked: every one failed or is backing off after failures (--force checks"
                        " them now)")
    if result.unstored:
        problems += [*result.unstored, "articles not stored are fetched again at the next run"]
    if result.undelivered:
        problems += [*result.undelivered, "queued alerts are retried by a later run once their wait is over (monitor"
                                          " status shows when)"]
    if problems:
        fail("; ".join(problems))


def _skipped(skipped: int, retried: int) -> str:
    """The links a check fetched or read nothing from, and how many of them later checks try again."""
    links = "link" if skipped == 1 else "links"
    again = f"{retried} tried again by later checks" if retried else "not tried again"
    return f", {skipped} {links} skipped ({again}; the causes are in failed_urls and the log)"


def _output_folder(ctx: click.Context, param: click.Parameter, value: str) -> Path:
    """``--output ""`` (a variable that is not set) passes click as the current folder, which took the demo's files."""
    if not value.strip():
        raise click.BadParameter("empty: give a folder, e.g. demo-output", ctx, param)
    return Path(value)


@cli.command()
@click.option("--output", type=click.Path(file_okay=False), default="demo-output", callback=_output_folder,
              show_default=True, help="Folder for the demo database and the .eml alerts.")
@click.pass_obj
def demo(obj: Context, output: Path) -> None:
    """Run offline on the bundled sample of news sites and show the alerts (no network, no SMTP).

    The rules come from --config (./config.toml by default); where there is none, the rules
    shipped inside monitor (the same as the repository's config.toml) are used. The archive
    is always --output's monitor-demo.db, made afresh: --db does not apply.
    """
    if obj.db_path is not None:  # the demo's archive is made afresh: --db would replace an archive the user keeps
        raise click.UsageError("--db does not apply to demo: it writes its own archive, monitor-demo.db, in --output",
                               click.get_current_context())
    beat = obj.settings if obj.has_config else None
    if beat is None:
        log.info("no %s here: the demo uses the rules shipped with monitor", obj.config_path)
    if logging.getLogger().level > logging.DEBUG:
        logging.getLogger("monitor.pipeline").setLevel(logging.WARNING)  # the demo prints its alerts itself
    started = datetime.now(UTC)
    result = app.demo(beat, output)
    console = _console()  # the output folder's name is the user's: "[/x]" in it was read as markup and raised
    stored = sum(report.stored for report in result.reports)
    console.print(Text.assemble("\n", ("monitor demo", "bold"),
                                f": {len(result.reports)} outlets checked, {stored} articles stored, "
                                f"{len(result.alert_texts)} alert(s) in "
                                f"{(datetime.now(UTC) - started).total_seconds():.1f}s\n"))
    for text, path in zip(result.alert_texts, result.alert_files, strict=True):
        _rule(console, str(path))
        click.echo(text)
    db = result.database
    _rule(console, "explore the archive")
    click.echo(
        f"sqlite-utils tables {db} --counts\n"
        f'sqlite-utils search {db} articles "ambassadors" -c title -c site -c url\n'
        f"sqlite-utils rows {db} stories\n"
        f'sqlite-utils query {db} "select rule, passage, site from new_mentions"\n'
        f"monitor --db {db} datasette-metadata > {db.parent / 'metadata.json'}   # then, if you have Datasette:\n"
        f"datasette {db} --metadata {db.parent / 'metadata.json'}"
    )


@cli.command()
@click.argument("query")
@click.option("--limit", type=click.IntRange(1, MAX_SEARCH_RESULTS), default=20, show_default=True,
              help="Most results to show.")
@click.pass_obj
def search(obj: Context, query: str, limit: int) -> None:
    """Full-text search of the archive (SQLite FTS5 syntax: words, "phrases", OR, NOT)."""
    rows = app.search(obj.database, query, limit)
    table = _table("id", "published", "site", "title", "url")
    for row in rows:
        table.add_row(str(row["id"]), row["published"] or "", app.printable(row["site"]), app.printable(row["title"]),
                      app.printable(row["url"]))
    _console().print(table)
    if not rows:
        click.echo("no matches", err=True)


@cli.command("datasette-metadata")
@click.pass_obj
def datasette_metadata(obj: Context) -> None:
    """Print Datasette metadata for the archive (--db, or the config's database) as JSON.

    Datasette knows a database by its file's name, so the metadata is made for one archive:
    monitor datasette-metadata > metadata.json && datasette serve monitor.db -m metadata.json
    """
    click.echo(json.dumps(app.datasette_metadata(obj.database), ensure_ascii=False, indent=2))


@cli.group()
def rules() -> None:
    """Work with the rules of the config."""


@rules.command("test")
@click.option("--rule", "rule_name", help="Only this rule.")
# As the archive and status show times, and as the log does, to the millisecond.
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ",
                                                      "%Y-%m-%dT%H:%M:%S.%fZ"]),
              help="Only articles fetched since this date (UTC; as monitor shows times, 2026-12-05T09:41:14Z, or its"
                   " log, 2026-12-05T09:41:14.022Z, too).")
@click.option("--text", help="Judge this text (a title may be given with --title) instead of the archive.")
@click.option("--title", default="", help="The title that goes with --text.")
@click.pass_obj
def rules_test(obj: Context, rule_name: str | None, since: datetime | None, text: str | None, title: str) -> None:
    """Run the rules over the archive (or --text) and explain what they match, new or not, without alerting.

    Each passage shows the clause that fired, the context found outside it (title:, lead:,
    article:) and, for a near-miss, the veto that stopped it.
    """
    if title and text is None:
        raise click.UsageError("--title goes with --text: give the text whose title it is", click.get_current_context())
    if rule_name is not None and not rule_name.strip():  # `--rule "$RULE"`, unset: a KeyError
        raise click.UsageError("--rule needs a rule's name", click.get_current_context())
    if since and text is not None:  # it was ignored without a word
        raise click.UsageError("--since chooses articles of the archive: it does not go with --text",
                               click.get_current_context())
    settings = obj.rules_settings
    if not settings.rules:
        fail(f"{obj.config_path} has no [[rules]] to test", EXIT_CONFIG)  # a configuration's problem, as in rules eval
    articles = app.judge_rules(settings, rule_name, since=since.replace(tzinfo=UTC) if since else None, text=text,
                               title=title)
    console = _console()
    counts: dict[str, list[int]] = {rule.name: [0, 0] for rule in settings.rules if rule_name in (None, rule.name)}
    scanned = 0
    for verdicts in articles:  # printed as each article is judged: `| head` stops the work
        scanned += 1
        for verdict in verdicts:
            _show_verdict(console, verdict)
            if verdict.new is not None:
                counts[verdict.judgement.rule][0] += 1
                counts[verdict.judgement.rule][1] += verdict.new
    table = _table("rule", "articles scanned", "passages matched", "would be new")
    for name, (matched_count, new_count) in counts.items():
        table.add_row(name, str(scanned), str(matched_count), str(new_count))
    console.print(table)


def _show_verdict(console: Console, verdict: app.RuleVerdict) -> None:
    """A passage as ``rules test`` shows it: matched (new or seen) with its clauses and context, or a near-miss with
    its vetoes (or, for a text, the lists it had to work with)."""
    judged = verdict.judgement
    if verdict.new is None:
        outcome = "vetoed" if judged.vetoes else "no clause held"
        console.print(Text(f"[{judged.rule}] {outcome} #{verdict.article_id} {app.printable(verdict.title)}\n  ",
                           style="dim") + Text(app.printable(judged.passage)))
        for clause, vetoing in judged.vetoes:
            console.print(Text(f"    veto {clause}: {app.printable(vetoing)}", style="red"))
        if not judged.vetoes:
            console.print(Text(f"    {_lists_found(judged.lists)}", style="dim"))
        return
    line = Text(f"[{judged.rule}] {'NEW ' if verdict.new else 'seen'} #{verdict.article_id} "
                f"{app.printable(verdict.title)}\n  ", style="bold")
    shown = app.printable(judged.passage)
    passage = Text(shown)
    for start, end in app.highlight_spans(shown, judged.terms):
        passage.stylize("reverse yellow", start, end)
    console.print(line + passage)
    for clause in judged.clauses:
        console.print(Text(f"    clause: {clause}", style="green"))
    for where, found in judged.context:
        console.print(Text(f"    context from {where}: {app.printable(found)}", style="cyan"))
    for clause, vetoing in judged.vetoes:
        console.print(Text(f"    vetoed elsewhere by {clause}: {app.printable(vetoing)}", style="dim"))


@rules.command("eval")
@click.argument("labelled", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--misses/--no-misses", default=True, show_default=True, help="List every wrong judgement.")
@click.pass_obj
def rules_eval(obj: Context, labelled: Path, misses: bool) -> None:
    """Precision and recall of each rule over a labelled JSONL file, with every miss.

    Each line is an object with "text", "title" (optional), "id" (optional) and, per rule, a
    0/1 (or false/true) field named after the rule with spaces as underscores ("prisoner_swap").
    """
    scores = app.evaluate_rules(obj.rules_settings, labelled)
    table = _table("rule", "labelled", "precision", "recall", "true pos", "false pos", "missed")
    for name, score in scores.items():
        labelled_count = score.true_pos + score.false_pos + score.false_neg + score.true_neg
        # A figure of nothing is no figure, not a perfect one: precision where the rule matched no passage, recall
        # where no passage is labelled positive (and both for a rule no passage is labelled for).
        precision = f"{score.precision:.3f}" if score.true_pos + score.false_pos else "-"
        recall = f"{score.recall:.3f}" if score.true_pos + score.false_neg else "-"
        table.add_row(name, str(labelled_count), precision, recall, str(score.true_pos), str(score.false_pos),
                      str(score.false_neg))
    console = _console()  # rule names and passages are the user's: "[/x]" in one was read as markup and raised
    console.print(table)
    if misses:
        for name, score in scores.items():
            for miss in score.misses:
                # The labelled file's words are a page's (passages cut from the archive): shown as every page's are.
                console.print(Text(f"[{name}] {miss.kind} {app.printable(miss.passage.id)}: ", style="bold red")
                              + Text(app.printable(f"{miss.passage.title} | {miss.passage.text}")), soft_wrap=True)
                for quoted in miss.matched:
                    console.print(Text(f"    matched: {app.printable(quoted)}", style="dim"), soft_wrap=True)
                for clause in miss.clauses:
                    console.print(Text(f"    clause: {clause}", style="dim"), soft_wrap=True)
                for clause, text in miss.vetoes:
                    console.print(Text(f"    veto {clause}: {app.printable(text)}", style="dim"), soft_wrap=True)
                if miss.kind == "missed" and not miss.vetoes:
                    console.print(Text(f"    no clause held; {_lists_found(miss.lists)}", style="dim"), soft_wrap=True)


def _lists_found(lists: tuple[tuple[str, str], ...]) -> str:
    """What a rule had to work with in a text it did not match: its lists the text holds words of."""
    if not lists:
        return "none of the rule's lists is in it"
    return "lists found: " + ", ".join(f"{name} ({app.printable(text)})" for name, text in lists)


@cli.command()
@click.argument("target", metavar="URL_OR_FILE")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.pass_obj
def extract(obj: Context, target: str, as_json: bool) -> None:
    """Show what the extractor takes from one page: title, byline, date, text."""
    # A page can be looked at without a config, but one given, or found here, must load (fetch and limits come from it).
    settings = obj.settings if obj.has_config else None
    result = app.extract_page(settings, target)
    if as_json:
        data = asdict(result)
        data["published"] = result.published.isoformat() if result.published else None
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    console = _console()
    for label, value in (("title", result.title), ("byline", result.byline), ("published", result.published),
                         ("canonical", result.canonical_url), ("language", result.language),
                         ("outlet", result.outlet)):
        console.print(Text(f"{label:>10}: ", style="bold") + Text(app.printable(str(value or ""))), soft_wrap=True)
    _rule(console)
    click.echo(app.printable(result.text) or "(no text)")


@cli.command()
@click.option("--check", is_flag=True, help="Only say whether the daemon is healthy; exit 1 when its scheduler "
              "has not ticked for three heartbeats or every source is failing (for health checks).")
@click.pass_obj
def status(obj: Context, check: bool) -> None:
    """Sources and their health (last check, last error, failures) and the queued alerts.

    Reads the archive only: a configured source not checked yet shows as never checked, and
    one in the archive but no longer in the config as retired.
    """
    settings = obj.settings
    if check:
        found, heartbeat = app.health_problems(settings)
        if found:
            fail("unhealthy: " + "; ".join(found))
        assert heartbeat is not None  # no heartbeat is a problem found
        click.echo(f"healthy: heartbeat {app.iso(heartbeat.beat)} from pid {heartbeat.pid}")
        return
    shown = app.status(settings)
    stored, counts, heartbeat = shown.sources, shown.counts, shown.heartbeat
    table = _table("source", "kind", "last checked", "failures", "next due", "interval", "articles", "health",
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
                      Text(app.printable(row.get("last_error") or ""), style="red"))
    console = _console()
    console.print(table)
    console.print(f"articles: {counts['articles']}  stories: {counts['stories']}  mentions: {counts['mentions']}  "
                  f"operator notices queued: {counts['notices']}")
    beat = f"last heartbeat {app.iso(heartbeat.beat)} from pid {heartbeat.pid}" if heartbeat else "never run"
    console.print(f"daemon: {beat}")
    unsent, _ = shown.email
    if settings.email is None:
        # Without [email] the alerts e-mail has not sent only grow: said as waiting for it, not as a failing queue.
        backlog = f" ({app.counted(unsent, 'alert')} not sent)" if unsent else ""
        console.print(f"e-mail: no [email] in the config{backlog}")
    else:
        waiting, error = shown.email
        if waiting and not error and shown.digest_due is not None:  # not a failure: the digest's time has not come
            due = app.iso(shown.digest_due)
            console.print(f"e-mail: {app.counted(waiting, 'alert')} waiting for the digest due {due}")
        else:
            _backlog_line(console, "e-mail", waiting, error)
    for name, waiting, error in shown.channels:
        _backlog_line(console, f"channel {name}", waiting, error)


def _backlog_line(console: Console, way: str, waiting: int, error: str | None) -> None:
    """A way of delivery's line in ``status``: all delivered, or how many alerts wait and its latest error."""
    if not waiting:
        console.print(f"{way}: all delivered")
        return
    said = f"{way}: {app.counted(waiting, 'alert')} not delivered"
    console.print(Text(said + (f", last error: {app.printable(error)}" if error else ""), style="red" if error else ""))


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


class _Output(io.TextIOWrapper):
    """Standard output, whose writes failing (a full disk, a quota, ``> /dev/full``) is one ``monitor: …`` line
    where it was a traceback once the command's work was done; what is left to print is then dropped, so that
    Python's own flush at exit does not fail again. A closed pipe stays click's (exit 1 quietly, as ``head`` wants).
    """

    failed = False

    def write(self, text: str, /) -> int:
        if not self.failed:
            with self._guarded():
                return super().write(text)
        return len(text)

    def flush(self) -> None:
        if not self.failed:
            with self._guarded():
                super().flush()

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        try:
            yield
        except BrokenPipeError:
            raise
        except OSError as exc:
            self.failed = True
            raise MonitorError(f"cannot write the output: {exc.strerror or exc}") from exc


def _guard_stdout() -> None:
    """Print through an :class:`_Output` on standard output's file, as configured; not when it is closed (None)."""
    stdout = sys.stdout
    if not isinstance(stdout, io.TextIOWrapper):
        return
    try:
        fd = stdout.fileno()
    except OSError:  # io.UnsupportedOperation: no file under it (monitor called from another program)
        return
    sys.stdout = _Output(io.BufferedWriter(io.FileIO(fd, "w", closefd=False)), stdout.encoding, stdout.errors,
                         line_buffering=stdout.line_buffering, write_through=stdout.write_through)


def _fill_standard_descriptors() -> None:
    """Put /dev/null on the standard descriptors a service was started without (``2>&-``): the first file the
    monitor opened took a closed one's number, and the daemon's lock file was its standard error, where the
    interpreter's last words and any C library's go."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)  # takes the lowest free number: this one, those below it being open by now


def main() -> None:
    _fill_standard_descriptors()
    for stream in (sys.stdout, sys.stderr):
        # A terminal whose locale is not UTF-8 (LANG=C, Python's UTF-8 mode off) cannot show a title's "é": it is
        # replaced, where printing it raised UnicodeEncodeError.
        if isinstance(stream, io.TextIOWrapper) and codecs.lookup(stream.encoding).name != "utf-8":
            stream.reconfigure(errors="replace")
    _guard_stdout()
    terminate_as_interrupt()
    try:
        cli(prog_name="monitor")
    except MonitorError as exc:  # --help or --version to an output that cannot be written, before any command
        fail(str(exc))
