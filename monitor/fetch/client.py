"""The fetcher: one shared HTTP client, polite, conditional, capped and safe.

Every request of the process goes through one :class:`Fetcher` (one httpx
transport, one connection pool), which is where the fetching rules (docs/design.md,
"Security") are enforced in one place:

* each URL and each redirect hop is checked (:mod:`monitor.fetch.security`);
  redirects are followed here, never by httpx, at most ``MAX_REDIRECTS`` hops;
* robots.txt is obeyed per origin (:mod:`monitor.fetch.robots`), its
  ``Crawl-delay`` raising the host's delay;
* per-host concurrency and delay (:mod:`monitor.fetch.politeness`); a host
  that answers 429 or 503 with ``Retry-After`` gets no request at all until
  that time has passed, checked again when a request's turn comes (the refusal, a
  :class:`~monitor.errors.DeferredError`, repeats its status, counted ``deferred``);
* one deadline of ``timeout`` seconds per request, connect to last byte, and no
  other: httpx's timeouts are per read, so a server dripping a byte a second would
  never time out by them;
* bodies are read raw and decompressed under ``max_bytes``
  (:mod:`monitor.fetch.decode`); only content types we can use are read.

Failures are raised as :class:`~monitor.errors.FetchError` subclasses with the
cause chained; "not modified" is a value (:class:`~monitor.models.NotModified`).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import socket
import ssl
import time
import warnings
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpcore
import httpx

from monitor.config import FetchSettings
from monitor.errors import (
    BlockedURLError,
    DeferredError,
    DNSError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    NetworkError,
    RedirectError,
    RefusedError,
    ResponseTooLargeError,
    RobotsDisallowedError,
    RobotsUnreachableError,
    TLSError,
    UnsupportedContentError,
)
from monitor.fetch.backoff import MAX_RETRY_AFTER, parse_retry_after
from monitor.fetch.decode import BodyTooLargeError, UnsupportedEncodingError, media_type, read_capped, unwrap_gzip
from monitor.fetch.fairness import FairSlots
from monitor.fetch.politeness import HostGate
from monitor.fetch.pool import OriginPools
from monitor.fetch.robots import RobotsCache, RobotsRules, robots_url
from monitor.fetch.security import (
    AddressPolicy,
    BlockedAddressError,
    GuardedBackend,
    Resolver,
    check_url,
    system_resolver,
)
from monitor.fetch.stream import AsyncioStream
from monitor.fetch.urls import canonicalize
from monitor.models import NotModified, Page

__all__ = ["MAX_REDIRECTS", "Fetcher", "Kind"]

log = logging.getLogger(__name__)

Kind = Literal["source", "article"]
_RequestKind = Literal["source", "article", "robots"]

MAX_REDIRECTS = 10
# Longest ETag or Last-Modified kept: each is stored with the source and sent back on every check, and a real
# one is a hash or a date; a longer one is dropped (the body's hash still tells an unchanged source).
MAX_VALIDATOR_CHARS = 1024
MAX_COOLDOWNS = 4096  # hosts remembered as asking us to wait before those whose wait is over are forgotten
# Cookies kept, within RFC 6265's minimums (section 6.1): 50 an answer and a domain, 4,096 bytes each, 3,000 in all.
MAX_ANSWER_COOKIES = 50
MAX_DOMAIN_COOKIES = 50
MAX_COOKIE_BYTES = 4096  # a cookie's name and value
MAX_COOKIES = 3000
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 asks crawlers to parse at least 500 KiB
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})  # "moved for good": the URL that led here is out of date
_GZIP_MAGIC = b"\x1f\x8b"
# Wire bytes a body may take beyond its cap and a tenth: chunk headers, and what the head's last read brought along.
_FRAMING_BYTES = 64 * 1024

_ACCEPT = {
    "article": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    "source": (
        "application/rss+xml,application/atom+xml,application/feed+json,application/xml;q=0.9,"
        "text/xml;q=0.9,application/json;q=0.8,text/html;q=0.8,*/*;q=0.1"
    ),
    "robots": "text/plain,*/*;q=0.1",
}
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Feeds and sitemaps come under many labels; a source is whatever the configuration says it is.
_SOURCE_TYPES = _HTML_TYPES | frozenset(
    {
        "text/xml", "application/xml", "application/json", "text/plain", "application/octet-stream",
        "binary/octet-stream", "application/gzip", "application/x-gzip", "text/javascript",
    }
)  # fmt: skip


@dataclass(frozen=True)
class _Reply:
    """One HTTP exchange: the body is read only for a 2xx answer."""

    url: str
    status: int
    headers: httpx.Headers
    body: bytes = b""
    seconds: float = 0.0  # from sending the request to the last byte: what the exchange took of the fetch's timeout
    moved: bool = False  # reached by redirects that each said the move is for good (301, 308)


POOLED_CONNECTIONS = 64  # kept-alive connections, over all origins
KEEPALIVE_SECONDS = 30.0


def _location(headers: httpx.Headers) -> str | None:
    """An answer's Location, decoded on its own: UTF-8, else Latin-1. httpx decodes all of an answer's headers with
    one encoding, Latin-1 once any of them is not UTF-8, so a Russian site's raw UTF-8 redirect ("/новости/посол")
    beside a "Server: Café" was followed to a garbled path, a 404, and the article was lost."""
    for name, value in headers.raw:
        if name.lower() == b"location":
            try:
                return value.decode()
            except UnicodeDecodeError:
                return value.decode("latin-1")
    return None


class _GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport over per-origin httpcore pools whose network backend checks addresses.

    Built on httpx's public transport interface: httpx's own transport offers no way to
    hand its pool a network backend. httpcore's errors become httpx's of the same name,
    as httpx's transport raises them, so callers see one family of exceptions.
    """

    def __init__(self, backend: GuardedBackend, concurrency: int, per_host: int) -> None:
        # The fetcher's gate bounds requests in flight, so a pool never makes one wait.
        self._pools = OriginPools(
            lambda: httpcore.AsyncConnectionPool(
                ssl_context=_ssl_context(),
                max_connections=concurrency,
                max_keepalive_connections=per_host,
                keepalive_expiry=KEEPALIVE_SECONDS,
                network_backend=backend,
            ),
            max_origins=max(1, POOLED_CONNECTIONS // per_host),
            sweep_every=KEEPALIVE_SECONDS / 2,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw,
            content=request.stream,  # httpx's streams iterate asynchronously too
            extensions=request.extensions,
        )
        with _httpx_errors():
            response = await self._pools.handle_async_request(core)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseBody(response.stream),  # type: ignore[arg-type]  # httpcore answers with an async stream
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pools.aclose()


class _ResponseBody(httpx.AsyncByteStream):
    """httpcore's response stream, its errors raised as httpx's."""

    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            with _httpx_errors():
                await close()


@contextmanager
def _httpx_errors() -> Iterator[None]:
    """An httpcore error as the httpx error of the same name (its nearest ancestor's, else TransportError)."""
    try:
        yield
    except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol,
            httpcore.ProxyError) as exc:
        raise _httpx_error(exc) from exc


