"""The archive against real SQLite files: transactions, multi-row inserts, and the errors operators meet."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from monitor.config import RuleSettings, SourceSettings
from monitor.dedup import passage_keys
from monitor.errors import ArchiveError
from monitor.models import Article, CheckRecord
from monitor.pipeline import ingest
from monitor.rules import compile_rules
from monitor.store import Archive
from monitor.store.schema import MIGRATIONS, _key_article_urls_by_source, _rekey_passages
from monitor.store.sources import FAILED_URL_CHARS, FAILED_URL_RETENTION
from tests.conftest import RunCLI, cli_env, unprivileged
from tests.httpserver import LocalWeb, Recorded, Route

WHEN = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
TEXT = " ".join(f"Sentence {n} of a story about envoys and the talks that brought them home." for n in range(20))


def failed(archive: Archive, url: str) -> None:
    archive.record_failed_url(url, source="wire", error="503", retry=True, when=WHEN)


def committed_failures(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT url FROM failed_urls ORDER BY url")]


def test_failed_urls_are_forgotten_a_retention_after_their_last_failure(tmp_path: Path) -> None:
    """failed_urls was never pruned: every dead link every source ever listed, for as long as the archive lived."""
    with Archive.create(tmp_path / "monitor.db") as archive:
        for url, ago in [("https://a.example/old", FAILED_URL_RETENTION + timedelta(hours=1)),
                         ("https://a.example/recent", FAILED_URL_RETENTION - timedelta(hours=1))]:
            archive.record_failed_url(url, source="wire", error="HTTP 404 Not Found", retry=False, when=WHEN - ago)
        failed(archive, "https://a.example/now")
        assert archive.given_up_urls(["https://a.example/old", "https://a.example/recent"], 5, "wire") == {
            "https://a.example/recent"}
    assert committed_failures(tmp_path / "monitor.db") == ["https://a.example/now", "https://a.example/recent"]


def test_an_inner_transaction_that_fails_is_rolled_back_alone(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    with Archive.create(path) as archive:
        with archive.transaction():
            failed(archive, "https://a.example/kept")
            with pytest.raises(ValueError), archive.transaction():
                failed(archive, "https://a.example/dropped")
                with archive.transaction():  # savepoints of one name nest
                    failed(archive, "https://a.example/dropped-too")
                raise ValueError("bad write")
            with archive.transaction():
                failed(archive, "https://a.example/after")
        assert not archive.db.conn.in_transaction
    assert committed_failures(path) == ["https://a.example/after", "https://a.example/kept"]


def test_a_failing_outer_transaction_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    with Archive.create(path) as archive:
        with pytest.raises(ValueError), archive.transaction():
            with archive.transaction():
                failed(archive, "https://a.example/1")
            raise ValueError("bad group")
        assert not archive.db.conn.in_transaction
    assert committed_failures(path) == []


def test_urls_beyond_one_statement_are_all_stored(tmp_path: Path) -> None:
    """At most 999 values to a statement (249 URL rows): 1,236 rows take five, and none is lost or doubled."""
    article = Article(url="https://a.example/story", site="a.example", title="Envoys", text=TEXT, source="wire",
                      fetched=WHEN)
    with Archive.create(tmp_path / "monitor.db") as archive:
        article_id = ingest(archive, article, compile_rules([]), WHEN).article_id
        aliases = [f"https://a.example/story?page={n}" for n in range(1234)]
        with archive.transaction():
            archive.add_urls(article_id, [*aliases, article.url, aliases[0]], "wire", WHEN)  # known ones are ignored
        stored = archive.db.execute("SELECT url FROM article_urls WHERE article_id = ?", [article_id]).fetchall()
        assert sorted(url for (url,) in stored) == sorted([*aliases, article.url])
        assert archive.known_urls(aliases[-3:], ("wire",)) == set(aliases[-3:])
        bands = archive.db.execute("SELECT count(*) FROM article_bands WHERE article_id = ?", [article_id]).fetchone()
        assert bands[0] > 0  # the LSH bands went in as one statement too


# ------------------------------------------------------------ errors an operator meets, and read-only commands

FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>
<item><title>Envoys</title><link>{origin}/story</link></item></channel></rss>"""


