"""The archive as its readers meet it: the views, the documented recipes, the Datasette metadata."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlite_utils

from monitor import app
from monitor.config import RuleSettings, Settings
from monitor.models import Article
from monitor.pipeline import ingest
from monitor.rules import compile_rules
from monitor.store import Archive
from monitor.store.datasette import datasette_metadata
from monitor.store.schema import MIGRATIONS, _name_outlets_in_views
from tests.conftest import RunCLI

WHEN = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LEAD = "Moscow recalled its ambassador from Washington on Friday after the new sanctions were announced."
FILLER = " ".join(f"Sentence {n} of the background to the talks and what came before them." for n in range(40))


@pytest.fixture
def archive_path(tmp_path: Path) -> Path:
    """A story of two outlets' copies (one page names its outlet, one does not), its new mentions and its alert."""
    path = tmp_path / "monitor.db"
    rules = compile_rules([RuleSettings(name="ambassadors", terms=["ambassador"])])
    with Archive.create(path) as archive:
        for url, site, source, outlet, credit in [
            ("https://ledger.example/recall", "ledger.example", "Ledger feed", "The Harbour Ledger", ""),
            ("https://wire.example/recall", "wire.example", "Wire feed", None, "\n\nReporting by the wire's staff."),
        ]:  # a near copy: its own article in the same story
            article = Article(url=url, site=site, title="Moscow recalls its ambassador",
                              text=f"{LEAD}\n\n{FILLER}{credit}", source=source, fetched=WHEN, outlet=outlet)
            ingest(archive, article, rules, WHEN)
    return path


def rows(path: Path, sql: str) -> list[dict[str, object]]:
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(sql)]


def test_the_views_name_outlets_as_the_alerts_do_and_carry_the_ids_to_join_by(archive_path: Path) -> None:
    """story_outlets showed hosts (an IP address in the demo) where the alert said "The Harbour Ledger", and
    alert_queue no story id to look its outlets up by; the copies of stories found in one second were interleaved."""
    assert rows(archive_path, "SELECT story_id, outlet, article_id FROM story_outlets") == [
        {"story_id": 1, "outlet": "The Harbour Ledger", "article_id": 1},
        {"story_id": 1, "outlet": "Wire feed", "article_id": 2},  # no name on the page: the source's
    ]
    [mention] = rows(archive_path, "SELECT outlet, article_id, mention_id, terms FROM new_mentions")
    assert mention == {"outlet": "The Harbour Ledger", "article_id": 1, "mention_id": 1, "terms": '["ambassador"]'}
    assert rows(archive_path, "SELECT id, story_id, story FROM alert_queue") == [
        {"id": 1, "story_id": 1, "story": "Moscow recalls its ambassador"}]


def test_alert_passages_says_what_each_alert_reported(archive_path: Path) -> None:
    assert rows(archive_path, "SELECT alert_id, sent, story, rule, passage, outlet, url FROM alert_passages") == [
        {"alert_id": 1, "sent": None, "story": "Moscow recalls its ambassador", "rule": "ambassadors",
         "passage": LEAD, "outlet": "The Harbour Ledger", "url": "https://ledger.example/recall"}]


def test_an_upgrade_gives_the_old_views_their_new_columns(archive_path: Path) -> None:
    old = sqlite_utils.Database(archive_path)
    for view in ("new_mentions", "story_outlets", "alert_queue", "alert_passages"):
        old.execute(f"DROP VIEW {view}")
    MIGRATIONS[1](old)  # the views as the first release made them
    old.execute(f"PRAGMA user_version = {MIGRATIONS.index(_name_outlets_in_views)}")
    old.close()
    with Archive.create(archive_path):
        pass
    assert rows(archive_path, "SELECT outlet FROM story_outlets") == [{"outlet": "The Harbour Ledger"},
                                                                     {"outlet": "Wire feed"}]
    assert len(rows(archive_path, "SELECT * FROM alert_passages")) == 1


