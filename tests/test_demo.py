"""`monitor demo`: the bundled sample, one offline cycle, alerts for the Geneva story only."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.conftest import SHIPPED_CONFIG, RunCLI, cli_env

GENEVA = "Putin and Biden agree to return ambassadors after Geneva summit"
GENEVA_COPY = "Envoys to go back to their posts as Russia–U.S. summit ends in Geneva"
UNRELATED = [
    "UNICEF names tennis star as goodwill ambassador",
    "Central banks extend currency swap lines",
    "Prisoner of the baseline",
    "French ambassador to leave",
    "Experts sceptical that Geneva cyber talks",
    "tram line",
    "Heatwave",
    "Orchestra",
]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, float]:
    out = tmp_path_factory.mktemp("demo")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(SHIPPED_CONFIG), "demo", "--output", str(out)],
        capture_output=True, text=True, env=cli_env(), timeout=60, cwd=out,
    )
    assert result.returncode == 0, result.stderr
    return result, out, time.monotonic() - started


def _sqlite_utils(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "sqlite_utils", *args], capture_output=True, text=True, check=True)
    return done.stdout


def test_demo_alerts_on_the_geneva_story_only(demo_run: tuple[subprocess.CompletedProcess[str], Path, float]) -> None:
    result, out, seconds = demo_run
    emls = sorted((out / "alerts").glob("*.eml"))
    assert len(emls) == 1, result.stdout
    message = message_from_bytes(emls[0].read_bytes(), policy=policy.default)
    subject = str(message["Subject"])
    assert "ambassadors" in subject and "prisoner swap" in subject
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "ambassador" in body and "prisoner swap" in body
    assert "127.0.0.1" in body and "127.0.0.2" in body  # the original and its syndicated copy, both listed
    for headline in UNRELATED:
        assert headline not in subject and headline not in body
    assert seconds < 15


def test_demo_leaves_the_archive_whole_in_one_file(demo_run: tuple[subprocess.CompletedProcess[str], Path, float]) -> None:
    """No ``-wal`` or ``-shm`` beside it: the last connection to close can write, so SQLite checkpoints and removes
    them (a read-only one cannot), and the archive can be copied or mailed as one file."""
    assert sorted(path.name for path in demo_run[1].iterdir()) == ["alerts", "monitor-demo.db"]


def test_demo_prints_the_alert_and_the_sqlite_utils_commands(
    demo_run: tuple[subprocess.CompletedProcess[str], Path, float],
) -> None:
    stdout = demo_run[0].stdout
    assert "Geneva" in stdout and "1 alert(s)" in stdout
    assert "sqlite-utils search" in stdout and "monitor-demo.db" in stdout


def test_demo_archive_is_queryable_with_sqlite_utils(demo_run: tuple[subprocess.CompletedProcess[str], Path, float]) -> None:
    db = str(demo_run[1] / "monitor-demo.db")
    found = json.loads(_sqlite_utils("search", db, "articles", "ambassadors", "-c", "title", "-c", "site"))
    assert {GENEVA, GENEVA_COPY} <= {row["title"] for row in found}
    tables = _sqlite_utils("tables", db, "--counts")
    for table in ("sources", "articles", "article_urls", "stories", "mentions", "alerts"):
        assert f'"table": "{table}"' in tables
    counts = {row["table"]: row["count"] for row in json.loads(tables)}
    assert counts["articles"] == 10 and counts["stories"] == 9  # the syndicated copy joined its story
    assert counts["alerts"] == 1 and counts["sources"] == 3
    # The story is titled after whichever outlet was stored first; its copy joined it.
    outlets = json.loads(_sqlite_utils("query", db, "select outlet_count from stories where title in (:a, :b)",
                                       "-p", "a", GENEVA, "-p", "b", GENEVA_COPY))
    assert outlets == [{"outlet_count": 2}]
    new = json.loads(_sqlite_utils("query", db, "select distinct rule from new_mentions order by rule"))
    assert [row["rule"] for row in new] == ["ambassadors", "prisoner swap"]


def test_demo_needs_rules_from_a_config(run_cli: RunCLI, tmp_path: Path) -> None:
    result = run_cli("--config", str(tmp_path / "absent.toml"), "demo", check=False)
    assert result.returncode == 2 and "absent.toml" in result.stderr


def test_the_alert_quotes_the_news_not_the_background(
    demo_run: tuple[subprocess.CompletedProcess[str], Path, float],
) -> None:
    body = " ".join(demo_run[0].stdout.replace("> ", " ").replace("*", "").split())
    assert "agreed on Wednesday to send their ambassadors back to Washington and Moscow" in body  # the lead
    assert "discussed a possible prisoner swap involving Russian and American citizens" in body
    assert "Both envoys had left their embassies" not in body  # background that happens to name envoys
    assert f"> {GENEVA}" not in demo_run[0].stdout  # a headline is context, never a quoted passage


def test_demo_without_a_config_file_uses_the_shipped_rules(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "monitor", "demo", "--output", str(tmp_path / "out")],
                            capture_output=True, text=True, env=cli_env(), timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 alert(s)" in result.stdout and "send their ambassadors back" in " ".join(
        result.stdout.replace("> ", " ").replace("*", "").split())
    assert "rules shipped with monitor" in result.stderr
