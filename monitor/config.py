"""Load config.toml into typed, validated settings.

Every problem is collected in one pass and reported with its TOML path
(``sources[2].links: ...``; array indexes count from 0), so a user fixes the
whole file at once. Paths in the file are relative to the file itself.
Secrets never live in the file: ``email.password_env`` names an environment
variable, read only by :meth:`EmailSettings.password`.
"""

from __future__ import annotations

import difflib
import errno
import logging
import math
import os
import re
import stat
import tomllib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from monitor.errors import BadArgumentError, ConfigError

if TYPE_CHECKING:  # imported where a trigger is made: most commands never make one
    from apscheduler.triggers.cron import CronTrigger

# The domain of alerts' Message-IDs without [email] (RFC 2606 reserves .invalid); with it, the sender's.
DEFAULT_MESSAGE_DOMAIN = "monitor.invalid"
SHIPPED_PEOPLE = Path(__file__).parent / "rules" / "people.toml"
SHIPPED_RULES = Path(__file__).parent / "rules" / "beat.toml"
DEFAULT_USER_AGENT = "us-russia-monitor/0.1 (+https://example.org/contact)"
# A bare address, as the SMTP envelope takes it: no display name, no list, no spaces.
_ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+")


# The names a rule's query refers to (@name), and a channel's; said in words where pydantic would show the pattern.
_WORD = r"^\w+$"
_NAME = r"^\w[\w-]*$"
_PATTERNS = {_WORD: "letters, digits and _ only, as @name", _NAME: "letters, digits, _ and - only"}
# An environment variable's name, as a shell can set it.
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_variable(value: str, holds: str, example: str) -> str:
    """The name of the environment variable that ``holds`` a secret. Given something else (the secret itself, by
    mistake, or ``$NAME``), the value is never echoed: it was shown as the variable's name in the log, in ``once``'s
    last line and in the archive's ``last_error`` ("the environment variable hunter2 is empty")."""
    if value and not _VARIABLE.fullmatch(value):
        dollar = " without its $" if value.startswith("$") and _VARIABLE.fullmatch(value[1:]) else ""
        raise ValueError(f"not an environment variable's name (letters, digits and _): give the name of the variable"
                         f" that holds {holds}{dollar}, as {example}, never {holds} itself")
    return value


def _int_as_float(value: Any) -> Any:
    """TOML's ``20`` where a float is declared: strict validation would refuse the int. TOML's ``nan`` is refused as
    what it is: pydantic's bound came first, and said "should be less than or equal to 31622400"."""
    if isinstance(value, float) and math.isnan(value):
        raise ValueError("not a number (nan): give a number of seconds")
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


