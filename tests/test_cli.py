"""The command line as users meet it: help, version, documented commands and keys, exit codes."""

from __future__ import annotations

import codecs
import contextlib
import os
import pty
import random
import re
import shlex
import signal
import socket
import sqlite3
import string
import json
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from click.testing import CliRunner
import pytest
from pydantic import BaseModel

from monitor import __version__
from monitor.cli import cli
from monitor.config import (
    ChannelSettings,
    EmailSettings,
    FetchSettings,
    LimitsSettings,
    RuleSettings,
    ScheduleSettings,
    Settings,
    SourceSettings,
)
from tests.conftest import BINARY_FILES, ROOT, SHIPPED_CONFIG, RunCLI, cli_env, unprivileged
from tests.httpserver import LocalWeb
from tests.newsweb import wait_for

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    names = []
    for name, command in group.commands.items():
        names.append(f"{prefix}{name}")
        if isinstance(command, click.Group):
            names.extend(_commands(command, f"{prefix}{name} "))
    return names


COMMANDS = _commands(cli)


def test_every_command_is_documented_in_the_readme() -> None:
    assert {"run", "once", "demo", "search", "rules test", "extract", "status"} <= set(COMMANDS)
    for name in COMMANDS:
        assert f"`monitor {name}" in README, f"README does not document `monitor {name}`"


def test_every_config_key_is_documented_in_the_readme() -> None:
    sections: list[tuple[str, type[BaseModel]]] = [
        ("fetch.", FetchSettings), ("schedule.", ScheduleSettings), ("limits.", LimitsSettings),
        ("sources[].", SourceSettings),
        ("rules[].", RuleSettings), ("email.", EmailSettings), ("channels[].", ChannelSettings),
    ]
    documented = set(re.findall(r"^\| `([^`]+)`", README, flags=re.MULTILINE))
    for prefix, model in sections:
        for field in model.model_fields:
            assert f"{prefix}{field}" in documented, f"README lacks {prefix}{field}"
    assert {"database", "people", "people_file", "lists.NAME"} <= documented
    assert set(Settings.model_fields) == {"database", "fetch", "schedule", "limits", "sources", "rules", "lists", "people",
                                          "people_file", "email", "channels"}


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_every_command_has_help(command: str) -> None:
    result = CliRunner().invoke(cli, [*command.split(), "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
    assert len(result.output.splitlines()) >= 5  # a description and options, not a bare usage line


def test_version(run_cli: RunCLI) -> None:
    assert run_cli("--version").stdout.strip() == f"monitor, version {__version__}"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli-demo")
    subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(SHIPPED_CONFIG), "demo", "--output", str(out)],
        capture_output=True, text=True, env=cli_env(), timeout=60, check=True,
    )
    return out / "monitor-demo.db"


def test_search_finds_the_geneva_story(run_cli: RunCLI, demo_db: Path) -> None:
    result = run_cli("--config", str(SHIPPED_CONFIG), "--db", str(demo_db), "search", "ambassadors return")
    assert "Geneva" in result.stdout


@pytest.mark.parametrize("query", ["ambassador NEAR/5 Moscow", "Geneva AND NOT swap"])
def test_a_search_in_the_rules_language_says_how_fts5_writes_it(run_cli: RunCLI, demo_db: Path, query: str) -> None:
    """An analyst who writes rules typed their NEAR/5 and AND NOT in a search too, and was told to put "NEAR/5" in
    quotes (which finds nothing) or only "syntax error near NOT"."""
    result = run_cli("--db", str(demo_db), "search", query, check=False)
    assert result.returncode == 2 and result.stderr.rstrip().endswith(
        "the search is SQLite's FTS5, not the rules' language: NEAR(ambassador Moscow, 5) finds words near each other,"
        " Geneva NOT swap leaves one out"), result.stderr


def test_search_of_an_archive_given_by_db_needs_no_config(run_cli: RunCLI, demo_db: Path, tmp_path: Path) -> None:
    """Searching the demo's archive where the demo ran (no config.toml there) said "config.toml: file not found":
    the archive is all a search reads."""
    assert not (tmp_path / "config.toml").exists()
    assert "Geneva" in run_cli("--db", str(demo_db), "search", "ambassadors return").stdout
    missing = run_cli("search", "ambassadors", check=False)  # no --db: the config says where the archive is
    assert missing.returncode == 2 and "config.toml: file not found" in missing.stderr


def test_search_with_bad_syntax_fails_cleanly(run_cli: RunCLI, demo_db: Path) -> None:
    result = run_cli("--config", str(SHIPPED_CONFIG), "--db", str(demo_db), "search", 'unbalanced "quote', check=False)
    assert result.returncode == 2 and result.stderr.startswith("monitor: bad search query")  # bad usage, as --limit 0


@pytest.mark.parametrize("query", ["", "*", " - "])
def test_a_search_without_a_word_says_so(run_cli: RunCLI, demo_db: Path, query: str) -> None:
    """FTS5 said 'syntax error near ""' or "unknown special query: ", neither of which said a word was missing."""
    result = run_cli("--config", str(SHIPPED_CONFIG), "--db", str(demo_db), "search", query, check=False)
    assert result.returncode == 2 and result.stderr == (f"monitor: bad search query {query!r}: it has no word to search"
                                                        " for, as in monitor search ambassador\n"), result.stderr


@pytest.mark.parametrize(("query", "written"), [
    ("Russia-U.S.", "'\"Russia-U.S.\"'"), ("prisoner-swap AND Geneva", "'\"prisoner-swap\" AND Geneva'"),
    ("Russia-U.S.*", "'\"Russia-U.S.\"*'"),
])
def test_a_search_for_a_punctuated_word_says_how_to_write_it(run_cli: RunCLI, demo_db: Path, query: str,
                                                              written: str) -> None:
    """FTS5 reads "-", "." and ":" in a bare word as syntax, and said "no such column: Russia" or "syntax error near
    ".""; the words an analyst searches for (U.S., a hyphenated name) had no hint of the quotes that find them."""
    result = run_cli("--config", str(SHIPPED_CONFIG), "--db", str(demo_db), "search", query, check=False)
    assert result.returncode == 2 and result.stderr.startswith("monitor: bad search query"), result.stderr
    assert result.stderr.rstrip().endswith(f"a word with punctuation goes in double quotes: monitor search {written}")
    hinted = shlex.split(written)[0]
    assert "Geneva" in run_cli("--config", str(SHIPPED_CONFIG), "--db", str(demo_db), "search", hinted).stdout


@pytest.mark.parametrize("query", ["body:ambassador", "headline : Moscow"])
def test_a_search_in_a_column_that_is_not_there_names_the_columns(run_cli: RunCLI, demo_db: Path, query: str) -> None:
    """"no such column: body" said nothing of the columns there are; the hint offered to search the phrase instead."""
    result = run_cli("--config", str(SHIPPED_CONFIG), "--db", str(demo_db), "search", query, check=False)
    assert result.returncode == 2 and result.stderr.rstrip().endswith(
        "the columns are title and text, as in monitor search title:ambassador"), result.stderr


