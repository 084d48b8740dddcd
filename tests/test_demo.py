"""`monitor demo`: the bundled sample, one offline cycle, alerts for the Geneva story only."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.conftest import ROOT, SHIPPED_CONFIG, RunCLI, cli_env, unprivileged

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
    assert "datasette-metadata > " in stdout  # Datasette with the archive's descriptions, labels and facets
    # piped, its rules between parts were as wide as the uncut console: 30,000 columns
    rules = [line for line in stdout.splitlines() if line.startswith("─")]
    assert len(rules) == 2 and all(len(line) <= 80 for line in rules), [len(line) for line in rules]


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


def test_the_archive_docs_commands_work_verbatim_on_the_demo_s_archive(
    demo_run: tuple[subprocess.CompletedProcess[str], Path, float], tmp_path: Path,
) -> None:
    """Each block of docs/archive.md's commands, run as written by a shell beside demo-output/ (Datasette itself, not
    a dependency, left out): a recipe that no longer matches the schema fails here, not in an analyst's terminal."""
    (tmp_path / "demo-output").mkdir()
    shutil.copy(demo_run[1] / "monitor-demo.db", tmp_path / "demo-output")
    env = {**cli_env(), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "docs" / "archive.md").read_text(), re.S)
    assert len(blocks) >= 3
    printed = ""
    for block in blocks:
        script = "\n".join(line for line in block.splitlines() if not line.startswith("datasette "))
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=60)
        assert done.returncode == 0, f"{script}\n{done.stderr}"
        printed += done.stdout
    assert '"published": "2021-06-17T06:15:00Z"' in printed  # Harbour Daily's copy, found by the outlet recipe
    assert '"story_outlets": "' in printed and '"term": "Putin"' in printed
    assert list(json.loads((tmp_path / "metadata.json").read_text())["databases"]) == ["monitor-demo"]


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


def test_demo_replaces_its_own_alerts_only_and_prints_its_folder_as_named(tmp_path: Path) -> None:
    """Every .eml in --output's alerts/ was deleted, a user's saved messages with them; and a folder named like rich's
    markup ("out[/x]") raised a MarkupError after the demo had run."""
    alerts = tmp_path / "out[/x]" / "alerts"
    alerts.mkdir(parents=True)
    (alerts / "saved.eml").write_text("kept")
    (alerts / "alert-99.eml").write_text("an earlier demo's")
    result = subprocess.run([sys.executable, "-m", "monitor", "demo", "--output", "out[/x]"],
                            capture_output=True, text=True, env=cli_env(), timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (alerts / "saved.eml").read_text() == "kept" and not (alerts / "alert-99.eml").exists()
    assert len(list(alerts.glob("alert-*.eml"))) == 1 and "out[/x]/alerts/alert-" in result.stdout


@pytest.mark.parametrize(("output", "problem"), [
    ("a-file/sub", "demo output a-file/sub: part of its path is a file, not a folder"),
    ("archive-is-a-folder",
     "demo output archive-is-a-folder/monitor-demo.db: it is a folder, where the demo writes a file"),
    ("alerts-is-a-file", "demo output alerts-is-a-file/alerts: it is a file, where the demo makes a folder"),
    ("read-only/new", "demo output read-only/new: Permission denied"),
    ("read-only", "demo output read-only/alerts: Permission denied"),
])
def test_an_output_folder_the_demo_cannot_use_is_one_line(run_cli: RunCLI, tmp_path: Path, output: str,
                                                          problem: str) -> None:
    """Each raised a traceback (NotADirectoryError, IsADirectoryError, FileExistsError, PermissionError). Exit 1, as
    for an archive's folder that cannot be made: whether a folder can be used is known only by trying."""
    (tmp_path / "a-file").touch()
    (tmp_path / "archive-is-a-folder" / "monitor-demo.db").mkdir(parents=True)
    (tmp_path / "alerts-is-a-file").mkdir()
    (tmp_path / "alerts-is-a-file" / "alerts").touch()
    (tmp_path / "read-only").mkdir(mode=0o555)
    result = run_cli("demo", "--output", output, check=False, prefix=tuple(unprivileged()))
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1] == f"monitor: {problem} (choose another --output)", result.stderr
    assert "Traceback" not in result.stderr


def test_demo_refuses_db(run_cli: RunCLI, tmp_path: Path) -> None:
    """--db was ignored: the demo writes its own archive, afresh, under --output (never over one the user keeps)."""
    result = run_cli("--db", "kept.db", "demo", "--output", "out", check=False)
    assert result.returncode == 2 and "Error: --db does not apply to demo" in result.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "kept.db").exists()
