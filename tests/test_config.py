"""config.toml loading: the shipped file validates; every kind of mistake names its key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.config import SHIPPED_RULES, load_config, shipped_rules
from monitor.errors import ConfigError
from tests.conftest import RunCLI, unprivileged

ROOT = Path(__file__).resolve().parent.parent
GOOD_SOURCE = '[[sources]]\nname = "a"\nkind = "feed"\nurl = "https://example.org/rss"\n'


def test_shipped_config_validates() -> None:
    settings = load_config(ROOT / "config.toml")
    assert len(settings.sources) >= 10
    assert {source.kind for source in settings.sources} == {"feed", "page", "sitemap"}
    assert {rule.name for rule in settings.rules} == {"ambassadors", "prisoner swap"}
    assert settings.email is None  # shipped with e-mail commented out
    assert Path(settings.database) == ROOT / "monitor.db"  # relative to the file


def test_durations_accept_integers_and_defaults_fill_in(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[fetch]\ntimeout = 3\n" + GOOD_SOURCE)
    settings = load_config(path)
    assert settings.fetch.timeout == 3.0 and settings.fetch.per_host == 2
    assert settings.interval_of(settings.sources[0]) == 900


def test_a_path_starting_with_a_tilde_is_in_the_home_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No shell expands a path written in the file: "~/monitor.db" made a folder named "~" beside the config."""
    home = tmp_path / "home"
    (home / "people.toml").parent.mkdir()
    (home / "people.toml").write_text('[[people]]\nname = "Jane Roe"\nlists = ["us"]\n')
    monkeypatch.setenv("HOME", str(home))
    path = tmp_path / "c.toml"
    path.write_text('database = "~/archive/monitor.db"\npeople_file = "~/people.toml"\n' + GOOD_SOURCE)
    settings = load_config(path)
    assert settings.database == str(home / "archive" / "monitor.db")
    assert any(person.name == "Jane Roe" for person in settings.people)


def test_a_config_saved_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    """Windows editors (Notepad) save UTF-8 with a BOM; tomllib read it as "Invalid statement" at line 1, column 1,
    a character no editor shows."""
    path = tmp_path / "c.toml"
    path.write_bytes(b"\xef\xbb\xbf" + ("[fetch]\ntimeout = 3\n" + GOOD_SOURCE).encode())
    assert load_config(path).fetch.timeout == 3.0