# The longest any interval, delay or limit in seconds may be: longer ones overflowed C integers in the scheduler,
# or kept a check waiting for good (TOML also allows ``inf``).
_YEAR = 366 * 24 * 3600
Seconds = Annotated[float, BeforeValidator(_int_as_float), Field(allow_inf_nan=False, le=_YEAR)]
Interval = Annotated[int, Field(ge=1, le=_YEAR)]  # whole seconds between checks


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _check_regex(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {value!r}: {exc}") from exc
    return value


def _check_http_url(value: str) -> str:
    """An http(s) URL that parses as a browser parses it: a source's site is read from it."""
    from monitor.fetch.urls import canonicalize  # imported late: the fetch package imports this module

    if value != value.strip():  # " https://..." was "scheme ' https' is not allowed"; a trailing space failed at fetch
        raise ValueError(f"{value!r} has white space around it: write the URL without it")
    head, colon, rest = value.partition(":")
    # "example.org/feed" and "localhost:8080/feed" (a port, not a scheme) were "scheme 'missing'/'localhost'".
    scheme = head.lower() if "://" in value or (colon and not rest[:1].isdigit()) else ""
    if not scheme:
        raise ValueError(f"{value!r} has no scheme: write it as https://{value} (or http://)")
    if scheme not in ("http", "https"):
        raise ValueError(f"scheme {scheme!r} is not allowed (only http and https)")
    canonical = canonicalize(value)  # its ValueError says what is wrong
    # A browser reads a host in "http:/host/feed" and "https:///host", the client fetches none: every check failed.
    if not re.match(r"//[^/\\?#]", rest):
        raise ValueError(f"{value!r} has no host right after '//': write it as {canonical}")
    return value


class FetchSettings(_Settings):
    user_agent: str = DEFAULT_USER_AGENT
    timeout: Annotated[Seconds, Field(gt=0)] = 20.0
    concurrency: Annotated[int, Field(ge=1, le=1000)] = 16
    per_host: Annotated[int, Field(ge=1, le=100)] = 2
    delay: Annotated[Seconds, Field(ge=0)] = 1.0
    max_bytes: Annotated[int, Field(ge=1024)] = 5_000_000
    robots: bool = True
    allow_private: bool = False

    @field_validator("user_agent")
    @classmethod
    def _check_user_agent(cls, value: str) -> str:
        """A header value: printable ASCII. "Café" or a line break passed, and every source then failed its every
        check (robots.txt "could not be read (invalid URL: 'ascii' codec ...)") and backed off."""
        if not value.strip() or not all(" " <= c <= "~" for c in value):
            raise ValueError("give printable ASCII only (it is sent as an HTTP header), and not an empty one")
        return value


class ScheduleSettings(_Settings):
    interval: Interval = 900
    jitter: Annotated[int, Field(ge=0, le=_YEAR)] = 60
    heartbeat: Interval = 30
    adaptive: bool = True
    min_interval: Interval = 120
    max_interval: Interval = 6 * 3600

    @model_validator(mode="after")
    def _bounds_in_order(self) -> ScheduleSettings:
        if self.min_interval > self.max_interval:
            raise ValueError(f"min_interval ({self.min_interval}) is above max_interval ({self.max_interval})")
        return self


class LimitsSettings(_Settings):
    """How untrusted pages are parsed: in worker processes, each page under hard limits.

    ``workers = 0`` parses in the monitor's own process, without limits: for debugging, and
    for measuring what the process boundary costs. ``memory_mb`` is what a worker may take
    beyond what it holds when it starts (its modules and compiled rules).
    """

    workers: Annotated[int, Field(ge=0, le=256)] | None = None  # None: one per core
    memory_mb: Annotated[int, Field(ge=32, le=1 << 30)] = 256  # up to a petabyte: past it setrlimit overflows
    cpu_seconds: Annotated[int, Field(ge=1, le=_YEAR)] = 10
    wall_seconds: Annotated[Seconds, Field(gt=0)] = 20.0
    sitemap_bytes: Annotated[int, Field(ge=1024)] = 50_000_000  # read per check, a sitemap index's children included
    # Bytes of links one check of a source gathers, whatever its kind (their URLs and titles, and 200 a link): held
    # in the monitor's process, where 50,000 links of 8,000 characters took 487 MB.
    link_bytes: Annotated[int, Field(ge=100_000)] = 20_000_000
    answer_mb: Annotated[int, Field(ge=1, le=1 << 20)] = 64  # a worker's answer for one page, as it crosses to the monitor
    links_per_check: Annotated[int, Field(ge=1)] = 1000  # new links taken in one check; the rest in the next ones
    # Seconds of one host's politeness delays a check may spend: a host asking for d seconds between requests gives
    # it at most wait_per_check / d links, the rest in the next checks.
    wait_per_check: Annotated[Seconds, Field(gt=0)] = 300.0
    # Seconds from a check's start within which its new links must have been fetched; the rest wait for the next
    # checks. A host answering each request just before fetch.timeout would otherwise hold the check for hours.
    check_seconds: Annotated[Seconds, Field(gt=0)] = 600.0
    # Characters of article text one source's pages may give in 24 hours; past them its new links wait for the next
    # checks. The archive holds about 2.6 bytes per character (text and full-text index): a source listing a thousand
    # new pages of 200,000 characters at each check grew it by 520 MB a check, a full disk within hours.
    text_per_day: Annotated[int, Field(ge=1)] = 50_000_000

    @property
    def worker_count(self) -> int:
        """``workers``, or one per core this process may run on: its CPU affinity (a container's cpuset, ``taskset``),
        where ``os.cpu_count()`` counts the host's, and a container given 2 of 64 cores started 64 workers."""
        if self.workers is not None:
            return self.workers
        if hasattr(os, "sched_getaffinity"):  # not on macOS
            return len(os.sched_getaffinity(0)) or 1
        return os.cpu_count() or 1


class SourceSettings(_Settings):
    name: Annotated[str, Field(min_length=1)]
    kind: Literal["feed", "sitemap", "page", "site"]
    url: str
    interval: Interval | None = None
    links: str | None = None
    include: str | None = None
    exclude: str | None = None

    _url = field_validator("url")(classmethod(lambda cls, v: _check_http_url(v)))
    _regexes = field_validator("include", "exclude")(classmethod(lambda cls, v: _check_regex(v)))

    @field_validator("links")
    @classmethod
    def _check_selector(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from selectolax.lexbor import LexborHTMLParser, SelectolaxError

        try:
            LexborHTMLParser("<p></p>").css(value)
        except SelectolaxError as exc:
            raise ValueError(f"invalid CSS selector {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _links_only_for_pages(self) -> SourceSettings:
        if self.kind == "page" and not self.links:
            raise ValueError("a source of kind 'page' needs 'links', the CSS selector of its article links")
        if self.kind != "page" and self.links:
            raise ValueError(f"'links' applies only to kind 'page', not {self.kind!r}")
        return self


class RuleSettings(_Settings):
    name: Annotated[str, Field(min_length=1)]
    query: str = ""
    terms: list[str] = []
    patterns: list[str] = []
    context: list[str] = []
    scope: Literal["sentence", "paragraph", "article"] = "paragraph"
    exclude: list[str] = []

    @field_validator("patterns")
    @classmethod
    def _check_patterns(cls, values: list[str]) -> list[str]:
        for value in values:
            _check_regex(value)
        return values

    @model_validator(mode="after")
    def _needs_something_to_match(self) -> RuleSettings:
        if not self.query.strip() and not self.terms and not self.patterns:
            raise ValueError("a rule needs a 'query' (or the older 'terms' or 'patterns')")
        return self


class PersonSettings(_Settings):
    """One person of the beat, in a named list that rules refer to as ``@list``."""

    lists: Annotated[list[Annotated[str, Field(pattern=_WORD)]], Field(min_length=1)]
    name: Annotated[str, Field(min_length=1)]
    aliases: list[str] = []  # other full forms: transliterations, Russian case forms, misspellings
    surnames: list[str] = []  # the short forms that name the person alone
    distinctive: bool = False  # a surname alone names this person even if the article never names them in full
    others: list[str] = []  # namesakes' full names: a surname inside one of them is someone else
    role: str = ""
    start: date | None = None
    end: date | None = None  # None: still in the post (or the role has no end)
    note: str = ""

    @model_validator(mode="after")
    def _end_after_start(self) -> PersonSettings:
        """A term that ends before it starts is a typo (a swapped pair, a wrong year), in the record analysts read
        of who held a post when."""
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"'end' ({self.end}) is before 'start' ({self.start})")
        return self


class ChannelSettings(_Settings):
    """An alert channel besides e-mail: any notification service Apprise knows, by its URL."""

    name: Annotated[str, Field(pattern=_NAME)]
    url: str = ""  # e.g. "ntfys://ntfy.sh/my-topic", "json://hooks.example.org/monitor"
    url_env: str = ""  # or the environment variable holding the URL, so its token stays out of this file
    timeout: Annotated[Seconds, Field(gt=0)] = 30.0  # seconds one notification may take; a claim is held twice as long
    # More alerts than this due at once go as one notification listing them (0: one each, however many).
    burst: Annotated[int, Field(ge=0)] = 10

    @field_validator("url_env")
    @classmethod
    def _check_url_env(cls, value: str) -> str:
        return _check_variable(value, "the URL", "MONITOR_NTFY_URL")

    @model_validator(mode="after")
    def _one_url(self) -> ChannelSettings:
        if bool(self.url) == bool(self.url_env):
            raise ValueError("give the channel's Apprise URL in exactly one of 'url' and 'url_env'")
        if self.url and not _apprise_knows(self.url):
            raise ValueError(f"{self.url!r} is not a URL Apprise can notify (see Apprise's list of services)")
        return self

    def resolved_url(self) -> str | None:
        """The URL, from the file or the environment (None: the variable is not set, see :meth:`unset`)."""
        return self.url or os.environ.get(self.url_env) or None

    def unset(self) -> str:
        """Why a channel without a URL sends nothing, in the words of the log, ``once``, ``status`` and the archive."""
        return f"${self.url_env} is not set"


_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def crontab_trigger(expression: str) -> CronTrigger:
    """A crontab expression (UTC) as an APScheduler trigger. APScheduler 3 counts weekdays from 0 = Monday, crontab
    from 0 (or 7) = Sunday: ``digest_cron = "0 7 * * 1"`` sent Monday's digest on Tuesdays. The day-of-week field
    is given to it in day names, which both read alike."""
    from apscheduler.triggers.cron import CronTrigger

    fields = expression.split()
    if len(fields) == 5:
        fields[4] = _crontab_weekdays(fields[4])
    return CronTrigger.from_crontab(" ".join(fields), timezone="UTC")


def next_digest(cron: str, since: datetime) -> datetime | None:
    """The first ``cron`` time (UTC) after ``since``: when an alert queued then goes out in a digest."""
    # Archive times have whole seconds: an alert queued in the very second of a
    # digest time waits for the next one rather than risk a second digest.
    fire: datetime | None = crontab_trigger(cron).get_next_fire_time(None, since + timedelta(seconds=1))
    return fire


def _crontab_weekdays(field: str) -> str:
    """A crontab day-of-week field with its numbers as day names: "1-5" is "mon,tue,wed,thu,fri", "*/2" Sunday on."""
    if "/" not in field and not any(character.isdigit() for character in field):
        return field  # "*", "mon-fri": read alike
    days: set[int] = set()
    for part in field.split(","):
        span, _, step = part.partition("/")
        if span == "*":
            first, last = 0, 6
        else:
            low, _, high = span.partition("-")
            first = _crontab_weekday(low)
            last = _crontab_weekday(high) if high else 6 if step else first
        if last < first or (step and not step.isdigit()) or step == "0":
            raise ValueError(f"day of week {part!r} is not a crontab range")
        days.update(day % 7 for day in range(first, last + 1, int(step or 1)))
    return ",".join(_CRON_DAYS[day] for day in sorted(days))


def _crontab_weekday(text: str) -> int:
    if text.isdigit() and int(text) <= 7:
        return int(text)
    if text.lower() in _CRON_DAYS:
        return _CRON_DAYS.index(text.lower())
    raise ValueError(f"{text!r} is no day of the week (0-7, Sunday 0 or 7, or sun-sat)")


def _apprise_knows(url: str) -> bool:
    """Whether Apprise can notify ``url``. Apprise logs its own error for a URL it refuses; the config error says
    it once, so that line is not let through."""
    import apprise

    logger = logging.getLogger("apprise")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        return bool(apprise.Apprise().add(url))
    finally:
        logger.setLevel(level)


class EmailSettings(_Settings):
    host: str = "localhost"
    port: Annotated[int, Field(ge=1, le=65535)] = 25
    security: Literal["none", "starttls", "tls"] = "none"
    username: str = ""
    password_env: str = "MONITOR_SMTP_PASSWORD"
    sender: str = "monitor@localhost"
    recipients: Annotated[list[str], Field(min_length=1)]
    operators: list[str] = []  # who is told when a source breaks or recovers; empty: the log
    mode: Literal["instant", "digest"] = "instant"
    # Instant mode: more alerts than this due at once go as one digest message (0: a message each, however many).
    burst: Annotated[int, Field(ge=0)] = 10
    digest_cron: str = "0 7 * * *"
    timeout: Annotated[Seconds, Field(gt=0)] = 30.0
    retry_max: Interval = 3600

    @field_validator("host")
    @classmethod
    def _check_host(cls, value: str) -> str:
        """"${SMTP_HOST}" was tried as a name at every delivery ("cannot reach SMTP server: Name or service not known")."""
        if "$" in value or "%" in value:
            raise ValueError(f"{value!r}: the config does not read environment variables (only the password is read"
                             " from one, password_env): write the server's name")
        if not re.fullmatch(r"[\w.:-]+", value):
            raise ValueError(f"{value!r} is not a host name or address (e.g. smtp.example.org, 127.0.0.1)")
        return value

    @field_validator("password_env")
    @classmethod
    def _check_password_env(cls, value: str) -> str:
        return _check_variable(value, "the password", "MONITOR_SMTP_PASSWORD")

    @field_validator("sender", "recipients", "operators")
    @classmethod
    def _check_addresses(cls, value: str | list[str]) -> str | list[str]:
        """A typo in an address would otherwise surface only as a refusal at the first alert."""
        for address in [value] if isinstance(value, str) else value:
            if not _ADDRESS.fullmatch(address):
                raise ValueError(f"{address!r} is not an e-mail address (name@domain)")
        return value

    @field_validator("digest_cron")
    @classmethod
    def _check_cron(cls, value: str) -> str:
        try:
            due = next_digest(value, datetime.now(UTC))
        except ValueError as exc:
            raise ValueError(f"invalid cron expression {value!r}: {exc}") from exc
        if due is None:  # "0 7 31 2 *": no digest would ever go
            raise ValueError(f"cron expression {value!r} names no time that comes")
        return value

    @property
    def message_domain(self) -> str:
        """The sender's domain: Message-IDs name a domain the sender answers for (RFC 5322)."""
        return self.sender.rpartition("@")[2].strip(" <>") or DEFAULT_MESSAGE_DOMAIN

    def password(self) -> str | None:
        """The SMTP password, from the environment only (never logged)."""
        return os.environ.get(self.password_env) or None


def _phrases_or_clause(value: object) -> object:
    """A list's value is checked as one: each branch of ``list[str] | str`` gave its own line ("lists.us.str: Input
    should be a valid string"), naming a key that is not in the file, for one mistake."""
    if isinstance(value, str) or (isinstance(value, list) and all(isinstance(item, str) for item in value)):
        return value
    raise ValueError(f'should be a list of phrases, as ["Moscow", "Kremlin"], or a clause, as "ambassador* NEAR/3 @russia"'
                     f" (got {value!r})")


ListValue = Annotated[list[str] | str, BeforeValidator(_phrases_or_clause)]


class Settings(_Settings):
    database: str = "monitor.db"
    fetch: FetchSettings = FetchSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    limits: LimitsSettings = LimitsSettings()
    sources: list[SourceSettings] = []
    rules: list[RuleSettings] = []
    # Named lists of phrases, or named clauses (a query string), that rules refer to as @name.
    lists: dict[Annotated[str, Field(pattern=_WORD)], ListValue] = {}
    people: list[PersonSettings] = []
    people_file: str | None = None  # replaces the people shipped with monitor
    email: EmailSettings | None = None
    channels: list[ChannelSettings] = []

    @model_validator(mode="after")
    def _delay_fits_a_check(self) -> Settings:
        """A host's delay between requests as long as a check may spend fetching (``check_seconds``) or waiting
        for hosts (``wait_per_check``) fetched no article at all: ``once`` exited 0, and no alert ever came."""
        room = min(self.limits.check_seconds, self.limits.wait_per_check)
        if self.fetch.delay >= room:
            raise ValueError(f"fetch.delay ({self.fetch.delay:g} s) must be shorter than limits.check_seconds and "
                             f"limits.wait_per_check ({room:g} s), or no article is ever fetched")
        return self

    def source(self, name: str) -> SourceSettings:
        for source in self.sources:
            if source.name == name:
                return source
        raise ConfigError([f"sources: no source named {name!r} (the config's: {_names(self.sources)})"])

    def rule(self, name: str) -> RuleSettings:
        """The rule named ``name``; a usage error (exit 2) naming the config's rules otherwise."""
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise BadArgumentError(f"no rule named {name!r} (the config's: {_names(self.rules)})")

    def with_workers(self, count: int) -> Settings:
        """These settings with ``count`` parsing workers (0: pages are parsed in this process)."""
        return self.model_copy(update={"limits": self.limits.model_copy(update={"workers": count})})

    def interval_of(self, source: SourceSettings) -> int:
        """The source's configured interval: its own, or the schedule's (adaptive polling starts from it)."""
        return source.interval or self.schedule.interval

    def is_adaptive(self, source: SourceSettings) -> bool:
        """Whether the source's interval is learned: a source given its own ``interval`` keeps it."""
        return self.schedule.adaptive and source.interval is None


def _names(entries: list[SourceSettings] | list[RuleSettings]) -> str:
    """The names of a list of the config, quoted, to pick one from: "prisoner_swap" missed the rule "prisoner swap"."""
    return ", ".join(repr(entry.name) for entry in entries) or "none"


def _toml_path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ("function-after", "function-before") or "[" in part:
            continue  # pydantic's internal validator names
        else:
            path += f".{part}" if path else part
    return path or "config"


def _did_you_mean(key: str) -> str:
    """`allow-private` for `allow_private`, `recipient` for `recipients`: the key meant, when one is that close."""
    known = {name for model in _Settings.__subclasses__() for name in model.model_fields}
    close = difflib.get_close_matches(key.replace("-", "_").lower(), known, n=1, cutoff=0.8)
    return f" (did you mean {close[0]}?)" if close else ""


def _describe(error: Any) -> str:
    path = _toml_path(tuple(error["loc"]))
    kind, message = error["type"], error["msg"]
    if kind == "extra_forbidden":
        message = "unknown key" + _did_you_mean(str(error["loc"][-1]))
    elif kind == "missing":
        message = "missing required key"
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    elif kind == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") in _PATTERNS:
        message = f"should be {_PATTERNS[error['ctx']['pattern']]} (got {error.get('input')!r})"
    elif kind == "list_type" and isinstance(error.get("input"), dict) and len(error["loc"]) == 1:
        # [sources] for [[sources]]: "Input should be a valid list (got {'name': ...})" did not say which bracket
        message = _two_brackets(path)
    elif kind in ("model_type", "dict_type"):  # pydantic's words name our classes ("instance of PersonSettings")
        message = f"should be a table of keys, as [name] or {{ key = value }} (got {error.get('input')!r})"
    elif kind.endswith("_type") or kind == "literal_error":
        message = f"{message} (got {error.get('input')!r})"
    return f"{path}: {message}"


def _two_brackets(table: str) -> str:
    return f"write each entry as [[{table}]], with two brackets: [{table}] makes one table, not a list of them"


def _duplicate_names(data: dict[str, Any]) -> list[str]:
    """``sources[3].name: duplicate name ...`` for each repeated name, read from the document itself.

    Read before validation, so that the problem names the entry's index and comes in the
    same pass as every other problem of the file.
    """
    problems: list[str] = []
    for label in ("sources", "rules", "channels"):
        items = data.get(label)
        first: dict[str, int] = {}
        for index, item in enumerate(items if isinstance(items, list) else []):
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str):
                continue
            if name in first:
                problems.append(f"{label}[{index}].name: duplicate name {name!r} (also {label}[{first[name]}])")
            else:
                first[name] = index
    return problems


def parse_config(data: dict[str, Any], base: Path) -> Settings:
    """Validate an already-parsed TOML document; relative paths resolve against ``base``."""
    problems = _duplicate_names(data)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_describe(error) for error in exc.errors()] + problems) from exc
    if problems:
        raise ConfigError(problems)
    if "\0" in settings.database:
        raise ConfigError(["database: holds a NUL character, which no file name can"])
    if not settings.database.strip():  # Path("") is the config's folder
        raise ConfigError(['database: empty: name the archive\'s file (default "monitor.db")'])
    if names_folder(settings.database):
        raise ConfigError([f"database: {settings.database} names a folder: name the archive's file, not its folder"])
    database = _home(settings.database)
    if not database.is_absolute():
        settings = settings.model_copy(update={"database": str(base / database)})
    elif str(database) != settings.database:
        settings = settings.model_copy(update={"database": str(database)})
    if Path(settings.database).is_dir():  # caught here, before run leaves a lock file beside it
        raise ConfigError([f"database: {settings.database} is a directory: name the archive's file, not its folder"])
    if not_a_file(settings.database):
        raise ConfigError([f"database: {settings.database} is not a regular file (a device, a pipe or a socket): name"
                           " the archive's file"])
    people_file = base / _home(settings.people_file) if settings.people_file else SHIPPED_PEOPLE
    people = [*load_people(people_file), *settings.people]
    return settings.model_copy(update={"people": people})