def test_a_terminal_whose_locale_is_not_utf8_gets_its_results(demo_db: Path, tmp_path: Path) -> None:
    """Under LANG=C with Python's UTF-8 mode off, a title's dash raised UnicodeEncodeError, and a query typed in
    UTF-8 was refused as "not UTF-8 text"."""
    env = {**cli_env(), "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    command = [sys.executable, "-m", "monitor", "--config", str(SHIPPED_CONFIG), "--db", str(demo_db), "search"]
    result = subprocess.run([*command, "ambassadors"], capture_output=True, cwd=tmp_path, env=env, timeout=60)
    assert result.returncode == 0 and b"Traceback" not in result.stderr, result.stderr
    assert b"Russia?U.S. summit" in result.stdout  # the en dash, replaced
    result = subprocess.run([*command, "Женева"], capture_output=True, cwd=tmp_path, env=env, timeout=60)
    assert result.returncode == 0 and result.stderr == b"no matches\n", result.stderr


@pytest.mark.parametrize(("args", "words"), [
    (("once", "--source", ""), "--source needs a source's name"),
    (("rules", "test", "--title", "Envoy returns"), "--title goes with --text"),
    (("rules", "test", "--rule", "", "--text", "Russia recalled its ambassador to the United States."),
     "--rule needs a rule's name"),
    (("rules", "test", "--since", "2026-12-05T09:41:14Z", "--text", "The ambassador left."),
     "--since chooses articles of the archive: it does not go with --text"),
])
def test_an_option_that_would_be_ignored_is_a_usage_error(run_cli: RunCLI, args: tuple[str, ...], words: str) -> None:
    """`once --source ""` checked every source; `rules test --title` without --text judged the archive instead;
    `--rule ""` (an unset variable) raised a KeyError; --since with --text was ignored."""
    result = run_cli("--config", str(SHIPPED_CONFIG), *args, check=False)
    assert result.returncode == 2 and words in result.stderr, result.stderr


def test_status_shows_sources_and_queue(run_cli: RunCLI, demo_db: Path, tmp_path: Path) -> None:
    result = run_cli("--config", str(SHIPPED_CONFIG), "--db", str(demo_db), "status")
    assert "Harbour Daily" in result.stdout and "e-mail: no [email] in the config (1 alert not sent)" in result.stdout


def test_rules_test_shows_matches_without_alerting(run_cli: RunCLI, demo_db: Path) -> None:
    before = subprocess.run([sys.executable, "-m", "sqlite_utils", "rows", str(demo_db), "alerts"],
                            capture_output=True, text=True, check=True).stdout
    result = run_cli("--config", str(SHIPPED_CONFIG), "--db", str(demo_db), "rules", "test", "--rule", "ambassadors")
    assert "[ambassadors] NEW" in result.stdout and "Anatoly Antonov" in result.stdout
    assert "goodwill" not in result.stdout
    after = subprocess.run([sys.executable, "-m", "sqlite_utils", "rows", str(demo_db), "alerts"],
                           capture_output=True, text=True, check=True).stdout
    assert before == after


def test_rules_test_since_takes_a_time_as_monitor_shows_it(run_cli: RunCLI, demo_db: Path) -> None:
    """Times are shown as 2026-12-05T09:41:14Z everywhere; --since refused that form."""
    shown = run_cli("--config", str(SHIPPED_CONFIG), "--db", str(demo_db), "rules", "test", "--since",
                    "2000-01-01T00:00:00Z").stdout
    assert "[ambassadors] NEW" in shown
    assert "[ambassadors]" not in run_cli("--config", str(SHIPPED_CONFIG), "--db", str(demo_db), "rules", "test",
                                          "--since", "2999-01-01T00:00:00Z").stdout
    # and as the log shows it, to the millisecond: "invalid datetime format" sent the operator to rewrite it
    assert "[ambassadors] NEW" in run_cli("--config", str(SHIPPED_CONFIG), "--db", str(demo_db), "rules", "test",
                                          "--since", "2000-01-01T00:00:00.022Z").stdout


def test_rules_test_unknown_rule_fails_naming_the_rules(run_cli: RunCLI, demo_db: Path) -> None:
    """A rule's name has spaces where its label in a labelled file has "_": "--rule prisoner_swap" was only "no rule
    named 'prisoner_swap'", with nothing to pick the right one from. A name no rule has is bad usage: exit 2."""
    result = run_cli("--config", str(SHIPPED_CONFIG), "--db", str(demo_db), "rules", "test", "--rule", "prisoner_swap",
                     check=False)
    assert result.returncode == 2
    assert result.stderr == "monitor: no rule named 'prisoner_swap' (the config's: 'ambassadors', 'prisoner swap')\n"


def test_rules_names_are_printed_as_written_never_read_as_markup(run_cli: RunCLI, tmp_path: Path) -> None:
    """rich read "[/x]" in a rule's name as a closing tag and raised; "[draft] envoys" was printed " envoys"."""
    (tmp_path / "c.toml").write_text('[[rules]]\nname = "[draft] envoys [/x]"\nquery = "envoy"\n', encoding="utf-8")
    (tmp_path / "labelled.jsonl").write_text('{"text": "The envoy left.", "[draft]_envoys_[/x]": 0}\n')
    result = run_cli("--config", "c.toml", "rules", "eval", "labelled.jsonl")
    assert "[draft] envoys [/x]" in result.stdout and "false positive" in result.stdout, result.stdout


def test_rules_test_without_rules_says_so(run_cli: RunCLI, tmp_path: Path) -> None:
    config = tmp_path / "bare.toml"
    config.write_text('database = "bare.db"\n', encoding="utf-8")
    result = run_cli("--config", str(config), "rules", "test", "--text", "The ambassador left.", check=False)
    assert result.returncode == 2 and "bare.toml has no [[rules]] to test" in result.stderr  # exit 1 before


def test_rules_test_explains_a_text(run_cli: RunCLI) -> None:
    result = run_cli("--config", str(SHIPPED_CONFIG), "rules", "test", "--title", "Russia summons US Ambassador Lynne Tracy",
                     "--text", "The note of protest handed to Tracy called on the US to de-escalate.")
    out = " ".join(result.stdout.split())
    assert "[ambassadors] NEW" in out and "clause: A holder of the post by name" in out
    vetoed = run_cli("--config", str(SHIPPED_CONFIG), "rules", "test",
                     "--text", "China's new Ambassador to Russia Zhang Hanhui spoke on Wednesday.")
    assert "[ambassadors] vetoed" in vetoed.stdout and "veto" in vetoed.stdout
    # A rule that neither matched nor was vetoed says so, with what it had to work with; it printed nothing.
    unheld = run_cli("--config", str(SHIPPED_CONFIG), "rules", "test", "--text", "The delegation met officials in Geneva.")
    lines = unheld.stdout.splitlines()
    assert lines[:3] == ["[ambassadors] no clause held #0 ", "  The delegation met officials in Geneva.",
                         "    lists found: @mission_people (officials)"], lines
    assert lines[3:6] == ["[prisoner swap] no clause held #0 ", "  The delegation met officials in Geneva.",
                          "    none of the rule's lists is in it"], lines


def test_rules_eval_prints_precision_recall_and_misses(run_cli: RunCLI, tmp_path: Path) -> None:
    labelled = tmp_path / "labelled.jsonl"
    records = [
        {"id": "hit", "title": "", "text": "Russia summoned the U.S. ambassador Lynne Tracy.", "ambassadors": 1,
         "prisoner_swap": 0},
        {"id": "miss", "title": "", "text": "The envoy met officials.", "ambassadors": 1, "prisoner_swap": 0},
        {"id": "noise", "title": "", "text": "A goodwill ambassador visited Moscow.", "ambassadors": 0},
    ]
    labelled.write_text("\n".join(json.dumps(record) for record in records) + "\n", encoding="utf-8")
    result = run_cli("--config", str(SHIPPED_CONFIG), "rules", "eval", str(labelled))
    out = " ".join(result.stdout.split())
    assert "ambassadors │ 3 │ 1.000 │ 0.500" in out  # 1 of 2 positives found, no false alarm
    assert "prisoner swap │ 2 │ - │ - │ 0 │ 0 │ 0" in out  # nothing matched, no positive: no figures, not 1.000
    assert "[ambassadors] missed miss" in out and "noise" not in out
    # A passage missed with no veto says what the rule had to work with: its lists the passage holds words of.
    assert "[ambassadors] missed miss: | The envoy met officials. no clause held; lists found: @envoy (envoy)," in out
    # A wrong judgement says why: the clause that fired, or the veto that stopped a match.
    records = [{"id": "alarm", "text": "Russia summoned the U.S. ambassador Lynne Tracy.", "ambassadors": 0},
               {"id": "vetoed", "text": "Former U.S. ambassador to Russia Michael McFaul said the Kremlin erred.",
                "ambassadors": 1}]
    labelled.write_text("\n".join(json.dumps(record) for record in records) + "\n", encoding="utf-8")
    lines = run_cli("--config", str(SHIPPED_CONFIG), "rules", "eval", str(labelled)).stdout.splitlines()
    alarm = lines.index(next(line for line in lines if line.startswith("[ambassadors] false positive alarm")))
    assert lines[alarm + 2].startswith("    clause: The post, with the other side near"), lines[alarm:]
    vetoed = lines.index(next(line for line in lines if line.startswith("[ambassadors] missed vetoed")))
    assert lines[vetoed + 1] == "    veto @ambassador NOT NEAR/1 @was_former: Former U.S. ambassador", lines[vetoed:]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "no text"}\n', encoding="utf-8")
    failed = run_cli("--config", str(SHIPPED_CONFIG), "rules", "eval", str(bad), check=False)
    assert failed.returncode == 2 and "bad.jsonl: line 1: not a labelled passage" in failed.stderr


