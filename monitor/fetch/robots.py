"""robots.txt, fetched once per origin and cached (RFC 9309).

protego, not the stdlib parser: Python's robotparser takes the first matching
rule instead of the longest and knows no wildcards, so it blocks ``/news/a``
under ``Disallow: /`` + ``Allow: /news/``.

What an answer means (RFC 9309 section 2.3.1):

* 2xx: the rules in the file; cached for ``ttl`` (at most 24 hours);
* 4xx (including 401/403): no rules, everything is allowed;
* 5xx, a network failure, a timeout, a refused redirect: the site is
  unreachable, so everything is refused *for now* - cached only briefly
  (``retry_ttl``) so the site is asked again soon. The rules keep the error,
  so that the refusal names its cause (DNS, refused, timeout, HTTP 503) rather
  than reading as a robots.txt that said no.

Concurrent requests for one origin wait for a single robots.txt fetch.

A file is read up to :data:`MAX_RULES` ``Allow``/``Disallow`` lines, the later ones
dropped (its other lines, ``Sitemap:`` among them, kept): protego compares a URL with
every rule of its group, and a hostile file of 40,000 wildcard rules cost the event loop
seconds per URL. Any line that is no other directive counts as a rule, since protego also
reads misspelled rules and rules without a colon. As with RFC 9309's size limit, what lies
past the limit is not obeyed.

protego also keeps a copy of each rule for every user agent of its group, and sets a group's
crawl delay on each of them: a file of 8,000 user agents over 2,000 rules, 137 KB, took the
monitor's process to 1.2 GB and held its event loop for half a minute. So each directive costs
the user agents of its group, each user agent one, and the lines past :data:`MAX_COPIES` are
dropped too.

Only the groups that may be ours are given to protego: a group none of whose user agents is ``*`` or a part of our
user agent string is dropped with its rules (protego matches an agent's name inside the string, at a word's start,
so those groups are never ours). protego makes an object of each user agent it reads: a file of 15,000 other agents,
512 KiB, was 5.6 MB parsed, and 64 fetches in flight, each keeping its host's rules, took the monitor's process to
500 MB while the cache held a few of them.

The cache holds the parsed rules of at most :data:`MAX_HELD_CHARS` characters of robots.txt
directives (comments left out) in all, each origin counting :data:`ENTRY_CHARS` more, the
least recently used origins forgotten past it (and asked again when next needed): a parsed
file costs about ten times its size, and a feed linking to forty origins that each serve
512 KiB of rules took the monitor's process to 363 MB. The same budget bounds how many
origins are remembered, expired or not.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

from monitor.errors import FetchError, HTTPStatusError

__all__ = ["ROBOTS_TTL", "RobotsCache", "RobotsRules", "robots_url"]

log = logging.getLogger(__name__)

ROBOTS_TTL = 24 * 3600.0
RETRY_TTL = 600.0
MAX_CRAWL_DELAY = 60.0  # a Crawl-delay of an hour would stall every check of the source
MAX_RULES = 5000  # Allow/Disallow lines read of one file; busy real sites write hundreds
# Wildcards (``*``, a run of them counting once) read in one file's rules: a rule whose wildcards would pass this is
# dropped too. protego finds a wildcard rule's parts in the URL one by one, a scan of the URL each, so a URL costs
# a wildcard rule its length: 5,000 rules of "/*a*b" cost 20 ms a link of 8,000 characters, 1,000 links a check
# 20 s of the event loop (50 wildcards a rule: 44 ms). Real files write a few dozen.
MAX_WILDCARDS = 1000
# What protego builds of one file: a rule set per user agent, and each directive of a group once for each of the
# group's user agents. Real files group a few agents over their rules; each copy costs about 60 bytes.
MAX_COPIES = 20_000
MAX_HELD_CHARS = 2 * 1024 * 1024  # of robots.txt parsed and cached, all origins together; real files are a few KiB
# What an origin's entry costs besides its directives (the objects, a lock): charged so that the budget bounds the
# origins remembered too. A feed of 1,000 new hostile origins a check, each serving an empty file, counted nothing
# and grew the daemon by 2 MB a check for the day the entries are kept.
ENTRY_CHARS = 2048
_AGENTS = ("user-agent", "useragent", "user agent")
_SITE_WIDE = ("sitemap", "site-map", "host")  # directives of no group
# Directives that are no Allow or Disallow rule. Any other line counts as a rule, whatever protego makes of it: it
# reads misspelled rules ("Disalow") and rules without a colon ("Disallow /x") too.
_NOT_RULES = (
    *_AGENTS, *_SITE_WIDE, "crawl-delay", "crawl delay", "request-rate", "request rate", "visit-time", "visit time",
)  # fmt: skip

_WILDCARDS = re.compile(r"\*+")
# A user agent line as protego reads it, its value after the colon or, without one, after the field's words.
_AGENT_LINE = re.compile(r"(?:user-agent|useragent|user agent)(?:\s*:(.*)|\s+([^:]*))", re.IGNORECASE)
# The fields protego knows, of one word and of two: a line without a colon that opens with none of them is no
# directive to it, and does not end a group.
_FIELDS = frozenset(
    "disallow dissallow dissalow disalow diasllow disallaw allow user-agent useragent sitemap sitemaps site-map "
    "crawl-delay request-rate visit-time host".split()
) | {"user agent", "crawl delay", "request rate", "visit time"}

# Fetches a robots.txt URL and returns its body; raises HTTPStatusError for a
# status >= 400 and another FetchError when the origin cannot be reached.
RobotsLoader = Callable[[str], Awaitable[bytes]]


@dataclass(frozen=True)
class RobotsRules:
    """The rules of one origin for our user agent, and when to ask again."""

    parser: Protego | None  # None: no rules (everything allowed) or unreachable
    expires: float
    unreachable: FetchError | None = None  # why robots.txt could not be read: nothing is allowed meanwhile
    size: int = ENTRY_CHARS  # what holding these rules costs: the directives the parser was given, and the entry

    def allows(self, url: str, user_agent: str) -> bool:
        if self.parser is None:
            return self.unreachable is None
        return bool(self.parser.can_fetch(url, user_agent))

    def crawl_delay(self, user_agent: str) -> float | None:
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(user_agent)
        return None if delay is None else min(float(delay), MAX_CRAWL_DELAY)


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


def _names_a_field(lowered: str) -> bool:
    """Whether protego reads a line without a colon as a directive: its first word, or its first two, name a field."""
    words = lowered.split()
    return words[0] in _FIELDS or " ".join(words[:2]) in _FIELDS


def _maybe_ours(lines: list[str], user_agent: str) -> list[str]:
    """The directive lines but those of groups whose user agents are all someone else's (see the module's docstring).

    Groups are told as protego tells them: a run of user agent lines, then the group's other fields, up to the next
    user agent line after one of them; site-wide lines (``Sitemap``, ``Host``) belong to no group and are kept, and a
    line protego reads as no directive at all neither ends a group nor is kept. A user agent line read otherwise than
    by :data:`_AGENT_LINE` keeps its group whole: a group is dropped only where it is surely not ours.
    """
    ours = user_agent.lower()
    kept: list[str] = []
    agents: list[str] = []  # the user agent lines of the group being named
    keep = True  # whether the group whose fields are being read is kept
    naming = False  # whether the last field line was a user agent's
    for line in lines:
        lowered = line.lower()
        if lowered.startswith(_AGENTS):
            if not naming:
                agents, keep, naming = [], False, True
            agents.append(line)
            agent = _AGENT_LINE.fullmatch(line)
            if agent is None:
                keep = True
            else:
                name = (agent.group(1) if agent.group(1) is not None else agent.group(2)).strip().lower()
                word = name.replace("*", "")  # "bot*" is "bot*" and "bot" to protego: a part of ours if "bot" is
                keep = keep or name == "*" or bool(word) and word in ours
        elif lowered.startswith(_SITE_WIDE):
            kept.append(line)
        elif ":" in line or _names_a_field(lowered):
            if naming:
                naming = False
                if keep:
                    kept.extend(agents)
            if keep:
                kept.append(line)
    if naming and keep:
        kept.extend(agents)
    return kept


def _directives(text: str, user_agent: str) -> str:
    """The lines of ``text`` protego reads, comments and blank lines left out (they cost nothing parsed, and would
    count against the cache's budget), and the rule lines past the :data:`MAX_RULES`-th dropped. Lines are split as
    protego splits them (``str.splitlines``: a file separated by ``\x1c`` is thousands of lines to it). A rule whose
    wildcards would bring the file's past :data:`MAX_WILDCARDS` is dropped too, and any line past
    :data:`MAX_COPIES`.

    A group's user agents are counted until a line with a colon other than theirs: protego ends a group at any
    such line, and may read on through others. Counting on through a line it ends the group at only overcounts.
    """
    kept, rules, wildcards = [], 0, 0
    copies, agents, grouping = 0, 0, False  # user agents of the current group; whether a group is being named
    lines = [directive for line in text.splitlines() if (directive := line.split("#", 1)[0].strip())]
    for directive in _maybe_ours(lines, user_agent):
        lowered = directive.lower()
        if lowered.startswith(_AGENTS):
            agents = (agents if grouping else 0) + 1 + ("*" in directive)  # "bot*" is "bot*" and "bot" to protego
            grouping = True
            copies += 1 + ("*" in directive)
        elif not lowered.startswith(_SITE_WIDE):
            copies += max(agents, 1)
            grouping = grouping and ":" not in directive
        if copies > MAX_COPIES:
            continue
        if not lowered.startswith(_NOT_RULES):
            rules += 1
            if rules > MAX_RULES:
                continue
            if "*" in directive:
                found = len(_WILDCARDS.findall(directive))
                if wildcards + found > MAX_WILDCARDS:
                    continue
                wildcards += found
        kept.append(directive)
    return "\n".join(kept)


class RobotsCache:
    """robots.txt rules per origin, loaded on first use and kept for a TTL."""

    def __init__(
        self,
        user_agent: str,
        load: RobotsLoader,
        *,
        ttl: float = ROBOTS_TTL,
        retry_ttl: float = RETRY_TTL,
        clock: Callable[[], float] = time.monotonic,
        max_held: int = MAX_HELD_CHARS,
    ) -> None:
        self.user_agent = user_agent
        self._load = load
        self._ttl = min(ttl, ROBOTS_TTL)
        self._retry_ttl = retry_ttl
        self._clock = clock
        self._max_held = max_held
        self._held = 0  # the sizes of the rules in self._rules
        self._rules: dict[str, RobotsRules] = {}  # least recently used first
        self._locks: dict[str, asyncio.Lock] = {}

    async def rules_for(self, url: str) -> RobotsRules:
        key = robots_url(url)
        async with self._locks.setdefault(key, asyncio.Lock()):
            rules = self._rules.pop(key, None)
            if rules is None or rules.expires <= self._clock():
                self._held -= 0 if rules is None else rules.size
                rules = await self._fetch(key)
                self._make_room(rules.size)
                self._held += rules.size
            self._rules[key] = rules  # the most recently used now
            return rules

    def _make_room(self, size: int) -> None:
        """Forget the least recently used rules until ``size`` more fits in the budget."""
        for key in list(self._rules):
            if self._held + size <= self._max_held:
                return
            lock = self._locks.get(key)
            if lock is None or not lock.locked():
                self._forget(key)

    async def _fetch(self, url: str) -> RobotsRules:
        now = self._clock()
        try:
            body = await self._load(url)
        except HTTPStatusError as exc:
            if 400 <= exc.status < 500:
                return RobotsRules(parser=None, expires=now + self._ttl)
            log.info("robots.txt unavailable, disallowing for now: %s", exc)
            return RobotsRules(parser=None, expires=now + self._retry_ttl, unreachable=exc)
        except FetchError as exc:
            log.info("robots.txt unreachable, disallowing for now: %s", exc)
            return RobotsRules(parser=None, expires=now + self._retry_ttl, unreachable=exc)
        text = _directives(body.decode("utf-8", errors="replace"), self.user_agent)
        return RobotsRules(parser=Protego.parse(text), expires=now + self._ttl, size=ENTRY_CHARS + len(text))

    def _forget(self, key: str) -> None:
        self._held -= self._rules.pop(key).size
        self._locks.pop(key, None)