def one_line(result: subprocess.CompletedProcess[str], words: str) -> str:
    """The single ``monitor: ...`` line a failure must print, exit 1, no traceback."""
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("monitor: ") and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert words in result.stderr, result.stderr
    return result.stderr


def archive_with_articles(path: Path, count: int = 60) -> None:
    """A real archive with enough rows to span many pages (and sources, as run leaves them)."""
    with Archive.create(path) as archive:
        archive.sync_sources([SourceSettings(name="wire", kind="feed", url="https://a.example/feed")])
        for n in range(count):
            text = " ".join(f"Sentence {k} of story {n} about envoy{n} and talks{k}." for k in range(60))
            article = Article(url=f"https://a.example/{n}", site="a.example", title=f"Story {n}", text=text,
                              source="wire", fetched=WHEN)
            ingest(archive, article, compile_rules([]), WHEN)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def local_config(tmp_path: Path, local_web: LocalWeb) -> Path:
    """config.toml in tmp_path with one source on the loopback server and one rule."""
    local_web.route("/feed.xml", FEED.format(origin=local_web.origin), content_type="application/rss+xml")
    path = tmp_path / "config.toml"
    path.write_text(f'[fetch]\ndelay = 0\n[[sources]]\nname = "wire"\nkind = "feed"\nurl = "{local_web.url("/feed.xml")}"\n'
                    '[[rules]]\nname = "envoys"\nterms = ["envoy"]\n')
    return path


READERS = [("status",), ("search", "envoy"), ("rules", "test")]


@pytest.mark.parametrize("command", [*READERS, ("once",), ("run",)])
def test_a_file_that_is_not_a_database_is_one_line_and_left_alone(
    command: tuple[str, ...], run_cli: RunCLI, tmp_path: Path, local_config: Path
) -> None:
    """Nothing is left beside it either: `run` refused it with its lock file made, and left that behind."""
    notes = tmp_path / "notes.db"
    notes.write_text("shopping list: milk, eggs\n" * 200)
    before = digest(notes)
    one_line(run_cli("--db", "notes.db", *command, check=False), "notes.db is not a monitor archive")
    assert digest(notes) == before and sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "notes.db"]