def _httpx_error(exc: Exception) -> httpx.TransportError:
    for kind in type(exc).__mro__:
        mapped = getattr(httpx, kind.__name__, None)
        if isinstance(mapped, type) and issubclass(mapped, httpx.TransportError):
            return mapped(str(exc))
    return httpx.TransportError(str(exc))


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying TLS context per process: loading the CA bundle takes tens of ms."""
    return httpx.create_ssl_context(trust_env=False)


class Fetcher:
    """Fetches URLs for the pipeline; use as ``async with Fetcher(settings) as fetcher``.

    ``trusted_origins`` are the origins of configured source URLs: they may be
    private (a local site), other private destinations may not.
    ``stats`` counts requests by kind (``source``, ``article``, ``robots``) and
    outcomes (``not_modified``, ``robots_disallowed``, ``robots_unreachable``, ``blocked``, ``deferred``).
    """

    def __init__(
        self,
        settings: FetchSettings,
        trusted_origins: Iterable[str] = (),
        *,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.settings = settings
        self.stats: collections.Counter[str] = collections.Counter()
        self._policy = AddressPolicy(trusted_origins, allow_private=settings.allow_private)
        # httpx's transport, not its client: redirects are followed here, and the client's
        # per-request work (URL merging, auth and redirect machinery, a cookie-jar pass over
        # every response) was a fifth of a fetch's CPU. Cookies still persist, as in a client.
        self._transport = _GuardedTransport(
            GuardedBackend(self._policy, resolver), settings.concurrency, settings.per_host
        )
        self._headers = {"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate, br"}
        # No timeouts per connect, read or write: the request's one deadline (see _exchange) covers
        # them all, so they could never fire first, and each would schedule a timer of its own.
        self._extensions = {"timeout": httpx.Timeout(None).as_dict()}
        self._cookies = httpx.Cookies()
        self._gate = HostGate(settings.concurrency, settings.per_host)
        self._cooldowns: dict[str, tuple[float, int]] = {}  # host -> (monotonic time, status)
        self._robots = RobotsCache(settings.user_agent, self._load_robots)

    async def __aenter__(self) -> Fetcher:
        await self._transport.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        await self._transport.__aexit__(exc_type, exc, tb)

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        kind: Kind = "article",
        hold: Holding | None = None,
    ) -> Page | NotModified:
        """GET ``url``, conditionally when validators are given; see the module docstring.

        With ``hold``, its slots are taken when the request may start (after the host's delay) and as the
        body grows, and are the caller's to give back (:meth:`Holding.release`) once the answer is returned;
        if ``fetch`` raises, they are given back here. A caller bounds that way what it holds after its
        requests (pages waiting to be parsed) without holding a slot through a host's delay, which would
        stall every other host.
        """
        headers = {"Accept": _ACCEPT[kind]}
        # Checked again as sent: an archive may hold a value kept before it was checked as received.
        if etag := _validator(etag):
            headers["If-None-Match"] = etag
        if last_modified := _validator(last_modified):
            headers["If-Modified-Since"] = last_modified
        held = _Hold(hold)
        try:
            reply = await self._follow(url, headers, kind, self.settings.max_bytes, held)
        except BaseException:
            held.release()
            raise
        moved_to = reply.url if reply.moved else None
        if reply.status == 304:
            self.stats["not_modified"] += 1
            return NotModified(url=url, moved_to=moved_to)
        content_type = reply.headers.get("content-type", "")
        body = reply.body
        if kind == "source" and body.startswith(_GZIP_MAGIC):  # a .xml.gz sitemap served as a file
            with _decoding_errors(reply.url):
                body = unwrap_gzip(body, self.settings.max_bytes)
        return Page(
            url=reply.url,
            requested_url=url,
            status=reply.status,
            content_type=content_type,
            body=body,
            etag=_validator(reply.headers.get("etag")),
            last_modified=_validator(reply.headers.get("last-modified")),
            moved_to=moved_to,
        )

    async def sitemaps_of(self, url: str) -> list[str]:
        """The ``Sitemap:`` lines of the robots.txt of ``url``'s origin, as written there.

        Read through the robots.txt cache (one request per origin and day), whether or
        not ``robots`` is obeyed. A missing robots.txt names none; one that could not be
        read raises :class:`~monitor.errors.RobotsUnreachableError`.
        """
        rules = await self._robots.rules_for(url)
        if rules.unreachable is not None:
            raise _robots_unreachable(url, rules.unreachable)
        return [] if rules.parser is None else [str(line) for line in rules.parser.sitemaps]

    async def _load_robots(self, url: str) -> bytes:
        reply = await self._follow(url, {"Accept": _ACCEPT["robots"]}, "robots", ROBOTS_MAX_BYTES)
        if len(reply.body) < ROBOTS_MAX_BYTES:
            return reply.body
        # Cut at the limit: a rule cut short ("Disallow: /" of "Disallow: /private") must not count.
        return reply.body[: reply.body.rfind(b"\n") + 1]

    async def _follow(
        self, url: str, headers: dict[str, str], kind: _RequestKind, max_bytes: int, held: _Hold | None = None
    ) -> _Reply:
        """Request ``url``, following redirects with every hop checked; raise on >= 400.

        ``fetch.timeout`` covers the hops together (waiting for the host's turn aside): each hop given a
        timeout of its own, ten redirects answered just before it made one fetch last eleven.
        """
        seen: set[str] = set()
        current = url
        left = self.settings.timeout
        # Each origin's robots rules, read once for the fetch: asked again at each hop, they could have been forgotten
        # by the cache meanwhile (its budget filled by other origins' files) and read again, 512 KiB a hop.
        robots: dict[str, RobotsRules] = {}
        moved = None  # whether every redirect so far said the move is for good; None: none yet
        for _ in range(MAX_REDIRECTS + 1):
            seen.add(current)
            self._check(current)
            if current != url:
                _check_canonical(url, current)
            delay = self.settings.delay
            if kind != "robots" and self.settings.robots:
                delay = await self._check_robots(current, robots)
            self._check_cooldown(current)
            reply = await self._exchange(current, headers, kind, max_bytes, delay, held, left)
            left -= reply.seconds
            location = _location(reply.headers)
            if reply.status not in _REDIRECTS or location is None:
                if reply.status >= 400 or (300 <= reply.status < 400 and reply.status != 304):
                    retry_after = parse_retry_after(reply.headers.get("retry-after"), datetime.now(UTC))
                    if reply.status in (429, 503) and retry_after:
                        self._forget_cooldowns()
                        self._cooldowns[politeness_key(current)] = (
                            time.monotonic() + min(retry_after, MAX_RETRY_AFTER),
                            reply.status,
                        )
                    raise HTTPStatusError(current, reply.status, retry_after)
                return replace(reply, moved=bool(moved))
            moved = moved is not False and reply.status in _PERMANENT
            if held is not None:
                # A redirect holds no body: the caller's slot is given back until the next hop's turn. Kept while it
                # waited for its host, 32 links redirected on one host held every slot, and the two holding the
                # host's turns waited for a slot: every check stalled until its time ran out.
                held.release()
            try:
                current = _without_fragment(urljoin(current, location.strip()))
            except ValueError as exc:  # urljoin checks little, but refuses an unclosed "[" host
                raise RedirectError(url, f"redirect to a malformed URL: {exc}") from exc
            if current in seen:
                raise RedirectError(url, f"redirect loop at {current}")
        raise RedirectError(url, f"more than {MAX_REDIRECTS} redirects")

    def _check(self, url: str) -> None:
        try:
            check_url(url, self._policy)
        except BlockedURLError:
            self.stats["blocked"] += 1
            raise

    def _forget_cooldowns(self) -> None:
        """Past :data:`MAX_COOLDOWNS` hosts asked to wait, forget those whose wait is over, and the oldest past half
        of them (a hostile feed's thousands of subdomains answering 429 were otherwise remembered for good)."""
        if len(self._cooldowns) >= MAX_COOLDOWNS:
            now = time.monotonic()
            waiting = [(host, wait) for host, wait in self._cooldowns.items() if wait[0] > now]
            self._cooldowns = dict(waiting[-(MAX_COOLDOWNS // 2) :])

    def _check_cooldown(self, url: str) -> None:
        """Refuse, without a request, a host that asked us (429/503 + Retry-After) to wait."""
        until, status = self._cooldowns.get(politeness_key(url), (0.0, 0))
        remaining = until - time.monotonic()
        if remaining > 0:
            self.stats["deferred"] += 1
            raise DeferredError(url, status, remaining)

    async def delay_for(self, url: str) -> float:
        """Seconds between two requests to ``url``'s host: the configured delay, or the host's longer Crawl-delay.

        A robots.txt that cannot be read asks for nothing here; fetching ``url`` says why it is refused.
        """
        if not self.settings.robots:
            return self.settings.delay
        return self._delay(await self._robots.rules_for(url))

    def _delay(self, rules: RobotsRules) -> float:
        return max(self.settings.delay, rules.crawl_delay(self.settings.user_agent) or 0.0)

    async def _check_robots(self, url: str, known: dict[str, RobotsRules]) -> float:
        """Refuse a URL robots.txt disallows; return the delay the host asks for. ``known``: rules already read, by
        robots.txt URL, which this adds to."""
        key = robots_url(url)
        rules = known.get(key)
        if rules is None:
            rules = known[key] = await self._robots.rules_for(url)
        if rules.unreachable is not None:
            self.stats["robots_unreachable"] += 1
            raise _robots_unreachable(url, rules.unreachable)
        if not rules.allows(url, self.settings.user_agent):
            self.stats["robots_disallowed"] += 1
            raise RobotsDisallowedError(url, "disallowed by robots.txt")
        return self._delay(rules)

    def _keep_cookies(self, response: httpx.Response) -> None:
        """Keep an answer's cookies, within RFC 6265's minimums: the jar is the process's, and every request
        to a host is sent all of its cookies, each matched on the event loop. Parsing thousands of cookies took
        seconds of its CPU an answer; a host that set 45 cookies of 2 KB an answer was sent megabytes of them on
        each request (67 ms of CPU apiece). An answer setting more than 50 keeps none; a cookie over 4,096 bytes
        is dropped; a domain holding more than 50 starts afresh, and so does a jar past 3,000."""
        if len(response.headers.get_list("set-cookie")) > MAX_ANSWER_COOKIES:
            log.debug("cookies of %s ignored: more than %d", response.request.url, MAX_ANSWER_COOKIES)
            return
        jar = self._cookies.jar
        with warnings.catch_warnings():
            # http.cookiejar reports a cookie it cannot read ("Max-Age" without a value) as its own bug, with a
            # traceback on stderr, and drops it: a malformed cookie, dropped as the others are.
            warnings.filterwarnings("ignore", message="http.cookiejar bug!", category=UserWarning)
            self._cookies.extract_cookies(response)
        held: collections.Counter[str] = collections.Counter()
        for cookie in list(jar):
            if len(cookie.name) + len(cookie.value or "") > MAX_COOKIE_BYTES:
                log.debug("cookie %.40s of %s dropped: over %d bytes", cookie.name, cookie.domain, MAX_COOKIE_BYTES)
                jar.clear(cookie.domain, cookie.path, cookie.name)
            else:
                held[cookie.domain] += 1
        for domain, count in held.items():
            if count > MAX_DOMAIN_COOKIES:
                log.debug("cookies of %s dropped: more than %d", domain, MAX_DOMAIN_COOKIES)
                jar.clear(domain)
        if len(jar) > MAX_COOKIES:
            self._cookies.clear()

    async def _exchange(
        self, url: str, headers: dict[str, str], kind: _RequestKind, max_bytes: int, delay: float,
        held: _Hold | None, timeout: float,
    ) -> _Reply:
        """One request and, for a 2xx answer, its capped body, within ``timeout`` (what the fetch has left)."""
        async with self._gate.slot(politeness_key(url), delay, None if held is None else held.take):
            # Asked again at the request's turn: the requests queued for the host's turns before it asked to wait
            # were all sent, 200 requests a check to a host that had asked for a minute's peace.
            self._check_cooldown(url)
            self.stats[kind] += 1
            log.debug("GET %s (%s)", url, kind)
            started = time.monotonic()
            try:
                async with asyncio.timeout(max(timeout, 0.0)):
                    request = _request(url, {**self._headers, **headers}, self._extensions)
                    if self._cookies:
                        self._cookies.set_cookie_header(request)
                    response = await self._transport.handle_async_request(request)
                    response.request = request
                    try:  # closed whatever raises: a connection left open holds its place in the pool for good
                        stream = response.extensions.get("network_stream")
                        if isinstance(stream, AsyncioStream):  # its framing aside, the body read_capped caps
                            with _httpx_errors():  # a trailer that came with the head is counted at once
                                stream.allow(max_bytes + max_bytes // 10 + _FRAMING_BYTES,
                                             chunked="chunked" in response.headers.get("transfer-encoding", "").lower())
                        if "set-cookie" in response.headers:
                            self._keep_cookies(response)
                        body = b""
                        if 200 <= response.status_code < 300:
                            _check_content_type(url, response.headers.get("content-type", ""), kind)
                            encoding = response.headers.get("content-encoding", "")
                            with _decoding_errors(url):
                                body = await read_capped(response.aiter_raw(), encoding, max_bytes,
                                                         truncate=kind == "robots",
                                                         grown=None if held is None else held.grown)
                    finally:
                        await response.aclose()
            except TimeoutError as exc:
                hops = " (redirects included)" if timeout < self.settings.timeout else ""
                raise FetchTimeoutError(
                    url, f"timed out: no complete answer within {self.settings.timeout:g} s{hops}"
                ) from exc
            except BlockedAddressError as exc:
                self.stats["blocked"] += 1
                raise BlockedURLError(url, f"refused: {exc}") from exc
            except httpx.HTTPError as exc:
                raise _network_error(url, exc) from exc
        return _Reply(url, response.status_code, response.headers, body, time.monotonic() - started)


@dataclass(frozen=True)
class Holding:
    """The slots a caller bounds the pages it holds after fetching by (pages waiting to be parsed).

    Each page takes one of ``pages``; a body that grows past ``large_from`` bytes also takes one of
    ``large`` before it reads on. So the bytes held stay near ``pages`` small bodies plus ``large``
    bodies of ``fetch.max_bytes``, where every slot could otherwise hold a body of the cap (32 pages of
    5 MB took the monitor's process past 200 MB). A body waiting for a large slot holds no large slot,
    and those that hold one only wait for the network and the parsing workers: no page waits on another.
    """

    pages: FairSlots
    large: FairSlots
    large_from: int

    def release(self, size: int) -> None:
        """Give back the slots of a page whose body is ``size`` bytes, once its caller is done with it."""
        if size > self.large_from:
            self.large.release()
        self.pages.release()


class _Hold:
    """A caller's slots (:class:`Holding`) for one fetch: taken at each hop's turn, given back after a redirect."""

    def __init__(self, holding: Holding | None) -> None:
        self._holding = holding
        self._taken = False
        self._large = False

    async def take(self) -> None:
        if self._holding is not None and not self._taken:
            await self._holding.pages.acquire()
            self._taken = True

    async def grown(self, size: int) -> None:
        """The body read so far is ``size`` bytes: past the threshold, take a large slot before reading on."""
        if self._holding is not None and not self._large and size > self._holding.large_from:
            await self._holding.large.acquire()
            self._large = True

    def release(self) -> None:
        if self._holding is not None and self._large:
            self._holding.large.release()
            self._large = False
        if self._holding is not None and self._taken:
            self._holding.pages.release()
            self._taken = False


def _check_canonical(url: str, target: str) -> None:
    """Refuse a redirect to a URL that has no canonical form (:func:`canonicalize`): the final URL is what the page is
    stored under and its links are resolved against. urllib reads more than the WHATWG parser does, and a Location of
    1,400 "é" (8,400 characters once escaped) was fetched, then raised out of the pipeline, which kept the page's
    place among those waiting to be parsed: 32 such links stopped every source's articles for the process's life."""
    try:
        canonicalize(target)
    except ValueError as exc:
        raise RedirectError(url, f"redirect to a URL that has no canonical form: {exc}") from exc


def _request(url: str, headers: dict[str, str], extensions: dict[str, Any]) -> httpx.Request:
    """A GET request; a URL httpx cannot send (a malformed IDNA label: ``http://xn--/``) is the fetch's failure."""
    try:
        return httpx.Request("GET", url, headers=headers, extensions=extensions)
    except (httpx.InvalidURL, UnicodeError) as exc:
        raise FetchError(url, f"invalid URL: {exc}") from exc


def _network_error(url: str, exc: httpx.HTTPError) -> NetworkError:
    """The failure named by its root cause, which the HTTP stack chains below its own exceptions.

    httpcore re-raises a connection's error from its pool, which keeps the cause only as the
    context: both links are followed.
    """
    host = urlsplit(url).hostname or url
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return DNSError(url, f"cannot resolve host {host!r} (DNS: {cause.strerror or cause})")
        if isinstance(cause, ConnectionRefusedError):
            return RefusedError(url, f"connection refused by {host}")
        if isinstance(cause, ssl.SSLCertVerificationError):
            return TLSError(url, f"TLS certificate of {host} not trusted: {cause.verify_message or cause}")
        if isinstance(cause, ssl.SSLError):
            return TLSError(url, f"TLS failed with {host}: {cause.reason or cause}")
        if isinstance(cause, (TimeoutError, httpx.TimeoutException)):
            return FetchTimeoutError(url, f"timed out talking to {host}")
        cause = cause.__cause__ or cause.__context__
    return NetworkError(url, f"network error with {host}: {type(exc).__name__}: {exc}")


def _validator(value: str | None) -> str | None:
    """A validator worth keeping and sending back: at most :data:`MAX_VALIDATOR_CHARS` of printable ASCII.

    A header value beyond ASCII (a site's UTF-8 ETag) cannot go into a request: kept, it failed every
    later check of its source before a request went out, so nothing ever replaced it.
    """
    if value is None or len(value) > MAX_VALIDATOR_CHARS or not (value.isascii() and value.isprintable()):
        return None
    return value


def _robots_unreachable(url: str, cause: FetchError) -> RobotsUnreachableError:
    """Why nothing of a site is fetched: its robots.txt, read first, could not be. Where the host gave no answer at
    all (a mistyped name, a server down), that is said first: "robots.txt could not be read (cannot resolve host
    ...)" sent the operator to robots.txt, in ``once``, ``status`` and the log, instead of the URL."""
    if isinstance(cause, NetworkError):
        return RobotsUnreachableError(url, f"{cause.reason} (asked for its robots.txt, read first)")
    return RobotsUnreachableError(
        url, f"robots.txt could not be read ({cause.reason}): the site is not fetched until it can"
    )


def _check_content_type(url: str, content_type: str, kind: _RequestKind) -> None:
    essence = media_type(content_type)
    if not essence or kind == "robots" or essence in _HTML_TYPES:
        return
    if kind == "source" and (essence in _SOURCE_TYPES or essence.endswith(("+xml", "+json"))):
        return
    raise UnsupportedContentError(url, f"content type {essence!r} is not processed for {kind}s")


@contextmanager
def _decoding_errors(url: str) -> Iterator[None]:
    """Turn the decoder's errors into the fetch errors the pipeline records."""
    try:
        yield
    except BodyTooLargeError as exc:
        raise ResponseTooLargeError(url, str(exc)) from exc
    except UnsupportedEncodingError as exc:
        raise UnsupportedContentError(url, str(exc)) from exc


def politeness_key(url: str) -> str:
    """The unit of politeness: host and port, as the URL spells them (lowercased); a check shares its links by it."""
    return urlsplit(url).netloc.lower()


def _without_fragment(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(fragment=""))
