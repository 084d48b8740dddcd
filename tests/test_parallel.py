"""``monitor once --processes``: how sources are split, and a worker that dies.

The whole flow over several processes (the same story found by two of them, alerts
sent once) is checked end to end in ``tests/test_e2e.py``.
"""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

import pytest

from monitor.config import Settings, SourceSettings, load_config
from monitor.parallel import ProcessCrawl, WorkerError, share_of, split_by_host
from monitor.store import Archive
from tests.conftest import RunCLI, unprivileged
from tests.httpserver import LocalWeb
from tests.newsweb import NewsWebProcess


def source(name: str, url: str) -> SourceSettings:
    return SourceSettings(name=name, kind="feed", url=url)


def test_a_hosts_sources_stay_together_and_groups_are_balanced() -> None:
    sources = [
        source("a1", "https://a.example/rss"), source("b1", "https://b.example/rss"),
        source("a2", "https://A.example:8443/world.xml"), source("c1", "https://c.example/rss"),
        source("a3", "http://a.example/sport.xml"), source("c2", "https://c.example/world"),
        source("d1", "https://d.example/rss"),
    ]  # fmt: skip
    groups = split_by_host(sources, 2)
    hosts = [{s.name[0] for s in group} for group in groups]
    assert hosts[0].isdisjoint(hosts[1]), "a host's sources (any scheme, port or case) are in one group"
    assert sorted(map(len, groups)) == [3, 4]
    assert sorted(s.name for group in groups for s in group) == sorted(s.name for s in sources)


def test_no_more_groups_than_hosts_and_one_part_is_everything() -> None:
    sources = [source("a1", "https://a.example/rss"), source("a2", "https://a.example/2"),
               source("b1", "https://b.example/rss")]  # fmt: skip
    assert [len(group) for group in split_by_host(sources, 8)] == [2, 1]
    assert split_by_host(sources, 1) == [sources]


def test_each_process_gets_its_share_of_the_requests_in_flight(tmp_path: Path) -> None:
    settings = Settings.model_validate({"fetch": {"concurrency": 16}, "database": str(tmp_path / "m.db")})
    assert share_of(settings, 3).fetch.concurrency == 5
    assert share_of(settings, 40).fetch.concurrency == 1
    assert share_of(settings, 3).database == settings.database


def crawl_setup(web: NewsWebProcess, tmp_path: Path) -> Settings:
    """Settings for the web, and the archive created, as ``monitor once`` does before it forks."""
    config = tmp_path / "config.toml"
    config.write_text(web.call("config_toml", None))
    settings = load_config(config)
    with Archive.create(settings.database):
        pass
    return settings


# The web is served by a process of its own: this one must have no threads when it forks.


def test_progress_counts_the_sources_of_every_process(tmp_path: Path) -> None:
    with NewsWebProcess(outlets=4, articles=3, scripted=False, faults=False) as web:
        settings = crawl_setup(web, tmp_path)
        seen: list[int] = []
        with ProcessCrawl(settings, list(settings.sources), 2) as crawl:
            reports = crawl.run(seen.append)
    assert [report.source for report in reports] == [source.name for source in settings.sources]
    assert sum(report.stored for report in reports) == 12
    assert seen == sorted(seen) and seen[-1] == 4


def test_no_more_processes_than_requests_in_flight(tmp_path: Path) -> None:
    settings = Settings.model_validate({
        "fetch": {"concurrency": 2}, "database": str(tmp_path / "m.db"),
        "sources": [{"name": f"s{i}", "kind": "feed", "url": f"https://host{i}.example/rss"} for i in range(5)],
    })
    crawl = ProcessCrawl(settings, list(settings.sources), 4)
    assert crawl.processes == 2


def test_a_configuration_without_sources_checks_nothing(tmp_path: Path) -> None:
    settings = Settings.model_validate({"database": str(tmp_path / "m.db")})
    with Archive.create(settings.database):
        pass
    with ProcessCrawl(settings, [], 2) as crawl:
        assert crawl.worker_pids == []
        assert crawl.run() == []


def test_a_worker_that_dies_is_reported_and_the_others_work_stands(tmp_path: Path) -> None:
    with NewsWebProcess(outlets=4, articles=3, scripted=False, faults=False) as web:
        settings = crawl_setup(web, tmp_path)
        with ProcessCrawl(settings, list(settings.sources), 2) as crawl:
            [worker] = crawl.worker_pids
            os.kill(worker, signal.SIGKILL)
            with pytest.raises(WorkerError, match="died"):
                crawl.run()
    with sqlite3.connect(settings.database) as conn:
        checked = {row[0] for row in conn.execute("SELECT name FROM sources WHERE last_checked IS NOT NULL")}
        stored = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    mine = {s.name for s in split_by_host(list(settings.sources), 2)[0]}
    assert checked == mine, "this process's sources were checked, the dead worker's were not"
    assert stored == 3 * len(mine)


def test_processes_must_be_at_least_one(run_cli: RunCLI) -> None:
    result = run_cli("once", "--processes", "0", check=False)
    assert result.returncode == 2
    assert "--processes" in result.stderr


def test_an_archive_error_in_a_worker_is_one_line(run_cli: RunCLI, tmp_path: Path, local_web: LocalWeb) -> None:
    """Two hosts, two processes, a read-only archive: the worker's error reaches the parent, not a traceback."""
    local_web.route("/a.xml", "down", status=503)
    (tmp_path / "config.toml").write_text(
        f'[fetch]\ndelay = 0\nrobots = false\n[[sources]]\nname = "a"\nkind = "feed"\nurl = "{local_web.url("/a.xml")}"\n'
        f'[[sources]]\nname = "b"\nkind = "feed"\nurl = "http://localhost:{local_web.port}/a.xml"\n'
    )
    run_cli("once", check=False)  # creates the archive; both sources fail
    (tmp_path / "monitor.db").chmod(0o444)
    result = run_cli("-q", "once", "--processes", "2", "--force", check=False, prefix=tuple(unprivileged()))
    assert result.returncode == 1 and result.stderr.splitlines() == [
        f"monitor: {tmp_path / 'monitor.db'} is read-only here: give the user running monitor write access to the file,"
        " its -wal and -shm files and its folder"
    ], result.stderr