@pytest.mark.parametrize("command", READERS)
def test_a_truncated_archive_says_how_to_recover_it(command: tuple[str, ...], run_cli: RunCLI, tmp_path: Path,
                                                    local_config: Path) -> None:
    whole = tmp_path / "whole.db"
    archive_with_articles(whole)
    data = whole.read_bytes()
    (tmp_path / "cut.db").write_bytes(data[: len(data) // 3])
    line = one_line(run_cli("--db", "cut.db", *command, check=False), "cut.db is damaged")
    assert "sqlite3 cut.db .recover | sqlite3 cut.db.recovered" in line


def test_a_read_only_archive_can_be_read_but_not_written(run_cli: RunCLI, tmp_path: Path, local_config: Path) -> None:
    archive = tmp_path / "monitor.db"
    archive_with_articles(archive)
    archive.chmod(0o444)
    before = digest(archive)
    locked = unprivileged()
    assert "Story 7" in run_cli("--db", "monitor.db", "search", "envoy7", prefix=tuple(locked)).stdout
    assert "wire" in run_cli("--db", "monitor.db", "status", prefix=tuple(locked)).stdout
    one_line(run_cli("--db", "monitor.db", "once", check=False, prefix=tuple(locked)), "monitor.db is read-only")
    assert digest(archive) == before


def test_an_archive_in_a_folder_that_cannot_be_written_can_be_read(
    run_cli: RunCLI, tmp_path: Path, local_config: Path
) -> None:
    """A copy on a read-only share: a reader of a WAL archive makes its -shm file beside it, which failed here with
    'read-only here: give write access', though the read-only commands are documented to work on such a file."""
    folder = tmp_path / "share"
    folder.mkdir()
    archive_with_articles(folder / "monitor.db")
    (folder / "monitor.db").chmod(0o444)
    folder.chmod(0o555)
    locked = tuple(unprivileged())
    try:
        assert "Story 7" in run_cli("--db", "share/monitor.db", "search", "envoy7", prefix=locked).stdout
        assert "wire" in run_cli("--db", "share/monitor.db", "status", prefix=locked).stdout
        assert sorted(path.name for path in folder.iterdir()) == ["monitor.db"]
    finally:
        folder.chmod(0o755)


def test_a_folder_that_cannot_be_written_is_one_line_and_nothing_is_created(
    run_cli: RunCLI, tmp_path: Path, local_config: Path
) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    locked = tuple(unprivileged())
    one_line(run_cli("--db", "locked/monitor.db", "once", check=False, prefix=locked), "cannot open locked/monitor.db")
    one_line(run_cli("--db", "locked/sub/monitor.db", "once", check=False, prefix=locked),
             "cannot create the archive's folder locked/sub")
    assert list(folder.iterdir()) == []


def test_run_on_an_archive_in_a_folder_it_cannot_write_says_where_its_lock_goes(
    run_cli: RunCLI, tmp_path: Path, local_config: Path
) -> None:
    """"cannot open the lock file share/monitor.db.lock: Permission denied" left the operator to guess that the
    daemon makes a file beside the archive, the archive itself being writable."""
    folder = tmp_path / "share"
    archive_with_articles(folder / "monitor.db", count=1)
    folder.chmod(0o555)
    try:
        one_line(run_cli("--db", "share/monitor.db", "run", check=False, prefix=tuple(unprivileged()), timeout=30),
                 "cannot open the lock file share/monitor.db.lock: Permission denied: monitor run makes it beside the"
                 " archive; give the user running monitor write access to that folder")
    finally:
        folder.chmod(0o755)


def test_an_archive_path_through_a_file_says_so(run_cli: RunCLI, tmp_path: Path, local_config: Path) -> None:
    """"cannot create the archive's folder config.toml: File exists" read as if the folder were there and fine."""
    one_line(run_cli("--db", "config.toml/monitor.db", "once", check=False),
             "cannot create the archive's folder config.toml: part of that path is a file, not a folder: check --db")


def test_a_full_disk_is_one_line_and_the_write_is_rolled_back(tmp_path: Path) -> None:
    """SQLite's own 'database or disk is full', reached by capping the file's pages."""
    path = tmp_path / "monitor.db"
    archive_with_articles(path, count=2)
    with pytest.raises(ArchiveError, match="the disk holding .* is full: free some space") as info, \
            Archive.create(path) as archive:
        pages = archive.db.execute("PRAGMA page_count").fetchone()[0]
        archive.db.execute(f"PRAGMA max_page_count = {pages + 2}")
        with archive.transaction():
            for n in range(100):
                failed(archive, f"https://a.example/{'long' * 200}/{n}")
    assert isinstance(info.value.__cause__, sqlite3.OperationalError)
    assert committed_failures(path) == []


def test_an_archive_locked_by_another_process_as_once_stores_an_article_fails_the_run_not_the_article(
    run_cli: RunCLI, tmp_path: Path, local_web: LocalWeb, local_config: Path
) -> None:
    """Another process held the write lock past the busy timeout as `once` stored an article: a traceback, the
    article refused for good ("could not be processed: ArchiveError"), and exit 0. Now one line names the cause, the
    run exits 1 saying so, and the next run, the lock let go, stores the article."""
    path = tmp_path / "monitor.db"
    Archive.create(path).close()
    holder = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    story = f"<html><head><title>Envoys</title></head><body><article><p>{TEXT}</p></article></body></html>"

    def locking(request: Recorded) -> Route:
        if local_web.hits("/story") == 1:  # taken before monitor has the page, held until it gave up storing it
            holder.execute("BEGIN IMMEDIATE")
        return Route(body=story.encode(), headers={"Content-Type": "text/html; charset=utf-8"})

    local_web.route("/story", handler=locking)
    url = local_web.url("/story")
    once = subprocess.Popen([sys.executable, "-m", "monitor", "once"], cwd=tmp_path, env=cli_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = []
    try:
        assert once.stderr is not None
        for line in once.stderr:
            lines.append(line)
            if url in line and holder.in_transaction:  # monitor told of the article: the other process lets go
                holder.rollback()
        stdout = once.communicate(timeout=60)[0]
    finally:
        once.kill()
        holder.rollback()
        holder.close()
    stderr = "".join(lines)
    assert once.returncode == 1 and "Traceback" not in stderr, stderr
    locked = f"{path} stayed locked by another process (database is locked)"
    [told] = [line for line in lines if url in line]
    assert f"ERROR monitor.pipeline: wire: {url} could not be stored, and is fetched again at the next check: " \
        f"{locked}" in told
    assert lines[-1].startswith(f"monitor: wire: 1 article not stored ({locked}") and lines[-1].endswith(
        "; articles not stored are fetched again at the next run\n"), lines[-1]
    assert "ok, 1 not stored (the archive could not be written)" in stdout
    assert committed_failures(path) == []  # nothing held against the link
    run_cli("once")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT url FROM articles").fetchall() == [(url,)]


def test_articles_a_full_disk_kept_out_are_fetched_again_not_given_up(run_cli: RunCLI, tmp_path: Path,
                                                                       local_web: LocalWeb) -> None:
    """The archive's files may not grow (a full disk, reached here by a file size limit) as ``once`` stores articles:
    each failed one was logged with a traceback and refused for good, so the next runs never fetched it, and the run
    exited 0. Now nothing is held against them, the run says so and exits 1, and the next run stores them."""
    story = " ".join(f"Sentence {n} of a report on the envoys returning to Moscow after the talks." for n in range(4000))
    for number in range(5):
        local_web.route(f"/s/{number}", f"<html><head><title>Report {number}</title></head><body><article>"
                        f"<p>Report {number}. {story}</p></article></body></html>", content_type="text/html")

    def feed(count: int) -> None:
        items = "".join(f"<item><title>Report {n}</title><link>{local_web.url(f'/s/{n}')}</link></item>"
                        for n in range(count))
        local_web.route("/feed.xml", f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>',
                        content_type="application/rss+xml")

    (tmp_path / "config.toml").write_text(f'[fetch]\ndelay = 0\nrobots = false\n[[sources]]\nname = "wire"\n'
                                          f'kind = "feed"\nurl = "{local_web.url("/feed.xml")}"\n')
    feed(1)
    run_cli("once")
    limit = (tmp_path / "monitor.db").stat().st_size + 400_000  # room for about one more article
    feed(5)
    # The limit set by a process that then becomes monitor (a preexec_fn is unsafe beside the test's server threads).
    limited = (sys.executable, "-c", f"import os, resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, "
               f"{limit})); os.execv(sys.argv[1], sys.argv[1:])")
    full = run_cli("once", check=False, prefix=limited)
    assert full.returncode == 1 and "Traceback" not in full.stderr, full.stderr
    assert "could not be stored, and is fetched again at the next check: " in full.stderr
    assert committed_failures(tmp_path / "monitor.db") == []
    run_cli("once")
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (5,)


@pytest.mark.parametrize("command", READERS)
def test_read_only_commands_never_create_an_archive(command: tuple[str, ...], run_cli: RunCLI, tmp_path: Path,
                                                    local_config: Path) -> None:
    one_line(run_cli("--db", "typo/typo.db", *command, check=False), "no archive at typo/typo.db")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_status_writes_nothing_and_shows_dropped_sources_as_retired(
    run_cli: RunCLI, tmp_path: Path, local_config: Path
) -> None:
    archive = tmp_path / "monitor.db"
    archive_with_articles(archive, count=1)
    with Archive.create(archive) as opened:
        opened.sync_sources([SourceSettings(name="old blog", kind="feed", url="https://old.example/feed")])
    local_config.write_text(local_config.read_text() + '[[sources]]\nname = "new"\nkind = "feed"\n'
                            'url = "https://new.example/feed"\n')
    before = digest(archive)
    lines = run_cli("--db", "monitor.db", "status").stdout.splitlines()
    assert any("old blog (retired)" in line for line in lines)
    assert any(" new " in line and "never" in line for line in lines)
    assert digest(archive) == before
    with sqlite3.connect(archive) as conn:
        assert sorted(row[0] for row in conn.execute("SELECT name FROM sources")) == ["old blog", "wire"]


def test_an_undecodable_search_argument_is_one_line(run_cli: RunCLI, tmp_path: Path, local_config: Path) -> None:
    archive_with_articles(tmp_path / "monitor.db", count=1)
    one_line(run_cli("--db", "monitor.db", "search", b"caf\xe9", check=False), "is not UTF-8 text")


def test_an_error_of_the_sqlite3_module_itself_is_still_one_line(tmp_path: Path) -> None:
    """Errors Python's sqlite3 raises without SQLite (a closed connection) carry no error code."""
    with pytest.raises(ArchiveError, match=r"monitor\.db: SQLite error: Cannot operate on a closed database"), \
            Archive.create(tmp_path / "monitor.db") as archive:
        archive.db.conn.close()
        archive.counts()


def test_read_only_commands_ask_for_a_migration_they_cannot_make(run_cli: RunCLI, tmp_path: Path,
                                                                  local_config: Path) -> None:
    archive = tmp_path / "monitor.db"
    archive_with_articles(archive, count=1)
    with sqlite3.connect(archive) as conn:  # as an archive of the previous release
        for view in ("new_mentions", "story_outlets", "alert_queue", "alert_passages"):  # they read articles.outlet
            conn.execute(f"DROP VIEW {view}")
        conn.execute("DROP TABLE heartbeat")
        conn.execute("ALTER TABLE alerts DROP COLUMN outage")
        conn.execute("DROP TABLE channel_deliveries")
        conn.execute("DROP TABLE channels")
        conn.execute("ALTER TABLE articles DROP COLUMN outlet")
        conn.execute("DROP TABLE source_checks")
        conn.execute("ALTER TABLE sources DROP COLUMN interval")
        conn.execute("ALTER TABLE sources DROP COLUMN health")
        conn.execute("DROP TABLE notice_deliveries")
        conn.execute("DROP TABLE notices")
        conn.execute("DROP INDEX articles_url")
        conn.execute("PRAGMA user_version = 4")
    one_line(run_cli("--db", "monitor.db", "status", check=False), "monitor.db has an older schema: run monitor once")
    run_cli("--db", "monitor.db", "once")  # migrates it
    assert "wire" in run_cli("--db", "monitor.db", "status").stdout


def test_an_empty_file_is_named_as_no_archive_yet_and_once_creates_it(run_cli: RunCLI, tmp_path: Path,
                                                                      local_config: Path) -> None:
    (tmp_path / "monitor.db").touch()
    one_line(run_cli("--db", "monitor.db", "status", check=False), "monitor.db holds no archive yet: run monitor once")
    run_cli("--db", "monitor.db", "once")
    assert "wire" in run_cli("--db", "monitor.db", "status").stdout


def test_the_outlet_name_is_stored_with_the_article(tmp_path: Path) -> None:
    text = " ".join(f"Sentence {k} about the envoy's return and the talks{k}." for k in range(60))
    with Archive.create(tmp_path / "monitor.db") as archive:
        archive.sync_sources([SourceSettings(name="wire", kind="feed", url="https://a.example/feed")])
        article = Article(url="https://a.example/envoy", site="a.example", title="Envoy returns", text=text,
                          source="wire", fetched=WHEN, outlet="The Harbour Ledger")
        ingest(archive, article, compile_rules([]), WHEN)
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        assert conn.execute("SELECT outlet FROM articles").fetchall() == [("The Harbour Ledger",)]


def test_an_upgrade_recomputes_the_passage_keys_novelty_looks_up(tmp_path: Path) -> None:
    """Keys are made per sentence; when the way sentences are cut changes, stored keys are made again."""
    path = tmp_path / "monitor.db"
    passage = "Mr. Antonov met the U.S. envoy on Jan. 5. He left for Moscow."
    with Archive.create(path) as archive:
        article = Article(url="https://a.example/1", site="a.example", title="Envoy", text=passage, source="wire",
                          fetched=WHEN)
        ingest(archive, article, compile_rules([RuleSettings(name="envoys", terms=["envoy"])]), WHEN)
    # Keys as an older release cut them, before notices, failures and URLs kept by source, failures by age.
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE passage_keys SET key = 'stale-' || key")
        conn.execute("DROP TABLE notice_deliveries")
        conn.execute("DROP TABLE notices")
        conn.execute("DROP INDEX articles_url")
        conn.execute("DROP INDEX failed_urls_age")
        conn.execute(f"PRAGMA user_version = {MIGRATIONS.index(_rekey_passages)}")
    with Archive.create(path) as archive:
        keys = {row[0] for row in archive.db.execute("SELECT key FROM passage_keys")}
        stored = archive.db.execute("SELECT passage FROM mentions").fetchone()[0]
    assert keys == set(passage_keys(stored))


def test_an_upgrade_keeps_every_article_and_url_and_gives_each_url_its_articles_source(tmp_path: Path) -> None:
    """article_urls was keyed by the URL alone, and articles.url unique; an archive of that release keeps its rows,
    each URL now its article's source's (the one that stored it), and a second article may come under a stored URL."""
    path = tmp_path / "monitor.db"
    old = sqlite_utils.Database(path)
    before = MIGRATIONS.index(_key_article_urls_by_source)
    for migration in MIGRATIONS[:before]:  # the schema of the release before this migration
        migration(old)
    old.execute(f"PRAGMA user_version = {before}")
    old.execute("INSERT INTO stories (id, title, first_seen) VALUES (1, 'Envoys', ?)", [WHEN.isoformat()])
    for article_id, url, source in [(1, "https://a.example/envoys", "wire"), (2, "https://b.example/talks", None)]:
        old.execute("INSERT INTO articles (id, url, site, title, fetched, text, story_id, source, text_hash,"
                    " word_count) VALUES (?, ?, 'a.example', 'Envoys', ?, ?, 1, ?, ?, 200)",
                    [article_id, url, WHEN.isoformat(), f"{TEXT} {article_id}", source, f"hash{article_id}"])
        old.execute("INSERT INTO article_signatures (article_id, shingles, signature) VALUES (?, 0, x'')", [article_id])
    old.execute("INSERT INTO mentions (article_id, rule, passage, terms, new, found) VALUES (1, 'envoys', 'p', '[]',"
                " 1, ?)", [WHEN.isoformat()])
    urls = [("https://a.example/envoys", 1), ("https://a.example/r/1", 1), ("https://b.example/talks", 2)]
    old.conn.executemany("INSERT INTO article_urls (url, article_id) VALUES (?, ?)", urls)
    old.conn.commit()
    old.close()

    with Archive.create(path) as archive:
        assert archive.db.execute("SELECT url, source, article_id FROM article_urls ORDER BY url").fetchall() == [
            ("https://a.example/envoys", "wire", 1), ("https://a.example/r/1", "wire", 1),
            ("https://b.example/talks", "", 2)]
        assert archive.db.execute("SELECT id, url, source FROM articles ORDER BY id").fetchall() == [
            (1, "https://a.example/envoys", "wire"), (2, "https://b.example/talks", None)]
        assert [row["id"] for row in archive.search("envoys")] == [1, 2]  # the full-text index holds, by id
        assert archive.db.execute("SELECT count(*) FROM new_mentions").fetchone()[0] == 1  # the views are back
        assert archive.known_urls(["https://a.example/r/1", "https://b.example/talks"], ("wire",)) == {
            "https://a.example/r/1"}
        assert archive.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert archive.db.execute("PRAGMA foreign_key_check").fetchall() == []
        article = Article(url="https://a.example/envoys", site="a.example", title="Envoys return", source="outlet",
                          text="A different story at the same address. " * 20, fetched=WHEN)
        stored = ingest(archive, article, compile_rules([]), WHEN)
        assert stored.status == "new" and stored.article_id == 3
        assert [row["id"] for row in archive.search("different")] == [3]  # its triggers index it


def test_novelty_reads_the_newest_passages_of_each_key_however_often_it_was_seen(tmp_path: Path) -> None:
    """A site repeating one sentence, two words changed in each paragraph, made every later article's novelty read and
    split every earlier passage: 1.4 s of the writer per article after 100 such articles, and growing."""
    sentence = "Russia and the United States agreed to send their ambassadors back to Washington and Moscow"
    ruleset = compile_rules([RuleSettings(name="envoys", terms=["ambassadors"])])
    with Archive.create(tmp_path / "monitor.db") as archive:
        for n in range(30):
            text = "\n\n".join(f"{sentence}, aide {n} {k} said." for k in range(5))
            ingest(archive, Article(url=f"https://a.example/{n}", site="a.example", title=f"Envoys {n}", text=text,
                                    source="wire", fetched=WHEN), ruleset, WHEN)
        keys = passage_keys(f"{sentence}, aide 30 0 said.")
        found = archive.passages_with_keys("envoys", keys, per_key=5)
        newest = archive.passages_with_keys("envoys", keys, per_key=5, limit=3)
    assert 0 < len(found) <= 5 * len(keys) < 150  # 150 passages share the sentence
    assert f"{sentence}, aide 29 4 said." in found  # the newest are read
    assert newest == found[:3]  # novelty reads a bounded number, newest first: the rest are not read at all


TIMELINE = [f"In {year} the ambassador in Moscow was summoned over the {topic}." for year, topic in zip(
    range(2010, 2022), ["spy ring", "election", "visa row", "hacking", "sanctions", "Syria talks", "compound closures",
                        "consulate closures", "staff cuts", "the poisoning", "the jailed Marine", "the cyberattack"],
    strict=True)]


def test_the_news_after_ten_passages_alerted_before_is_alerted(tmp_path: Path) -> None:
    """Ten passages per rule were kept, the first in the text, before novelty was judged: a timeline's copy that adds
    today's news as its last paragraph, its first ten known, stored the article and alerted nothing. An alert still
    quotes at most ten new passages of an article per rule; the others are stored as new all the same."""
    ruleset = compile_rules([RuleSettings(name="envoys", terms=["ambassador"])])
    news = "Today Russia expelled the ambassador of the United States and gave him a week to leave."
    def quoted(archive: Archive) -> list[str]:
        return [row[0] for row in archive.db.execute(
            "SELECT passage FROM mentions JOIN alert_mentions ON alert_mentions.mention_id = mentions.id ORDER BY 1")]

    with Archive.create(tmp_path / "monitor.db") as archive:
        first = ingest(archive, Article(url="https://a.example/timeline", site="a.example", title="A decade of rows",
                                        text="\n\n".join(TIMELINE), source="a", fetched=WHEN), ruleset, WHEN)
        alerted = quoted(archive)
        later = ingest(archive, Article(url="https://b.example/timeline", site="b.example", title="A decade of rows",
                                        text="\n\n".join([*TIMELINE, news]), source="b", fetched=WHEN), ruleset, WHEN)
        alerted_later = quoted(archive)
    assert [mention.new for mention in first.mentions] == [True] * len(TIMELINE)  # all twelve stored as new
    assert alerted == sorted(TIMELINE[:10])  # the alert quotes ten
    assert later.status == "copy" and [mention.passage for mention in later.mentions if mention.new] == [news]
    assert later.alert_id is not None and alerted_later == sorted([*TIMELINE[:10], news])


def test_another_program_s_sqlite_database_is_never_written(run_cli: RunCLI, tmp_path: Path, local_config: Path) -> None:
    """`once` used to add two dozen tables to it, and `status` told the user to run `once`."""
    with sqlite3.connect(tmp_path / "shop.db") as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO customers VALUES (1, 'Anna')")
    before = (tmp_path / "shop.db").read_bytes()
    for command in ("status", "once", "search"):
        args = ("--db", "shop.db", command, *(["envoy"] if command == "search" else []))
        one_line(run_cli(*args, check=False), "shop.db is not a monitor archive: it holds other tables (customers)")
    assert (tmp_path / "shop.db").read_bytes() == before
    with pytest.raises(ArchiveError, match="not a monitor archive"):
        Archive.create(tmp_path / "shop.db")
    assert (tmp_path / "shop.db").read_bytes() == before
    (tmp_path / "empty.db").touch()
    with Archive.create(tmp_path / "empty.db") as archive:  # an empty file is a new archive
        assert archive.version == len(MIGRATIONS)


def test_an_archive_restored_from_a_dump_is_named_so_and_left_as_it_is(run_cli: RunCLI, tmp_path: Path,
                                                                        local_config: Path) -> None:
    """A .dump drops PRAGMA user_version: the restored archive was "not a monitor archive: it holds other tables
    (alert_mentions, ...)", monitor's own."""
    archive_with_articles(tmp_path / "restored.db", count=3)
    restored = sqlite3.connect(tmp_path / "restored.db")
    restored.execute("PRAGMA user_version = 0")  # the state a restored .dump leaves: every table, no version
    restored.close()  # and its write-ahead log checkpointed into the file
    before = (tmp_path / "restored.db").read_bytes()
    for command in ("status", "once"):
        said = one_line(run_cli("--db", "restored.db", command, check=False), "restored.db holds monitor's tables but no"
                        " schema version, as a copy restored from sqlite3's .dump does")
        assert f"PRAGMA user_version = {len(MIGRATIONS)}" in said
    assert (tmp_path / "restored.db").read_bytes() == before
    restored = sqlite3.connect(tmp_path / "restored.db")
    restored.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")  # what the message says to do
    restored.close()
    assert "articles: 3" in " ".join(run_cli("--db", "restored.db", "status").stdout.split())


def test_an_archive_whose_version_is_behind_its_tables_is_named_so_and_left_as_it_is(run_cli: RunCLI, tmp_path: Path,
                                                                                     local_config: Path) -> None:
    """A schema version set below the archive's tables failed as SQLite's "table heartbeat already exists"."""
    archive_with_articles(tmp_path / "edited.db", count=2)
    edited = sqlite3.connect(tmp_path / "edited.db")
    edited.execute("PRAGMA user_version = 5")
    edited.close()
    before = (tmp_path / "edited.db").read_bytes()
    said = one_line(run_cli("--db", "edited.db", "once", check=False), "edited.db says schema version 5 but holds"
                    " tables of later versions")
    assert said.rstrip().endswith("restore it from a copy made with sqlite3's .backup")
    assert (tmp_path / "edited.db").read_bytes() == before


def test_a_sources_failed_links_past_their_budget_are_forgotten_oldest_first(tmp_path: Path) -> None:
    """A listing of a thousand fresh links of 8,000 characters to refused addresses at each check added 16.7 MB of
    failed_urls a check, kept a month: the disk filled, outside every other budget. At the end of each check a
    source's oldest failed links past FAILED_URL_CHARS are forgotten; another source's are not."""
    long_url = "https://hostile.example/{:05d}/" + "a" * 7_980
    kept = FAILED_URL_CHARS // (len(long_url.format(0)) + len("refused"))
    with Archive.create(tmp_path / "monitor.db") as archive:
        archive.sync_sources([SourceSettings(name=name, kind="feed", url=f"https://{name}.example/feed")
                              for name in ("hostile", "wire")])
        archive.record_failed_url("https://wire.example/dead", source="wire", error="refused", retry=False,
                                  when=WHEN - timedelta(days=2))
        with archive.transaction():
            for n in range(kept + 50):
                archive.record_failed_url(long_url.format(n), source="hostile", error="refused", retry=False,
                                          when=WHEN + timedelta(seconds=n))
        check = CheckRecord(checked=WHEN + timedelta(hours=1), ok=True)
        archive.record_success("hostile", check=check, next_due=WHEN + timedelta(hours=2), etag=None,
                               last_modified=None, body_hash=None)
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        held = dict(conn.execute("SELECT source, sum(length(url) + length(error)) FROM failed_urls GROUP BY source"))
        oldest = conn.execute("SELECT min(url) FROM failed_urls WHERE source = 'hostile'").fetchone()[0]
    assert held["hostile"] <= FAILED_URL_CHARS and held["wire"] == len("https://wire.example/dead") + len("refused")
    assert oldest == long_url.format(50)  # the newest kept, the 50 oldest forgotten


CREATE_AT_ONCE = """
import sys, time
from monitor.errors import ArchiveError
from monitor.store import Archive
start, folder, rounds = float(sys.argv[1]), sys.argv[2], int(sys.argv[3])
for round_ in range(rounds):
    moment = start + round_ * 0.05
    time.sleep(max(0.0, moment - time.time() - 0.01))  # asleep, and the last hundredth spun: all three at once
    while time.time() < moment:
        pass
    try:
        Archive.create(f"{folder}/{round_}.db").close()
    except ArchiveError as exc:
        print(exc)
"""


def test_processes_creating_one_archive_at_once_each_open_it(tmp_path: Path) -> None:
    """A ``once`` from cron starting beside the daemon: both read version 0, and the second failed ("table sources
    already exists", or "not a monitor archive") on a file the first had half made. Each migration now rereads the
    version under the write lock, and the check for another program's tables reads version and tables at once."""
    rounds, start = 40, time.time() + 1.5  # the processes' imports done by then
    runs = [subprocess.Popen([sys.executable, "-c", CREATE_AT_ONCE, str(start), str(tmp_path), str(rounds)],
                             stdout=subprocess.PIPE, text=True) for _ in range(3)]
    errors = [line for run in runs for line in run.communicate(timeout=60)[0].splitlines()]
    assert errors == []
    for round_ in range(rounds):
        with sqlite3.connect(tmp_path / f"{round_}.db") as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