BAD_CONFIGS = {
    "missing required key": ('[[sources]]\nname = "a"\nurl = "https://x.org/"\n', "sources[0].kind", "missing"),
    "unknown key": (GOOD_SOURCE + "colour = 'red'\n", "sources[0].colour", "unknown key"),
    "unknown top-level key": ("verbose = true\n", "verbose", "unknown key"),
    "a key misspelt": ("[fetch]\nallow-private = true\n", "fetch.allow-private", "unknown key (did you mean allow_private?)"),
    "wrong type": ("[fetch]\ntimeout = 'soon'\n", "fetch.timeout", "number"),
    "invalid regex": (GOOD_SOURCE + 'include = "(unclosed"\n', "sources[0].include", "regular expression"),
    "invalid css selector": (
        '[[sources]]\nname = "p"\nkind = "page"\nurl = "https://x.org/"\nlinks = "h3 >> [[a"\n',
        "sources[0].links", "CSS selector",
    ),
    "bad cron": ('[email]\nrecipients = ["a@b.c"]\ndigest_cron = "0 25 * * *"\n', "email.digest_cron", "cron"),
    # "scheme 'missing' is not allowed", "scheme 'localhost' is not allowed": nothing said to add http://.
    "url without a scheme": ('[[sources]]\nname = "f"\nkind = "feed"\nurl = "localhost:8080/feed"\n', "sources[0].url",
                             "'localhost:8080/feed' has no scheme: write it as https://localhost:8080/feed"),
    "bad scheme": ('[[sources]]\nname = "f"\nkind = "feed"\nurl = "file:///etc/passwd"\n', "sources[0].url", "file"),
    # "scheme ' https' is not allowed"; a trailing space passed and failed at every fetch.
    "url with a space before": ('[[sources]]\nname = "f"\nkind = "feed"\nurl = " https://x.org/feed"\n', "sources[0].url",
                                "' https://x.org/feed' has white space around it: write the URL without it"),
    "url with a space after": ('[[sources]]\nname = "f"\nkind = "feed"\nurl = "https://x.org/feed "\n', "sources[0].url",
                               "has white space around it"),
    # A browser reads a host in them, the client none: every check failed with "URL has no host".
    "url with one slash": ('[[sources]]\nname = "f"\nkind = "feed"\nurl = "http:/127.0.0.1:8765/feed.xml"\n',
                           "sources[0].url", "'http:/127.0.0.1:8765/feed.xml' has no host right after '//': write it as"
                           " http://127.0.0.1:8765/feed.xml"),
    "url with three slashes": ('[[sources]]\nname = "f"\nkind = "feed"\nurl = "https:///x.org/feed"\n', "sources[0].url",
                               "has no host right after '//': write it as https://x.org/feed"),
    "url no browser reads": (
        '[[sources]]\nname = "f"\nkind = "feed"\nurl = "https://news example/rss"\n', "sources[0].url", "not a valid URL",
    ),
    "bad rule pattern": ('[[rules]]\nname = "r"\npatterns = ["[a-"]\n', "rules[0].patterns", "regular expression"),
    "page without links": ('[[sources]]\nname = "p"\nkind = "page"\nurl = "https://x.org/"\n', "sources[0]", "links"),
    # Tried as a name at every delivery: "cannot reach SMTP server: Name or service not known".
    "smtp host from the environment": ('[email]\nrecipients = ["a@b.c"]\nhost = "${SMTP_HOST}"\n', "email.host",
                                       "the config does not read environment variables"),
    "smtp host not a name": ('[email]\nrecipients = ["a@b.c"]\nhost = "smtp example org"\n', "email.host",
                             "is not a host name or address"),
    "bad enum": ('[email]\nrecipients = ["a@b.c"]\nsecurity = "ssl"\n', "email.security", "none"),
    "not toml": ("database = \n", "not valid TOML", "not valid TOML"),
    "not an address": ('[email]\nrecipients = ["not-an-address"]\n', "email.recipients", "not an e-mail address"),
    "empty database": ('database = ""\n', "database", "empty"),
    "database a directory": ('database = "."\n', "database", "is a directory"),
    "database a folder not yet made": ('database = "data/"\n', "database", "names a folder"),
    "duplicate source": (
        GOOD_SOURCE.replace('"a"', '"b"') + GOOD_SOURCE + GOOD_SOURCE, "sources[2].name", "also sources[1]",
    ),
    # Numbers TOML allows that passed and then overflowed, hung the scheduler at full CPU, or waited for good.
    "infinite delay": ("[fetch]\ndelay = inf\n", "fetch.delay", "less than or equal"),
    "not a number": ("[fetch]\ntimeout = nan\n", "fetch.timeout", "not a number (nan)"),
    "interval of ages": (
        "[schedule]\nmax_interval = 99999999999999\n", "schedule.max_interval", "less than",
    ),
    "source interval past C ints": (GOOD_SOURCE + "interval = 99999999999999999999\n", "sources[0].interval", "less"),
    "cpu seconds past setrlimit": ("[limits]\ncpu_seconds = 99999999999999999\n", "limits.cpu_seconds", "less"),
    "memory past setrlimit": ("[limits]\nmemory_mb = 99999999999999\n", "limits.memory_mb", "less"),
    "channel apprise cannot notify": ('[[channels]]\nname = "c"\nurl = "nosuch://x"\n', "channels[0]", "Apprise"),
    "person not a table": ('people = ["Anna Berger"]\n', "people[0]", "should be a table of keys"),
    "section not a table": ("email = 3\n", "email", "should be a table of keys"),
    # Each branch of "phrases or a clause" gave a line, one of them naming a key "lists.us.str" not in the file.
    "list neither phrases nor clause": ("[lists]\nus = 3\n", "lists.us", "a list of phrases"),
    "list of numbers": ("[lists]\nus = [1, 2]\n", "lists.us", "a list of phrases"),
    # Said as pydantic's "String should match pattern '^\w[\w-]*$'": a regular expression, for a name with a space.
    "channel name with a space": ('[[channels]]\nname = "my phone"\nurl = "json://localhost/x"\n', "channels[0].name",
                                  "should be letters, digits, _ and - only (got 'my phone')"),
    # "Input should be a valid list (got {'name': 'a', ...})", nothing saying the brackets were one pair short.
    "one bracket for sources": (GOOD_SOURCE.replace("[[sources]]", "[sources]"), "sources",
                                "write each entry as [[sources]], with two brackets"),
    "one bracket for rules": ('[rules]\nname = "r"\nquery = "envoy"\n', "rules", "write each entry as [[rules]]"),
    # Accepted, then every source failed its every check ("robots.txt could not be read (invalid URL: 'ascii' ...").
    "user agent not ascii": ('[fetch]\nuser_agent = "Agence Café"\n', "fetch.user_agent", "printable ASCII"),
    # Tracebacks: "embedded null byte", RecursionError.
    "database holding a nul": ('database = "a\\u0000b.db"\n', "database", "NUL"),
    "arrays nested thousands deep": ("x = " + "[" * 5000 + "]" * 5000 + "\n", "not valid TOML", "nested too deeply"),
    "list name with a dash": ('[lists]\nus-allies = ["UK"]\n', "lists.us-allies", "letters, digits and _ only"),
    # Accepted into the record of who held a post when.
    "person's term ending before it starts": ('[[people]]\nname = "X"\nlists = ["us"]\nstart = 2024-05-01\n'
                                              'end = 2023-05-01\n', "people[0]", "'end' (2023-05-01) is before 'start'"),
    # Accepted, and no digest ever went.
    "digest cron that never fires": ('[email]\nrecipients = ["a@example.org"]\nmode = "digest"\n'
                                     'digest_cron = "0 7 31 2 *"\n', "email.digest_cron", "names no time that comes"),
    # Accepted, and no article was ever fetched: each host's next request was due after the check's time ran out.
    "delay longer than a check may fetch": ("[fetch]\ndelay = 700\n[limits]\ncheck_seconds = 30\n", "config",
                                           "fetch.delay (700 s) must be shorter than limits.check_seconds"),
    "person's list with a space": ('[[people]]\nname = "X"\nlists = ["my list"]\n', "people[0].lists[0]",
                                   "letters, digits and _ only"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_names_the_key(case: str, tmp_path: Path) -> None:
    text, key, words = BAD_CONFIGS[case]
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert any(problem.startswith(key) or f"{key}:" in problem for problem in info.value.problems), info.value.problems
    assert any(words in problem for problem in info.value.problems), info.value.problems


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_exits_2_with_one_line_naming_the_key(case: str, tmp_path: Path) -> None:
    text, key, _ = BAD_CONFIGS[case]
    path = tmp_path / "c.toml"
    path.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(path), "status"],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and key in lines[0], result.stderr
    assert not (tmp_path / "monitor.db").exists()  # nothing is created from a bad config


@pytest.mark.parametrize(("make", "command", "said"), [
    (Path.mkdir, "run", "is a directory: name the archive's file, not its folder"),
    (os.mkfifo, "status", "is not a regular file (a device, a pipe or a socket): name the archive's file"),
], ids=["run on a directory", "status on a pipe"])
def test_a_database_that_is_no_file_is_named_so_and_nothing_is_left_beside_it(
    run_cli: RunCLI, tmp_path: Path, make: Callable[[Path], None], command: str, said: str
) -> None:
    """`run` on a directory left a lock file beside it; a device or a pipe as the archive failed later as a disk
    error, a journal written beside it."""
    make(tmp_path / "archive")
    (tmp_path / "config.toml").write_text('database = "archive"\n', encoding="utf-8")
    result = run_cli(command, check=False, timeout=20)
    assert result.returncode == 2
    assert result.stderr == f"monitor: config.toml: database: {tmp_path / 'archive'} {said}\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["archive", "config.toml"]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[fetch]\ntimeout = 'x'\nconcurrency = 0\n" + GOOD_SOURCE + "extra = 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert len(info.value.problems) == 3


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found") as info:
        load_config(tmp_path / "nope.toml")
    assert info.value.path == str(tmp_path / "nope.toml")


@pytest.mark.parametrize(("text", "problem"), [
    (None, "file not found"), ("database = \n", "not valid TOML"), ("verbose = 1\n", "verbose: unknown key"),
])
def test_a_config_error_names_the_file_once(text: str | None, problem: str, tmp_path: Path) -> None:
    if text is not None:
        (tmp_path / "config.toml").write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "status"],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"monitor: config.toml: {problem}"), result.stderr
    assert result.stderr.count("config.toml") == 1, result.stderr