def test_rules_eval_shows_a_labelled_passage_s_words_as_any_page_s(run_cli: RunCLI, tmp_path: Path) -> None:
    """Labelled passages are cut from pages: their escape sequences and bidi overrides reached the terminal raw (a
    cleared screen, a window's title set), where every other command shows a page's words made printable."""
    labelled = tmp_path / "labelled.jsonl"
    hostile = "\x1b]0;TITLE\x07\x1b[2J\u202e"
    records = [{"id": f"a{hostile}", "title": f"t{hostile}", "text": f"Russia summoned the U.S. ambassador.{hostile}",
                "ambassadors": 0},
               {"id": "b", "text": f"Former U.S. ambassador to Russia Michael McFaul{hostile} said so.", "ambassadors": 1}]
    labelled.write_text("\n".join(json.dumps(record) for record in records) + "\n", encoding="utf-8")
    out = run_cli("--config", str(SHIPPED_CONFIG), "rules", "eval", str(labelled)).stdout
    assert "[ambassadors] false positive a" in out and "[ambassadors] missed b" in out
    assert not any(character in out for character in "\x1b\x07\u202e"), repr(out)


def test_the_rules_commands_use_the_shipped_rules_where_there_is_no_config(run_cli: RunCLI, tmp_path: Path) -> None:
    """After ``monitor demo`` (which needs no config), trying the rules on a sentence or a labelled file said
    "config.toml: file not found". Without a config here, and none given, they are the rules shipped with monitor."""
    assert not (tmp_path / "config.toml").exists()
    tested = run_cli("rules", "test", "--text", "Russia expelled the U.S. ambassador Lynne Tracy on Monday.")
    assert "[ambassadors] NEW" in tested.stdout and "the rules shipped with monitor are used" in tested.stderr
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text(json.dumps({"text": "Russia summoned the U.S. ambassador Lynne Tracy.", "ambassadors": 1}),
                        encoding="utf-8")
    assert "ambassadors │ 1 │ 1.000 │ 1.000" in " ".join(run_cli("rules", "eval", str(labelled)).stdout.split())


@pytest.mark.parametrize(("content", "problem"), [
    (b"[1, 2]\n", "line 1: not a labelled passage: a JSON object"),
    (b'{"text": 5, "ambassadors": 1}\n', "line 1: not a labelled passage: a JSON object"),
    (b'{"text": "An envoy.", "ambassadors": 1}\n{"text": "Caf\xe9 talks.", "ambassadors": 0}\n',
     "line 2: not UTF-8 text"),
    (b'{"text": "An envoy.", "ambassadors": "0"}\n', """line 1: label 'ambassadors' is "0": give 0 or 1"""),
    (b'{"text": "An envoy.", "ambassadors": 1}\n\n{"text": "A swap.", "prisoner_swap": "no"}\n',
     """line 3: label 'prisoner_swap' is "no": give 0 or 1"""),
    (b'{"text": "A swap.", "prisoner-swap": 1}\n',
     "no passage is labelled for any rule: label fields are 'ambassadors', 'prisoner_swap'; these name no rule:"
     " 'prisoner-swap' (line 1; write it 'prisoner_swap')"),
    # The rule's own name, its space kept: the message said it named no rule, not how to write it.
    (b'{"text": "A swap.", "prisoner swap": 1, "Ambassadors": 0}\n',
     "no passage is labelled for any rule: label fields are 'ambassadors', 'prisoner_swap'; these name no rule:"
     " 'prisoner swap' (line 1; write it 'prisoner_swap'), 'Ambassadors' (line 1; write it 'ambassadors')"),
    (b'{"text": "A swap.", "swaps": 1}\n',
     "no passage is labelled for any rule: label fields are 'ambassadors', 'prisoner_swap'; these name no rule:"
     " 'swaps' (line 1)"),
    (b"", "no passage is labelled for any rule"),
    (b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", "line 1: not a labelled passage: nested too deeply"),
])
def test_rules_eval_of_a_bad_file_is_one_line_naming_it(run_cli: RunCLI, tmp_path: Path, content: bytes,
                                                         problem: str) -> None:
    """A list was an AttributeError, Latin-1 a UnicodeDecodeError, "0" a positive label, and a file labelling
    nothing (or a typo in every label) scored 1.000: each is now one line, exit 2, as a line that is not JSON."""
    (tmp_path / "labelled.jsonl").write_bytes(content)
    result = run_cli("--config", str(SHIPPED_CONFIG), "rules", "eval", "labelled.jsonl", check=False)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"monitor: labelled.jsonl: {problem}"), result.stderr


def test_rules_eval_reads_a_file_saved_with_a_byte_order_mark_and_crlf(run_cli: RunCLI, tmp_path: Path) -> None:
    """Notepad and Excel save UTF-8 with a byte-order mark: line 1 was "not a labelled passage (JSONDecodeError:
    Unexpected UTF-8 BOM …)", exit 2, for a character no editor shows."""
    records = [{"text": "Russia recalled its ambassador to the United States.", "ambassadors": 1},
               {"text": "A goodwill ambassador visited Moscow.", "ambassadors": 0}]
    (tmp_path / "labelled.jsonl").write_bytes(codecs.BOM_UTF8 + b"".join(json.dumps(r).encode() + b"\r\n" for r in records))
    result = run_cli("--config", str(SHIPPED_CONFIG), "rules", "eval", "labelled.jsonl")
    assert "ambassadors │ 2 │ 1.000 │ 1.000" in " ".join(result.stdout.split()), result.stdout