def load_people(path: Path) -> list[PersonSettings]:
    """The ``[[people]]`` of a TOML file (the shipped one by default), every problem reported at once."""
    data = _read_toml(path, f"people_file {path}")
    # [[person]] for [[people]] loaded no one, and no error said why a rule's @list was empty.
    strays = [key for key in data if key != "people"]
    if strays:
        raise ConfigError([f"{path.name}: {key}: unknown key: a people file holds [[people]] only"
                           + (" (did you mean people?)" if difflib.get_close_matches(key.lower(), ["people", "person"])
                              else "") for key in strays])
    entries = data.get("people", [])
    if isinstance(entries, dict):  # [people] written for [[people]]: "people[0].config: ... (got 'name')"
        raise ConfigError([f"{path.name}: people: {_two_brackets('people')}"])
    if not isinstance(entries, list):  # `people = 3`: a TypeError
        raise ConfigError([f"{path.name}: people: an array of tables is expected, each person as [[people]]"])
    problems, people = [], []
    for index, entry in enumerate(entries):
        try:
            people.append(PersonSettings.model_validate(entry))
        except ValidationError as exc:
            problems += [f"{path.name}: people[{index}].{_describe(error)}" for error in exc.errors()]
    if problems:
        raise ConfigError(problems)
    return people