def test_every_duplicate_name_is_reported_with_its_index(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(GOOD_SOURCE * 3 + "[fetch]\ntimeout = 'x'\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [
        "fetch.timeout: Input should be a valid number (got 'x')",
        "sources[1].name: duplicate name 'a' (also sources[0])",
        "sources[2].name: duplicate name 'a' (also sources[0])",
    ]


def test_password_comes_from_the_environment_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[email]\nrecipients = ["a@b.c"]\npassword_env = "TEST_MONITOR_PW"\n')
    settings = load_config(path)
    assert settings.email is not None and settings.email.password() is None
    monkeypatch.setenv("TEST_MONITOR_PW", "s3cret")
    assert settings.email.password() == "s3cret"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(("table", "key", "secret", "words"), [
    ('[email]\nrecipients = ["a@b.c"]\nusername = "monitor"\n', "email.password_env", "hunter2!",
     "give the name of the variable that holds the password, as MONITOR_SMTP_PASSWORD, never the password itself"),
    ('[[channels]]\nname = "phone"\n', "channels[0].url_env", "ntfys://ntfy.sh/s3cret-topic",
     "give the name of the variable that holds the URL, as MONITOR_NTFY_URL, never the URL itself"),
    ('[[channels]]\nname = "phone"\n', "channels[0].url_env", "$MONITOR_NTFY_URL",
     "the variable that holds the URL without its $"),
])
def test_a_secret_written_where_its_variable_is_named_is_refused_unshown(
    run_cli: RunCLI, tmp_path: Path, table: str, key: str, secret: str, words: str
) -> None:
    """The password (or a channel's URL) written in password_env (url_env) by mistake passed, and was shown as the
    variable's name at each delivery: in the log, in once's last line and in the archive's last_error."""
    name = key.rsplit(".", 1)[1]
    (tmp_path / "config.toml").write_text(f"{table}{name} = {json.dumps(secret)}\n")
    result = run_cli("once", check=False)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"monitor: config.toml: {key}: not an environment variable's name"), result.stderr
    assert words in result.stderr and secret not in result.stderr and secret not in result.stdout