def test_rules_eval_warns_of_a_field_naming_no_rule_and_scores_no_unlabelled_rule(run_cli: RunCLI,
                                                                                   tmp_path: Path) -> None:
    """A label under a misspelt name is warned of; a passage's facts that are text (its URL, its language, where its
    title came from, as a corpus records them) are not labels, and were warned of on every line's first."""
    record = {"text": "Russia recalled its ambassador to the United States.", "ambassadors": True,
              "prisoner-swap": 0, "url": "https://example.org/a", "lang": "en", "title_source": "page"}
    (tmp_path / "labelled.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    result = run_cli("--config", str(SHIPPED_CONFIG), "rules", "eval", "labelled.jsonl")
    assert ("labelled.jsonl: these fields name no rule and are left out: 'prisoner-swap' (line 1; write it"
            " 'prisoner_swap')\n") in result.stderr
    out = " ".join(result.stdout.split())
    assert "ambassadors │ 1 │ 1.000 │ 1.000" in out and "prisoner swap │ 0 │ - │ - │" in out


def test_extract_a_file_as_json(run_cli: RunCLI, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        "<html lang='en'><head><title>Envoy returns | Example</title></head><body><article><h1>Envoy returns</h1>"
        + "".join(f"<p>Paragraph {n} of a story about an envoy who returns to Moscow after months away.</p>" for n in range(6))
        + "</article></body></html>"
    )
    import json

    data = json.loads(run_cli("extract", str(page), "--json").stdout)
    assert data["title"] == "Envoy returns" and "Paragraph 5" in data["text"] and data["language"] == "en"


@pytest.mark.parametrize("charset", ["windows-1251", None])
def test_extract_decodes_a_file_as_a_fetched_page(run_cli: RunCLI, tmp_path: Path, charset: str | None) -> None:
    """A file was read as UTF-8 whatever its <meta charset>; over HTTP the same bytes were decoded right."""
    meta = f'<meta charset="{charset}">' if charset else ""
    story = "Посол России вернулся в Вашингтон после консультаций в Москве, сообщили в МИД. "
    page = tmp_path / "page.html"
    page.write_bytes(f"<html><head>{meta}<title>Посол вернулся</title></head><body><article>".encode("cp1251")
                     + "".join(f"<p>{n}. {story * 3}</p>" for n in range(6)).encode("cp1251")
                     + b"</article></body></html>")
    data = json.loads(run_cli("extract", str(page), "--json").stdout)
    assert data["title"] == "Посол вернулся" and story.strip() in data["text"]


@pytest.mark.parametrize(("config", "problem"), [
    ("absent.toml", "absent.toml: file not found"), ("bad.toml", "bad.toml: fetch.timeout: Input should be a valid number"),
])
def test_extract_with_a_config_given_that_does_not_load_fails(run_cli: RunCLI, tmp_path: Path, config: str,
                                                               problem: str) -> None:
    """--config was silently ignored by extract, which went on with the defaults."""
    (tmp_path / "bad.toml").write_text("[fetch]\ntimeout = 'soon'\n", encoding="utf-8")
    (tmp_path / "page.html").write_text("<html><body><p>An envoy returns.</p></body></html>", encoding="utf-8")
    result = run_cli("--config", config, "extract", "page.html", check=False)
    assert result.returncode == 2 and result.stderr.startswith(f"monitor: {problem}"), result.stderr


def test_extract_piped_separates_metadata_and_text_by_a_short_rule(run_cli: RunCLI, tmp_path: Path) -> None:
    """Piped, the console is as wide as its cells: the rule under the metadata was 10,000 characters long."""
    page = tmp_path / "page.html"
    page.write_text("<html><head><title>Envoy returns</title></head><body><article>"
                    + "<p>The envoy returns to Moscow after months away, officials said on Monday.</p>" * 6
                    + "</article></body></html>", encoding="utf-8")
    lines = run_cli("extract", str(page)).stdout.splitlines()
    rule = lines.index("\u2500" * 80)
    assert lines[0] == "     title: Envoy returns" and lines[rule + 1].startswith("The envoy returns to Moscow")
    assert max(map(len, lines)) <= 80 * 6


def test_extract_missing_file_fails(run_cli: RunCLI, tmp_path: Path) -> None:
    result = run_cli("extract", str(tmp_path / "missing.html"), check=False)
    assert result.returncode == 1 and "no such file" in result.stderr


def test_extract_a_device_or_a_pipe_is_not_read(run_cli: RunCLI, tmp_path: Path) -> None:
    """A device or a pipe need not end, and was called "no such file", though it is there."""
    os.mkfifo(tmp_path / "pipe")
    for target in ("/dev/zero", "pipe"):
        result = run_cli("extract", target, check=False)
        assert result.returncode == 1 and result.stderr == f"monitor: {target}: not a regular file (give a page's" \
            " file or an http(s) URL)\n"


@pytest.mark.parametrize("url", ["http://[::1", "http://", "http://a b/", "http://127.0.0.1:99999/", "ftp://x/"])
def test_extract_a_url_that_does_not_parse_is_a_usage_error(run_cli: RunCLI, url: str) -> None:
    result = run_cli("-q", "extract", url, check=False)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("monitor: not ") and repr(url) in result.stderr, result.stderr


def test_extract_reads_a_scheme_in_any_case(run_cli: RunCLI, local_web: LocalWeb) -> None:
    local_web.route("/envoy", "<html><head><title>Envoy returns</title></head><body><article>"
                    + "<p>The envoy returns to Moscow after months away, officials said on Monday.</p>" * 6
                    + "</article></body></html>")
    result = run_cli("-q", "extract", local_web.url("/envoy").replace("http://", "HTTP://"), "--json")
    assert json.loads(result.stdout)["title"] == "Envoy returns"


def test_extract_a_folder_or_an_unreadable_file_says_so(run_cli: RunCLI, tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    folder = run_cli("extract", "pages/", check=False)
    assert folder.returncode == 1 and folder.stderr == "monitor: pages/: is a folder (give a page's file or an" \
        " http(s) URL)\n"
    nothing = run_cli("extract", "", check=False)  # Path("") is the current folder: it said ": is a folder"
    assert nothing.returncode == 2 and nothing.stderr == "monitor: no page given: give a page's file or an http(s) URL\n"
    (tmp_path / "locked.html").write_text("<p>secret</p>", encoding="utf-8")
    (tmp_path / "locked.html").chmod(0)
    locked = run_cli("extract", "locked.html", check=False, prefix=tuple(unprivileged()))
    assert locked.returncode == 1 and locked.stderr == "monitor: locked.html: cannot be read: Permission denied\n"


@pytest.mark.parametrize("name", BINARY_FILES)
def test_extract_a_file_of_binary_data_says_so(run_cli: RunCLI, tmp_path: Path, name: str) -> None:
    """An image, a gzipped page or a program printed as replacement characters, and exited 0."""
    (tmp_path / name).write_bytes(BINARY_FILES[name])
    result = run_cli("extract", name, check=False)
    assert result.returncode == 1 and result.stdout == "", result.stdout
    assert result.stderr == f"monitor: {name}: binary data, not an HTML page (give a page saved as HTML, or its URL)\n"


@pytest.mark.parametrize("content_type", ["text/html", None])
@pytest.mark.parametrize("name", BINARY_FILES)
def test_extract_a_url_of_binary_data_says_so_as_of_a_file(run_cli: RunCLI, local_web: LocalWeb, name: str,
                                                           content_type: str | None) -> None:
    """Served as text/html, or with no type, binary data was "extracted" too; a type that says so (image/png) was
    refused already."""
    local_web.route(f"/{name}", BINARY_FILES[name], content_type=content_type)
    result = run_cli("-q", "extract", local_web.url(f"/{name}"), check=False)
    assert result.returncode == 1 and result.stdout == "", result.stdout
    assert result.stderr == f"monitor: binary data, not an HTML page ({local_web.url(f'/{name}')})\n"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_extract_reads_a_utf_16_or_utf_32_page_whose_bytes_hold_nuls(run_cli: RunCLI, tmp_path: Path,
                                                                       encoding: str) -> None:
    """Half the bytes of a UTF-16 page are NULs: binary data is judged after the byte-order mark decodes them."""
    html = ("<html><head><title>Посол вернулся</title></head><body><article>"
            + "<p>Посол России вернулся в Вашингтон после консультаций в Москве, сообщили в МИД.</p>" * 6
            + "</article></body></html>")
    (tmp_path / "page.html").write_bytes(("\ufeff" + html).encode(encoding))
    assert json.loads(run_cli("extract", "page.html", "--json").stdout)["title"] == "Посол вернулся"


def test_once_without_sources_says_it_checks_nothing(run_cli: RunCLI, tmp_path: Path) -> None:
    """An empty config (or one whose sources went into another file) checked nothing and said nothing, exit 0."""
    (tmp_path / "config.toml").write_text("")
    result = run_cli("once")
    assert "the config has no [[sources]]: nothing is checked" in result.stderr
    # and one without rules stored every article and alerted on none, for as long as it ran
    assert "the config has no [[rules]]: articles are stored, and nothing alerts" in result.stderr


def test_once_says_at_its_start_that_the_smtp_password_variable_is_empty(run_cli: RunCLI, tmp_path: Path) -> None:
    """It was said at the first alert, days later perhaps."""
    (tmp_path / "config.toml").write_text('[email]\nusername = "bob"\npassword_env = "MONITOR_TEST_UNSET_PASSWORD"\n'
                                          'recipients = ["analyst@example.org"]\n')
    result = run_cli("once")
    assert ("email.username is set but the environment variable MONITOR_TEST_UNSET_PASSWORD is empty: no alert can be"
            " e-mailed until it is set") in result.stderr


def test_once_with_unknown_source_fails(run_cli: RunCLI) -> None:
    result = run_cli("--config", str(SHIPPED_CONFIG), "--db", "x.db", "once", "--source", "Nope", check=False)
    assert result.returncode == 2 and "no source named 'Nope' (the config's: 'US Embassy in Russia', " in result.stderr


def test_extract_names_the_cause_of_a_network_failure(run_cli: RunCLI) -> None:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_cli("-q", "extract", f"http://127.0.0.1:{port}/a", check=False)
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "connection refused by 127.0.0.1" in result.stderr and "disallowed" not in result.stderr


EMPTY_FEED = "<rss version='2.0'><channel/></rss>"


def feed_config(tmp_path: Path, **feeds: str) -> None:
    """config.toml in ``tmp_path`` with one feed source per name and URL, and a rule (one without is warned of)."""
    sources = "".join(f'[[sources]]\nname = "{name}"\nkind = "feed"\nurl = "{url}"\n' for name, url in feeds.items())
    (tmp_path / "config.toml").write_text('[fetch]\ndelay = 0\n' + sources + '[[rules]]\nname = "r"\nquery = "zyzzyva"\n')


def test_once_says_when_a_source_s_links_were_skipped(run_cli: RunCLI, tmp_path: Path, local_web: LocalWeb) -> None:
    """A source whose every article timed out or answered 503 showed "ok", 0 fetched: as if all had been read."""
    feed = ("<rss version='2.0'><channel><title>Wire</title>"
            + "".join(f"<item><title>Envoy {n}</title><link>{local_web.url(f'/story/{n}')}</link></item>" for n in (1, 2))
            + "</channel></rss>")
    local_web.route("/feed.xml", feed, content_type="application/rss+xml")
    for n in (1, 2):
        local_web.route(f"/story/{n}", "down", status=503)
    feed_config(tmp_path, wire=local_web.url("/feed.xml"))
    result = run_cli("once", check=False)
    assert result.returncode == 0, result.stderr
    assert "ok, 2 links skipped (2 tried again by later checks; the causes are in failed_urls" in result.stdout, \
        result.stdout


def test_a_failed_check_records_its_cause_for_status(run_cli: RunCLI, tmp_path: Path, local_web: LocalWeb) -> None:
    local_web.route("/gone.xml", "gone", status=410)
    feed_config(tmp_path, gone=local_web.url("/gone.xml"))
    assert run_cli("once", check=False).returncode == 1
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        [(error,)] = conn.execute("SELECT last_error FROM sources").fetchall()
    assert error.startswith("HTTP 410 Gone")
    assert "HTTP 410 Gone" in run_cli("status").stdout


def test_piped_tables_keep_the_failing_url_and_times_whole(tmp_path: Path, local_web: LocalWeb) -> None:
    """Cron's mail and log files read the tables through a pipe: cut to 80 columns, the URL and the times were lost."""
    long_path = "/feeds/" + "a-long-section-name/" * 4 + "gone.xml"
    local_web.route(long_path, "gone", status=410)
    url = local_web.url(long_path)
    feed_config(tmp_path, **{"a-source-with-a-long-name": url})
    env = {key: value for key, value in cli_env().items() if key != "COLUMNS"}
    for command in ("once", "status"):
        result = subprocess.run([sys.executable, "-m", "monitor", command], capture_output=True, text=True,
                                cwd=tmp_path, env=env, timeout=60)
        assert url in result.stdout and "a-source-with-a-long-name" in result.stdout, result.stdout
        assert "…" not in result.stdout
    status = result.stdout
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", status), status  # last checked, whole


@pytest.mark.parametrize("columns", ["0", "wide"])
def test_a_columns_of_no_width_still_prints_the_tables(demo_db: Path, columns: str) -> None:
    """`COLUMNS=0 monitor status` printed nothing and exited 0."""
    env = {**cli_env(), "COLUMNS": columns}
    result = subprocess.run([sys.executable, "-m", "monitor", "--db", str(demo_db), "status"], capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.returncode == 0 and "articles:" in result.stdout and "source" in result.stdout, result.stdout


def test_a_listing_whose_selector_matches_nothing_says_so(run_cli: RunCLI, tmp_path: Path, local_web: LocalWeb) -> None:
    local_web.route("/latest", "<html><body><h2 class='headline'><a href='/a'>Envoy returns</a></h2></body></html>")
    (tmp_path / "config.toml").write_text(
        f'[fetch]\ndelay = 0\nrobots = false\n[[sources]]\nname = "x"\nkind = "page"\nurl = "{local_web.url("/latest")}"\n'
        'links = "h3.headline a"\n'
    )
    assert "ok, but no links found" in run_cli("once").stdout


def test_a_url_that_reads_as_rich_markup_fails_its_check_in_one_line(run_cli: RunCLI, tmp_path: Path,
                                                                     local_web: LocalWeb) -> None:
    """"[/feed]" in an error once closed a tag the table's console never opened: a traceback instead of the table."""
    (tmp_path / "config.toml").write_text(
        f'[fetch]\ndelay = 0\nrobots = false\n[[sources]]\nname = "x"\nkind = "feed"\n'
        f'url = "{local_web.url("/[/feed]")}"\n'
    )
    result = run_cli("once", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines()[-1] == "monitor: every source failed"
    assert "HTTP 404" in result.stdout and "[/feed]" in run_cli("status").stdout.replace("\n", "")


def test_once_within_every_sources_backoff_checks_nothing_and_exits_1(run_cli: RunCLI, tmp_path: Path,
                                                                      local_web: LocalWeb) -> None:
    """The first run said "every source failed"; the runs within the sources' backoff checked nothing and exited 0,
    so a cron job saw success while every source was broken."""
    (tmp_path / "config.toml").write_text(
        f'[fetch]\ndelay = 0\nrobots = false\n[[sources]]\nname = "x"\nkind = "feed"\nurl = "{local_web.url("/gone")}"\n')
    assert run_cli("once", check=False).stderr.splitlines()[-1] == "monitor: every source failed"
    again = run_cli("once", check=False)
    assert again.returncode == 1 and "backing off until" in again.stdout
    assert again.stderr.splitlines()[-1] == ("monitor: no source was checked: every one failed or is backing off after"
                                             " failures (--force checks them now)")
    assert local_web.hits("/gone") == 1  # not asked again within its backoff


def test_page_text_reaches_the_terminal_without_its_escape_sequences(run_cli: RunCLI, tmp_path: Path) -> None:
    """A page's ESC[2J cleared the operator's screen, its OSC 0 retitled the terminal: alerts dropped them already."""
    hostile = ("Russia recalled its ambassador to the United States \x1b[2J\x1b]0;PWNED\x07 for consultations in Moscow,"
               " the Russian Foreign Ministry said.")
    page = tmp_path / "page.html"
    page.write_text(f"<html><head><title>Envoy \x1b[31mrecalled</title></head><body><article><p>{hostile} "
                    f"{'More of the story. ' * 20}</p></article></body></html>", encoding="utf-8")
    shown = run_cli("extract", str(page)).stdout
    assert "\x1b" not in shown and "\x07" not in shown and "PWNED" in shown and "Envoy [31mrecalled" in shown
    tested = run_cli("--config", str(SHIPPED_CONFIG), "rules", "test", "--text", hostile).stdout
    assert "\x1b" not in tested and "recalled its ambassador" in tested


def test_a_bad_query_is_a_config_error_with_its_position(run_cli: RunCLI, tmp_path: Path) -> None:
    config = tmp_path / "bad-query.toml"
    config.write_text('[[rules]]\nname = "envoys"\nquery = "ambassador NEAR/3 (Moscow"\n', encoding="utf-8")
    result = run_cli("--config", str(config), "rules", "test", "--text", "The ambassador left Moscow.", check=False)
    assert result.returncode == 2
    assert "rules[0] (envoys).query: position 19: this ( is never closed" in result.stderr


@pytest.mark.parametrize("command", ["once", "run"])
def test_a_bad_query_stops_once_and_run_before_they_start(run_cli: RunCLI, tmp_path: Path, local_web: LocalWeb,
                                                          command: str) -> None:
    """Only the parsing workers compiled the rules: `once` printed each worker's traceback, then "the parsing
    workers could not start"; `run` started and failed every check with that, for as long as it ran."""
    local_web.route("/feed.xml", EMPTY_FEED, content_type="application/rss+xml")
    feed_config(tmp_path, wire=local_web.url("/feed.xml"))
    with (tmp_path / "config.toml").open("a") as config:
        config.write('[[rules]]\nname = "envoys"\nquery = "ambassador NEAR/3 @nolist"\n')
    result = run_cli(command, check=False, timeout=30)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("monitor: config.toml: rules[1] (envoys).query: no list named @nolist (lists: ")
    assert result.stderr.count("\n") == 1 and local_web.hits("/feed.xml") == 0, result.stderr
    assert not (tmp_path / "monitor.db").exists()  # nothing made of an archive the rules never reached


@pytest.mark.parametrize("limit", ["0", "-1", "10001", "99999999999999999999"])
def test_search_limit_out_of_range_is_a_usage_error(run_cli: RunCLI, demo_db: Path, limit: str) -> None:
    """0 printed "no matches", -1 meant no limit, and 20 digits was an SQLite error blamed on the archive."""
    result = run_cli("--config", str(SHIPPED_CONFIG), "--db", str(demo_db), "search", "ambassadors", "--limit", limit,
                     check=False)
    assert result.returncode == 2 and "Invalid value for '--limit'" in result.stderr, result.stderr
    assert "1<=x<=10000" in result.stderr and result.stdout == ""


# The command as a shell starts a foreground job: SIGINT and SIGTERM at their defaults and unblocked, whatever the
# state of this test process, which a child inherits through exec (twice in full runs a Ctrl-C went unheard, the
# check running to its 20 s timeout); then the command itself, by exec, so that the signal reaches it alone.
_AS_A_SHELL_STARTS_IT = (
    "import os, signal, sys; [signal.signal(s, signal.SIG_DFL) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)];"
    " signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP});"
    " os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


@pytest.mark.parametrize(
    ("sent", "status", "said"),
    [(signal.SIGINT, 130, "monitor: interrupted\n"), (signal.SIGTERM, 143, "monitor: terminated (SIGTERM)\n"),
     (signal.SIGHUP, 129, "monitor: hung up (SIGHUP)\n")],
    ids=["ctrl-c", "sigterm", "sighup"],
)
def test_a_stop_signal_is_one_line_and_the_status_a_shell_gives_a_command_it_ended(
    tmp_path: Path, local_web: LocalWeb, sent: signal.Signals, status: int, said: str
) -> None:
    """Ctrl-C printed click's "Aborted!" and exited 1, the status of a failed run, to a script that waits on it.
    `kill`, `docker stop` and systemd send SIGTERM: `once` died of it at once, exit 143 and not a word, its queued
    alerts not delivered; so it did of SIGHUP, a terminal or ssh session closed. Each now unwinds the same way and
    says so in one line, with the status a shell reports."""
    local_web.route("/slow.xml", EMPTY_FEED, content_type="application/rss+xml", delay=30)
    feed_config(tmp_path, slow=local_web.url("/slow.xml"))
    once = subprocess.Popen([sys.executable, "-c", _AS_A_SHELL_STARTS_IT, "-m", "monitor", "-q", "once"], cwd=tmp_path,
                            env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: local_web.hits("/slow.xml") == 1, 30, "the check to start")
        once.send_signal(sent)
        _, stderr = once.communicate(timeout=30)
    finally:
        if once.poll() is None:
            once.kill()
    assert (once.returncode, stderr) == (status, said)
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"


@pytest.mark.parametrize("fast", [1, 13])
def test_a_check_cut_short_still_shows_the_alerts_it_queued(tmp_path: Path, local_web: LocalWeb, fast: int) -> None:
    """Without [email], alerts reach the log at the end of their check: those a check cut short by Ctrl-C had queued
    were stored, and shown by no run, then or later. Past ten, the rest are counted in one line: a hostile feed's check
    had queued 400, whose reading and logging held a stop for 11 s."""
    letters = random.Random(7)

    def story(n: int, place: str) -> str:
        own = " ".join("".join(letters.choices(string.ascii_lowercase, k=7)) for _ in range(12))  # none a copy of another
        return (f"<html><head><title>Zyzzyva {n} at the {place}</title></head><body><article><h1>Zyzzyva {n} at the"
                f" {place}</h1>" + f"<p>A zyzzyva was found in the {place} garden, {own}, the staff said.</p>" * 3
                + "</article></body></html>")

    slow = fast + 1
    feed = ("<rss version='2.0'><channel><title>Wire</title>"
            + "".join(f"<item><title>Story {n}</title><link>{local_web.url(f'/story/{n}')}</link></item>"
                      for n in range(1, slow + 1))
            + "</channel></rss>")
    local_web.route("/feed.xml", feed, content_type="application/rss+xml")
    for n in range(1, fast + 1):
        local_web.route(f"/story/{n}", story(n, "embassy"))
    local_web.route(f"/story/{slow}", story(slow, "consulate"), delay=30)
    feed_config(tmp_path, wire=local_web.url("/feed.xml"))

    def queued() -> int:
        try:
            with contextlib.closing(sqlite3.connect(tmp_path / "monitor.db")) as conn:
                return int(conn.execute("SELECT count(*) FROM alerts").fetchone()[0])
        except sqlite3.OperationalError:  # the archive still being made, or a checkpoint under way: ask again
            return 0

    once = subprocess.Popen([sys.executable, "-c", _AS_A_SHELL_STARTS_IT, "-m", "monitor", "once"], cwd=tmp_path,
                            env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: local_web.hits(f"/story/{slow}") == 1 and (tmp_path / "monitor.db").exists()
                 and queued() == fast, 30, "the fast stories' alerts and the slow story's fetch")
        # The alert's number reaches the check as the event loop next turns, a moment after the archive holds it:
        # a stop in between leaves the check no alert to name (one run in a dozen under two busy loops).
        time.sleep(1)
        once.send_signal(signal.SIGINT)
        _, stderr = once.communicate(timeout=30)
    finally:
        if once.poll() is None:
            once.kill()
    assert once.returncode == 130, stderr
    # Stories are fetched side by side, so alert 1 need not be story 1's: each shown alert is checked by its number.
    shown = dict(re.findall(r"alert (\d+) queued \(by wire's check, cut short by the stop\):\n\[monitor\] r: (.+)\n",
                            stderr))
    with contextlib.closing(sqlite3.connect(tmp_path / "monitor.db")) as conn:
        titles = dict(conn.execute(
            "SELECT DISTINCT alert_mentions.alert_id, articles.title FROM alert_mentions"
            " JOIN mentions ON mentions.id = alert_mentions.mention_id JOIN articles ON articles.id = mentions.article_id"
        ).fetchall())
    assert len(titles) == fast, titles
    assert shown == {str(n): titles[n] for n in range(1, min(fast, 10) + 1)}, stderr
    assert ("wire: 3 more alerts queued by its check, cut short by the stop" in stderr) is (fast > 10), stderr


# A Ctrl-C that lands while the CLI's modules load: their loading is interrupted as the signal would interrupt it (the
# quarter of a second it takes cannot be hit on time from here).
_INTERRUPTED_WHILE_LOADING = """
import sys
class Interrupting:
    def find_spec(self, name, path=None, target=None):
        if name == "monitor.config":
            raise KeyboardInterrupt
sys.meta_path.insert(0, Interrupting())
from monitor.__main__ import run
sys.argv = ["monitor", "--version"]
run()
"""


def test_a_ctrl_c_while_the_command_loads_is_one_line() -> None:
    """A Ctrl-C in the first quarter of a second printed a traceback of the imports."""
    result = subprocess.run([sys.executable, "-c", _INTERRUPTED_WHILE_LOADING], capture_output=True, text=True,
                            env=cli_env(), timeout=60)
    assert (result.returncode, result.stderr) == (130, "monitor: interrupted\n")


def test_numpy_starts_no_threads_in_a_monitor_process() -> None:
    """numpy's OpenBLAS started a pool of threads as the archive's modules imported it (sqlite-utils does): 0.12 s of
    CPU in every command and parsing worker, for matrix work monitor never does. One set by the user is kept."""
    env = {name: value for name, value in cli_env().items() if name != "OPENBLAS_NUM_THREADS"}
    code = "import monitor.store, numpy, re; print(re.search(r'Threads:\\s+(\\d+)', open('/proc/self/status').read())[1])"
    threads = [subprocess.run([sys.executable, "-c", code], env=env | extra, capture_output=True, text=True,
                              check=True, timeout=60).stdout.strip() for extra in ({}, {"OPENBLAS_NUM_THREADS": "2"})]
    assert threads[0] == "1"
    if len(os.sched_getaffinity(0)) > 1:  # on one core OpenBLAS starts no pool, whatever it is asked for
        assert threads[1] == "2"


def test_once_under_nohup_runs_on_when_its_terminal_hangs_up(tmp_path: Path, local_web: LocalWeb) -> None:
    """nohup ignores SIGHUP so that the command outlives its terminal: it is not made a stop."""
    local_web.route("/slow.xml", EMPTY_FEED, content_type="application/rss+xml", delay=3)
    feed_config(tmp_path, slow=local_web.url("/slow.xml"))
    once = subprocess.Popen([sys.executable, "-c", _AS_A_SHELL_STARTS_IT.replace(
        "signal.pthread_sigmask", "signal.signal(signal.SIGHUP, signal.SIG_IGN); signal.pthread_sigmask"),
        "-m", "monitor", "-q", "once"], cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        wait_for(lambda: local_web.hits("/slow.xml") == 1, 30, "the check to start")
        once.send_signal(signal.SIGHUP)
        _, stderr = once.communicate(timeout=30)
    finally:
        if once.poll() is None:
            once.kill()
    assert (once.returncode, stderr) == (0, "")


def test_a_closed_standard_output_costs_nothing_but_the_printing(tmp_path: Path, local_web: LocalWeb) -> None:
    """Started with its standard output closed (``>&-``, a service without one), every command that prints a table
    raised AttributeError once its work was done: a traceback, and exit 1 after a good `once`."""
    local_web.route("/feed.xml", EMPTY_FEED, content_type="application/rss+xml")
    feed_config(tmp_path, wire=local_web.url("/feed.xml"))
    for command in (["once"], ["status"], ["search", "envoy"]):
        result = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-m", "monitor", "-q", *command],
                                capture_output=True, text=True, cwd=tmp_path, env=cli_env(), timeout=60)
        assert result.returncode == 0 and "Traceback" not in result.stderr, (command, result.stderr)


def test_once_with_its_standard_error_closed_does_its_work(tmp_path: Path, local_web: LocalWeb) -> None:
    """Started with stderr closed (``2>&-``), `once` died with AttributeError before it checked anything, exit 1,
    and with nowhere to say so."""
    local_web.route("/feed.xml", EMPTY_FEED, content_type="application/rss+xml")
    feed_config(tmp_path, wire=local_web.url("/feed.xml"))
    result = subprocess.run(["sh", "-c", 'exec "$@" 2>&-', "sh", sys.executable, "-m", "monitor", "once"],
                            capture_output=True, text=True, cwd=tmp_path, env=cli_env(), timeout=60)
    assert result.returncode == 0 and "wire" in result.stdout, result.stdout
    assert local_web.hits("/feed.xml") == 1


def test_a_daemon_started_without_standard_error_keeps_its_lock_file_off_it(tmp_path: Path) -> None:
    """The first file `run` opened took the closed descriptor 2: its lock file was its standard error."""
    (tmp_path / "config.toml").write_text("[schedule]\nheartbeat = 1\n")
    daemon = subprocess.Popen(["sh", "-c", 'exec "$@" 2>&-', "sh", sys.executable, "-m", "monitor", "run"],
                              stdout=subprocess.DEVNULL, cwd=tmp_path, env=cli_env())
    try:
        wait_for(lambda: (tmp_path / "monitor.db.lock").exists(), 30, "the daemon's lock file")
        assert os.readlink(f"/proc/{daemon.pid}/fd/2") == os.devnull
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0


@pytest.mark.parametrize("command", ["run", "once", "status"])
def test_an_empty_db_is_a_usage_error(run_cli: RunCLI, command: str) -> None:
    """`--db "$MONITOR_DB"` with the variable not set: `run` died with ValueError, `once` and `status` blamed "."."""
    result = run_cli("--config", str(SHIPPED_CONFIG), "--db", "", command, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines()[-1] == "Error: Invalid value for '--db': empty: give the archive's file"


@pytest.mark.parametrize("command", ["run", "once", "status"])
def test_a_db_that_names_a_folder_is_a_usage_error(run_cli: RunCLI, tmp_path: Path, command: str) -> None:
    """`--db data/` made the archive as a file named `data`: whoever wrote the slash meant a folder."""
    result = run_cli("--config", str(SHIPPED_CONFIG), "--db", f"{tmp_path}/data/", command, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines()[-1] == (f"Error: Invalid value for '--db': {tmp_path}/data/ names a folder: give the"
                                              f" archive's file, e.g. {tmp_path}/data/monitor.db")
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("command", ["once", "status"])
def test_a_db_that_is_a_device_is_a_usage_error(run_cli: RunCLI, command: str) -> None:
    """`--db /dev/null once` left a journal file in /dev and failed as "disk I/O error ... check the disk"."""
    result = run_cli("--config", str(SHIPPED_CONFIG), "--db", "/dev/null", command, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines()[-1] == ("Error: Invalid value for '--db': /dev/null is not a regular file (a device,"
                                              " a pipe or a socket): give the archive's file")
    assert not Path("/dev/null-journal").exists()


def test_more_and_less_logging_at_once_is_a_usage_error(run_cli: RunCLI) -> None:
    """`monitor -v -q once` ran with -q winning, silently."""
    result = run_cli("-v", "-q", "--config", str(SHIPPED_CONFIG), "rules", "test", "--text", "The envoy left.",
                     check=False)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1] == "Error: -v asks for more logging and -q for less: give one of them"


def test_an_empty_demo_output_is_a_usage_error(run_cli: RunCLI, tmp_path: Path) -> None:
    """`demo --output "$DIR"` with DIR unset wrote the demo's archive and alerts into the current folder."""
    result = run_cli("demo", "--output", "", check=False)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1] == "Error: Invalid value for '--output': empty: give a folder, e.g. demo-output"
    assert not (tmp_path / "monitor-demo.db").exists() and not (tmp_path / "alerts").exists()


@pytest.mark.parametrize("args", [("--db", "loop.db", "search", "envoy"), ("extract", "loop.db")])
def test_a_loop_of_symbolic_links_is_named(run_cli: RunCLI, tmp_path: Path, args: tuple[str, ...]) -> None:
    """`--db` or `extract` on a loop of links said "no archive at loop.db ... (monitor once creates it)" or "no such
    file": the wrong cause, and for the archive a wrong remedy."""
    (tmp_path / "loop.db").symlink_to(tmp_path / "other.db")
    (tmp_path / "other.db").symlink_to(tmp_path / "loop.db")
    result = run_cli("--config", str(SHIPPED_CONFIG), *args, check=False)
    assert result.returncode in (1, 2) and "Traceback" not in result.stderr, result.stderr
    assert "loop.db" in result.stderr.splitlines()[-1] and "a loop of symbolic links" in result.stderr.splitlines()[-1]
    assert "no archive" not in result.stderr and "no such file" not in result.stderr


def test_a_config_that_is_a_device_is_refused_and_makes_no_archive(run_cli: RunCLI) -> None:
    """`--config /dev/null once` read as an empty config, exited 0, and made its archive in the config's folder: /dev."""
    result = run_cli("--config", "/dev/null", "once", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines()[-1] == (
        "monitor: /dev/null: not a regular file (a device or a socket): give the file's path"
    )
    assert not Path("/dev/monitor.db").exists()


@pytest.mark.parametrize(("fifo", "config", "command", "said"), [
    ("config.toml", "config.toml", ("once",), "config.toml: a pipe nothing was written to: give the file's path"),
    ("labelled.jsonl", str(SHIPPED_CONFIG), ("rules", "eval", "labelled.jsonl"),
     "labelled.jsonl: a pipe nothing was written to: give the labelled file's path"),
])
def test_a_pipe_nobody_writes_to_is_refused_at_once(
    run_cli: RunCLI, tmp_path: Path, fifo: str, config: str, command: tuple[str, ...], said: str
) -> None:
    """A FIFO as the config, or as the labelled file, held the command until it was killed: opening it waited for a
    writer."""
    os.mkfifo(tmp_path / fifo)
    result = run_cli("--config", config, *command, check=False, timeout=20)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines()[-1] == f"monitor: {said}"


def test_a_config_written_to_a_pipe_is_read(tmp_path: Path) -> None:
    """A config from a pipe, as ``--config <(cat config.toml)`` gives it (``/dev/fd/N``), is read whole, however slowly
    its writer writes."""
    read_end, write_end = os.pipe()

    def write_slowly() -> None:
        config = SHIPPED_CONFIG.read_bytes()
        with open(write_end, "wb") as pipe:
            for start in range(0, len(config), 20_000):
                pipe.write(config[start : start + 20_000])
                pipe.flush()
                time.sleep(0.05)

    writer = threading.Thread(target=write_slowly)
    writer.start()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "monitor", "--config", f"/dev/fd/{read_end}", "rules", "test", "--rule", "ambassadors",
             "--title", "Envoy", "--text", "The U.S. ambassador to Russia was summoned to the Foreign Ministry."],
            capture_output=True, text=True, cwd=tmp_path, env=cli_env(), timeout=60, pass_fds=(read_end,),
        )
    finally:
        os.close(read_end)
        writer.join(timeout=20)
    assert result.returncode == 0, result.stderr
    assert "ambassadors" in result.stdout and "NEW" in result.stdout


@pytest.mark.parametrize("args", [("status",), ("search", "ambassadors"), ("extract", "--json", "page.html"), ("--help",)])
def test_an_output_that_cannot_be_written_is_one_line(demo_db: Path, tmp_path: Path, args: tuple[str, ...]) -> None:
    """`monitor status > report.txt` on a full disk ended in a traceback (OSError) once the command's work was done."""
    (tmp_path / "page.html").write_text("<html><title>Envoy</title><body><p>The envoy returns.</p></body></html>")
    with open("/dev/full", "w") as full:  # every write: ENOSPC
        result = subprocess.run([sys.executable, "-m", "monitor", "--config", str(SHIPPED_CONFIG), "--db", str(demo_db),
                                 *args], stdout=full, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=cli_env(),
                                timeout=60)
    assert result.returncode == 1 and result.stderr == "monitor: cannot write the output: No space left on device\n", \
        result.stderr


def test_the_progress_of_once_goes_to_the_terminal_and_not_to_its_redirected_output(tmp_path: Path,
                                                                                     local_web: LocalWeb) -> None:
    """`monitor once > report.txt` in a terminal: the progress, shown when stderr is a terminal, was drawn on
    stdout, so the terminal showed none and the report began with a blank line."""
    local_web.route("/feed.xml", EMPTY_FEED, content_type="application/rss+xml")
    feed_config(tmp_path, wire=local_web.url("/feed.xml"), agency=local_web.url("/feed.xml"))
    terminal, stderr = pty.openpty()
    once = subprocess.Popen([sys.executable, "-m", "monitor", "-q", "once"], stdout=subprocess.PIPE, stderr=stderr,
                            cwd=tmp_path, env=cli_env())
    os.close(stderr)
    shown = b""
    with contextlib.suppress(OSError):  # EIO: the other end closed
        while chunk := os.read(terminal, 65536):
            shown += chunk
    os.close(terminal)
    report, _ = once.communicate(timeout=60)
    assert once.returncode == 0 and b"checking sources" in shown, shown
    assert report.decode().startswith("\u250f"), report  # the table's top left corner, first


def test_a_servers_control_characters_reach_the_log_escaped(run_cli: RunCLI, local_web: LocalWeb,
                                                            tmp_path: Path) -> None:
    """A redirect's Location reaches the log as it came, in the fetch error naming the URL: a C1 CSI (U+009B, which
    terminals read as ESC [) recoloured the operator's terminal, and a bidi override reordered the line."""
    local_web.redirect("/csi", "/story\x9b31mRED")  # the byte 0x9b alone: read as Latin-1
    local_web.redirect("/bidi", "/story\u202eevil".encode().decode("latin-1"))  # U+202E, sent as its UTF-8 bytes
    items = "".join(f"<item><link>{local_web.url(path)}</link></item>" for path in ("/csi", "/bidi"))
    local_web.route("/feed.xml", f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>',
                    content_type="application/rss+xml")
    (tmp_path / "config.toml").write_text(
        f'database = "monitor.db"\n[fetch]\ndelay = 0\nrobots = false\n'
        f'[[sources]]\nname = "Wire"\nkind = "feed"\nurl = "{local_web.url("/feed.xml")}"\n'
    )
    result = run_cli("once")
    assert "/story\\x9b31mRED" in result.stderr and "/story\\u202eevil" in result.stderr
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", result.stderr)


def test_the_line_a_failing_command_ends_with_is_escaped_as_the_log_is(run_cli: RunCLI, tmp_path: Path) -> None:
    """That line may quote a server (an SMTP refusal "554 ... \x1b]0;PWNED\x07", a channel's words): it set the
    terminal's title and cleared the screen, where the log and status escape such text."""
    result = run_cli("extract", str(tmp_path / "story\x1b]0;PWNED\x07\u202e.html"), check=False)
    assert result.returncode != 0
    assert "story\\x1b]0;PWNED\\x07\\u202e.html" in result.stderr, result.stderr
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", result.stderr)


def test_log_lines_are_dated_in_utc_as_the_archive_is(tmp_path: Path) -> None:
    """The log's times were local and gave no offset, where status, the archive and the alerts say UTC: in a zone
    14 hours ahead (TZ="UTC-14", POSIX for UTC+14) a line could not be set beside a source's "next due", and an hour
    of lines repeated its times when daylight saving time ended."""
    (tmp_path / "config.toml").write_text("")
    before = datetime.now(UTC)
    result = subprocess.run([sys.executable, "-m", "monitor", "once"], capture_output=True, text=True, cwd=tmp_path,
                            env={**cli_env(), "TZ": "UTC-14"}, timeout=60)
    line = next(line for line in result.stderr.splitlines() if "WARNING" in line)
    stamp = datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert before - timedelta(minutes=1) <= stamp <= datetime.now(UTC) + timedelta(minutes=1), line


@pytest.mark.parametrize(("status", "moved"), [(301, True), (308, True), (302, False), (307, False)])
def test_once_says_when_a_source_has_moved_for_good(run_cli: RunCLI, tmp_path: Path, local_web: LocalWeb,
                                                    status: int, moved: bool) -> None:
    """A feed moved with a permanent redirect was followed at every check, and nothing told the operator to update
    its url: the day the old URL stopped redirecting, the source failed. A temporary redirect is no move."""
    local_web.route("/new.xml", '<rss version="2.0"><channel><title>t</title></channel></rss>',
                    content_type="application/rss+xml")
    local_web.redirect("/feed.xml", "/new.xml", status=status)
    (tmp_path / "config.toml").write_text(f'[fetch]\ndelay = 0\nrobots = false\n[[sources]]\nname = "wire"\n'
                                          f'kind = "feed"\nurl = "{local_web.url("/feed.xml")}"\n')
    result = run_cli("once")
    said = f"moved for good to {local_web.url('/new.xml')}: put it in the config"
    assert (said in " ".join(result.stdout.split())) is moved, result.stdout
    warned = [line for line in result.stderr.splitlines() if "WARNING" in line and "has moved for good" in line]
    assert len(warned) == int(moved), result.stderr


@pytest.mark.parametrize(("args", "said"), [
    (("once", "--config", "elsewhere.toml"),
     "monitor: --config is an option of monitor itself, not of once: give it before the command"
     " (monitor --config FILE once ...)"),
    (("rules", "test", "--db", "a.db"),
     "monitor: --db is an option of monitor itself, not of rules test: give it before the command"
     " (monitor --db FILE rules test ...)"),
    (("status", "-v"), "monitor: -v is an option of monitor itself, not of status: give it before the command"
                       " (monitor -v status ...)"),
])
def test_a_global_option_after_the_command_is_told_where_it_goes(run_cli: RunCLI, args: tuple[str, ...],
                                                                 said: str) -> None:
    """Given after the command, click said only "No such option '--config'", in three lines, as if monitor had none."""
    result = run_cli(*args, check=False)
    assert result.returncode == 2 and result.stderr == said + "\n", result.stderr


def test_an_unknown_option_after_the_command_is_still_clicks_usage_error(run_cli: RunCLI) -> None:
    result = run_cli("once", "--bogus", check=False)
    assert result.returncode == 2 and "No such option '--bogus'" in result.stderr, result.stderr