ARCHIVE_DOC = Path(__file__).resolve().parent.parent / "docs" / "archive.md"


def documented() -> dict[str, set[str]]:
    """Each table and view docs/archive.md describes, with the columns its row names."""
    found: dict[str, set[str]] = {}
    for line in ARCHIVE_DOC.read_text().splitlines():
        cells = line.split(" | ")
        if line.startswith("| `") and len(cells) == 3:
            for name in re.findall(r"`(\w+)`", cells[0]):
                found[name] = set(re.findall(r"`(\w+)`", cells[2]))
    return found


def test_every_table_and_column_a_reader_meets_is_documented(archive_path: Path) -> None:
    """notices and notice_deliveries were in every archive and nowhere in docs/archive.md."""
    docs = documented()
    with sqlite3.connect(archive_path) as conn:
        names = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite%'"
            " AND name NOT LIKE 'articles_fts%'")]
        for name in names:
            assert name in docs, f"{name} is not in docs/archive.md"
            columns = {row[1] for row in conn.execute(f"PRAGMA table_info({name})")} - {"id"}
            assert columns <= docs[name], f"{name}: {columns - docs[name]} not in docs/archive.md"


def schema(path: Path) -> dict[str, set[str]]:
    """Each table and view a reader meets (not the full-text index's own), with its columns."""
    with sqlite3.connect(path) as conn:
        names = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite%'"
            " AND name NOT LIKE 'articles_fts%'")]
        return {name: {row[1] for row in conn.execute(f"PRAGMA table_info({name})")} for name in names}


def test_the_datasette_metadata_names_only_what_the_archive_has_and_describes_all_of_it(archive_path: Path) -> None:
    """Datasette labelled a mention by its id where an alert listed it, showed the dedup keys among the articles,
    oldest rows first, and said nothing of what a column holds; metadata naming a missing column fails silently."""
    tables = datasette_metadata(archive_path)["databases"]["monitor"]["tables"]
    found = schema(archive_path)
    assert set(tables) == set(found)
    for name, shown in tables.items():
        named = {shown.get("label_column"), shown.get("sort_desc"), *shown.get("facets", ()), *shown.get("columns", ())}
        assert named - {None} <= found[name], name
        assert shown.get("hidden") or shown["description"], name
    assert {name for name, shown in tables.items() if shown.get("hidden")} == {
        "article_signatures", "article_bands", "passage_keys"}
    assert tables["mentions"]["label_column"] == "passage"  # alert_mentions then shows what the alert said


def test_the_datasette_canned_queries_answer_on_a_real_archive(archive_path: Path) -> None:
    queries = datasette_metadata(archive_path)["databases"]["monitor"]["queries"]
    with sqlite3.connect(archive_path) as conn:
        since = conn.execute(queries["mentions_since"]["sql"], {"since": "2026-11-28"}).fetchall()
        assert [row[-1] for row in since] == ["The Harbour Ledger, Wire feed"]
        assert conn.execute(queries["mentions_since"]["sql"], {"since": "2026-11-29"}).fetchall() == []
        search = queries["outlet_search"]["sql"]
        for outlet, article_id in [("The Harbour Ledger", 1), ("wire.example", 2), ("Wire feed", 2)]:
            assert [row[0] for row in conn.execute(search, {"q": "sanctions", "outlet": outlet})] == [article_id]


def test_datasette_metadata_is_keyed_by_the_archive_s_file_name(run_cli: RunCLI, tmp_path: Path) -> None:
    """Datasette names a database after its file: metadata under another name is silently ignored. A path that holds
    no archive (a typo, another program's database) printed metadata all the same, exit 0."""
    missing = run_cli("--db", "data/newsroom.db", "datasette-metadata", check=False)
    assert missing.returncode == 1 and missing.stderr.startswith("monitor: no archive at "), missing.stderr
    assert not (tmp_path / "data").exists()  # it makes nothing
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE notes (x)")
    other = run_cli("--db", "other.db", "datasette-metadata", check=False)
    assert other.returncode == 1 and "not a monitor archive" in other.stderr, other.stderr
    Archive.create(tmp_path / "data" / "newsroom.db").close()
    printed = json.loads(run_cli("--db", "data/newsroom.db", "datasette-metadata").stdout)
    assert list(printed["databases"]) == ["newsroom"]