def _home(path: str) -> Path:
    """A path of the config, ``~`` read as the home folder, as a shell reads it: written in the file it is no shell's
    to expand, and ``database = "~/monitor.db"`` made an archive in a folder named ``~`` beside the config."""
    try:
        return Path(path).expanduser()
    except RuntimeError:  # no home folder known: the path as written
        return Path(path)


def _not_utf8(exc: UnicodeDecodeError) -> str:
    """Where a file is not UTF-8, and what to do: "'utf-8' codec can't decode byte 0xff in position 0" said neither
    (Notepad's "Unicode" is UTF-16, an older editor's Latin-1)."""
    data = exc.object  # the bytes the position counts in (a UTF-8 byte-order mark read past)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "saved as UTF-16: save it as UTF-8"
    line = data.count(b"\n", 0, exc.start) + 1
    return f"not UTF-8 (line {line}: byte 0x{data[exc.start]:02x}): save it as UTF-8"


class NotAFileError(ValueError):
    """A path that names something to read from which no file's bytes come: a device, a socket, an empty pipe."""


def read_file(path: Path) -> bytes:
    """A file's bytes, or a pipe's as its writer wrote them (``--config <(...)``).

    A pipe is opened without waiting for a writer: one nobody writes to (a FIFO made and left) reads as empty at
    once, and is refused, where opening it waited for ever. A device or a socket is refused: ``/dev/null`` read as an
    empty config, whose archive went to ``/dev``.
    """
    mode = path.stat().st_mode
    if stat.S_ISFIFO(mode):
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as stream:
            os.set_blocking(stream.fileno(), True)  # from here on, wait for what a writer has yet to write
            data = stream.read()
        if not data:
            raise NotAFileError("a pipe nothing was written to")
        return data
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):
        raise NotAFileError("not a regular file (a device or a socket)")
    return path.read_bytes()