CONFIG_TOML = Path(__file__).resolve().parent.parent / "config.toml"


def test_the_rules_shipped_in_the_package_are_the_config_rules() -> None:
    """`monitor demo` without a config file uses monitor/rules/beat.toml: it must say what config.toml says."""
    block = CONFIG_TOML.read_text(encoding="utf-8").split("# BEGIN RULES", 1)[1].split("# END RULES", 1)[0]
    shipped = shipped_rules()
    assert tomllib.loads(SHIPPED_RULES.read_text(encoding="utf-8")) == tomllib.loads(block)
    assert shipped.rules == load_config(CONFIG_TOML).rules and shipped.lists == load_config(CONFIG_TOML).lists


def test_people_are_extended_from_the_config_and_a_bad_entry_is_named(tmp_path: Path) -> None:
    from monitor.rulecache import rules_of

    config = tmp_path / "config.toml"
    config.write_text(
        '[[rules]]\nname = "envoys"\nquery = "@new_envoys"\n\n'
        '[[people]]\nlists = ["new_envoys"]\nname = "Jane Roe"\nsurnames = ["Roe"]\ndistinctive = true\n',
        encoding="utf-8",
    )
    settings = load_config(config)
    assert any(person.name == "Lynne Tracy" for person in settings.people)  # the shipped people stay
    assert [m.passage for m in rules_of(settings).match("Roe arrived in Moscow.")] == ["Roe arrived in Moscow."]
    replacement = tmp_path / "people.toml"
    replacement.write_text('[[people]]\nlists = ["new envoys"]\nname = "Jane Roe"\n', encoding="utf-8")
    config.write_text(f'people_file = "{replacement.name}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert "people.toml: people[0].lists[0]: " in str(caught.value)
    replacement.write_text("people = 3\n", encoding="utf-8")  # a TypeError traceback
    with pytest.raises(ConfigError, match=r"people.toml: people: an array of tables is expected"):
        load_config(config)
    replacement.write_text('[people]\nname = "Jane Roe"\n', encoding="utf-8")  # "people[0].config: ... (got 'name')"
    with pytest.raises(ConfigError, match=r"people.toml: people: write each entry as \[\[people\]\], with two brackets"):
        load_config(config)
    # [[person]] for [[people]] loaded no one, silently: a rule's @list was then "no list named", or just empty.
    replacement.write_text('[[person]]\nlists = ["new_envoys"]\nname = "Jane Roe"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert caught.value.problems == ["people.toml: person: unknown key: a people file holds [[people]] only (did you mean"
                                     " people?)"]


@pytest.mark.parametrize(("people_file", "problem"), [
    ("folder", "is a directory"), ("absent.toml", "file not found"), ("broken.toml", "not valid TOML"),
    ("unreadable.toml", "cannot be read: Permission denied"),
])
def test_a_bad_people_file_is_named_after_the_config(people_file: str, problem: str, run_cli: RunCLI,
                                                     tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "broken.toml").write_text("[[people]\n", encoding="utf-8")
    (tmp_path / "unreadable.toml").write_text("", encoding="utf-8")
    (tmp_path / "unreadable.toml").chmod(0)
    (tmp_path / "config.toml").write_text(f'people_file = "{people_file}"\n', encoding="utf-8")
    result = run_cli("status", check=False, prefix=tuple(unprivileged()))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"monitor: config.toml: people_file {tmp_path / people_file}: {problem}"), \
        result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b'database = "a.db"\n# caf\xe9\n', "not UTF-8 (line 2: byte 0xe9): save it as UTF-8"),  # an editor's Latin-1
        ('database = "a.db"\n'.encode("utf-16"), "saved as UTF-16: save it as UTF-8"),  # Notepad's "Unicode"
    ],
)
def test_a_config_not_in_utf8_says_where_and_what_to_do(tmp_path: Path, data: bytes, said: str) -> None:
    """"'utf-8' codec can't decode byte 0xff in position 0" said neither where nor what to do."""
    path = tmp_path / "c.toml"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [said]