def test_rules_test_judges_the_archive_as_it_reads_it(tmp_path: Path) -> None:
    """Read whole and judged before a line was shown, `rules test` over 100,000 articles took minutes and half a
    gigabyte, and `| head` waited for all of it. The articles are read a batch at a time and judged as they come: one
    stored after the first verdicts were shown is judged in the same run, each article once, in order."""
    path = tmp_path / "monitor.db"
    settings = Settings(database=str(path), rules=[RuleSettings(name="ambassadors", terms=["ambassador"])])

    def store(archive: Archive, n: int) -> None:
        article = Article(url=f"https://ledger.example/{n}", site="ledger.example", title=f"Envoy story {n}",
                          text=f"Story {n}: the ambassador left Moscow for talks number {n} in Washington.\n\n{FILLER}",
                          source="Ledger feed", fetched=WHEN)
        ingest(archive, article, compile_rules(settings.rules), WHEN)

    with Archive.create(path) as archive:
        for n in range(1, 251):  # past one batch
            store(archive, n)
        judged = app.judge_rules(settings, None, since=None, text=None, title="")
        first = next(judged)
        store(archive, 251)  # stored after the first verdicts were shown
        rest = list(judged)
    assert [verdicts[0].article_id for verdicts in [first, *rest]] == list(range(1, 252))
    assert [verdict.new for verdict in first] == [True]


def test_rules_test_says_new_where_ingest_stored_a_new_mention(tmp_path: Path) -> None:
    """`rules test` said "NEW" for news that ingest, keeping ten passages of an article before judging them, never
    stored; and it judged each passage against every passage it had shown, where ingest reads the newest few of each
    lookup key (68 s for 8,000 alike passages). Both judge the same passages the same way now."""
    path = tmp_path / "monitor.db"
    settings = Settings(database=str(path), rules=[RuleSettings(name="ambassadors", terms=["ambassador"])])
    ruleset = compile_rules(settings.rules)
    stock = "Officials said the ambassador would be summoned again if the talks over the embassy compound failed"
    texts = [f"{stock}, aide {n} told reporters on day {n}." for n in range(40)]  # alike: they share lookup keys
    texts += [f"The ambassador was summoned for the {n}th time this year over the {n} detained citizens."
              for n in range(15)]
    texts += texts[::7]  # said again by later articles: seen
    texts.append("\n\n".join(f"In {year} the ambassador was summoned over row number {year}."
                             for year in range(2010, 2024)))  # fourteen passages, all new
    texts.append(texts[-1] + "\n\nToday the ambassador was expelled and given a week to leave.")  # the news, last
    stored: dict[int, dict[str, bool]] = {}
    with Archive.create(path) as archive:
        for n, text in enumerate(texts):
            done = ingest(archive, Article(url=f"https://w.example/{n}", site="w.example", title=f"Envoy story {n}",
                                           text=f"{text}\n\nBackground note {n}. {FILLER}", source="Wire",
                                           fetched=WHEN), ruleset, WHEN)
            stored[done.article_id] = {mention.passage: mention.new for mention in done.mentions}
    shown = {verdicts[0].article_id: {v.judgement.passage: v.new for v in verdicts if v.new is not None}
             for verdicts in app.judge_rules(settings, None, since=None, text=None, title="")}
    assert shown == stored
    assert True in [new for passages in stored.values() for new in passages.values()]
    assert False in [new for passages in stored.values() for new in passages.values()]