def _read_toml(path: Path, label: str) -> dict[str, Any]:
    """A TOML file's document; a missing or broken file is a ConfigError naming ``label``.

    A leading byte-order mark is read past: Windows editors save UTF-8 with one, and tomllib reads it as an
    invalid statement at line 1, column 1, a character no editor shows.
    """
    try:
        return tomllib.loads(read_file(path).decode("utf-8-sig"))
    except NotAFileError as exc:
        raise ConfigError([f"{exc}: give the file's path"], label) from exc
    except FileNotFoundError as exc:
        raise ConfigError(["file not found"], label) from exc
    except IsADirectoryError as exc:
        raise ConfigError(["is a directory"], label) from exc
    except OSError as exc:
        raise ConfigError([f"cannot be read: {exc.strerror or exc}"], label) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([_not_utf8(exc)], label) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], label) from exc
    except RecursionError as exc:  # arrays in arrays thousands deep: tomllib descends once a level
        raise ConfigError(["not valid TOML: nested too deeply"], label) from exc
    except ValueError as exc:  # a NUL in the path ("embedded null byte")
        raise ConfigError([f"cannot be read: {exc}"], label) from exc


def not_a_file(path: str) -> bool:
    """Whether a path exists as something an archive cannot be: a device (``/dev/null``), a pipe or a socket."""
    target = Path(path)
    return target.exists() and not target.is_file() and not target.is_dir()


def loops(path: str | Path) -> bool:
    """Whether a path is a loop of symbolic links, which ``Path.exists`` reports as missing: "no archive at ... (monitor
    once creates it)" and "no such file" named the wrong cause."""
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    except ValueError:  # a NUL in the path: said where the path is used
        return False
    return False


def names_folder(path: str) -> bool:
    """Whether a path ends in a separator, as a folder does: ``Path("data/")`` drops it, and the archive would
    have been made as a file named ``data``."""
    return path.endswith(("/", os.sep))


def load_config(path: str | Path) -> Settings:
    """The settings of the file at ``path``; a :class:`ConfigError` names the file once, in ``path``."""
    path = Path(path)
    data = _read_toml(path, str(path))
    try:
        return parse_config(data, path.resolve().parent)
    except ConfigError as exc:  # a people file's problems keep its label, after the config's name
        problems = [f"{exc.path}: {problem}" for problem in exc.problems] if exc.path else exc.problems
        raise ConfigError(problems, str(path)) from exc


def shipped_rules() -> Settings:
    """Settings holding only the rules (and their lists) shipped with monitor: the demo's, without a config file."""
    return parse_config(_read_toml(SHIPPED_RULES, str(SHIPPED_RULES)), Path.cwd())
