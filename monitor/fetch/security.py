"""Which URLs and addresses may be fetched (docs/design.md, "Security").

Two gates, because a URL can be harmless on paper and still lead somewhere
private:

1. :func:`check_url` runs on every URL before a request and on every redirect
   hop: only http(s), no user information, no ambiguous IPv4 spellings
   (``2130706433``, ``0177.0.0.1``, ``0x7f.1``) that resolvers accept and
   humans misread, and no literal private address unless trusted.
2. :class:`GuardedBackend` is the network backend of the HTTP connection pool.
   It resolves the host name itself, refuses the connection if any address is
   loopback, private, link-local, reserved, CGNAT or an IPv6 wrapper of one
   (IPv4-mapped, 6to4, Teredo, NAT64), and then connects to the very address it
   checked. Checking one lookup and letting the client look the name up again
   would leave a DNS-rebinding gap.

A destination is trusted - and may be private - when it has the origin of a
configured source (e.g. a local test site) or when ``allow_private`` is set.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore

from monitor.errors import BlockedURLError
from monitor.fetch.stream import open_stream
from monitor.fetch.urls import MAX_URL_LENGTH, origin_of
from monitor.threads import LOOKUPS

__all__ = ["AddressPolicy", "BlockedAddressError", "GuardedBackend", "check_url", "is_public_address"]

log = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[list[str]]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
MAX_HOST_CHARS = 253  # of a DNS name (RFC 1035)
# A host made only of numbers (decimal, octal or hex) and dots is an IPv4 address to
# inet_aton() and to most resolvers, whatever it looks like.
_NUMERIC_HOST = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?", re.IGNORECASE)


class BlockedAddressError(Exception):
    """Raised by :class:`GuardedBackend` inside the HTTP stack; the fetcher turns it into
    :class:`~monitor.errors.BlockedURLError`, which needs the URL the backend never sees."""


@functools.lru_cache(maxsize=4096)
def is_public_address(address: str) -> bool:
    """Whether ``address`` (an IP literal) is a globally routable unicast address.

    Cached: a pure function of its argument, and ``ipaddress`` walks a dozen
    networks for each answer (a quarter of the URL check of every request).
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or (ip.teredo[1] if ip.teredo else None) or ip.sixtofour
        if embedded is None and (ip in _NAT64 or ip in _NAT64_LOCAL):
            embedded = ipaddress.IPv4Address(ip.packed[-4:])
        if embedded is not None:
            return is_public_address(str(embedded))
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return False
    # An IPv6 site-local address (fec0::/10) is deprecated (RFC 3879) but still a site's own network, as fc00::/7
    # is: ipaddress counts it global.
    site_local = isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified or site_local)


class AddressPolicy:
    """Decides whether a destination may be private: trusted origins and ``allow_private``."""

    def __init__(self, trusted_origins: Iterable[str] = (), allow_private: bool = False) -> None:
        self.allow_private = allow_private
        self._origins = {origin_of(origin) for origin in trusted_origins}
        self._host_ports = {_host_port(origin) for origin in self._origins}

    def trusts_url(self, url: str) -> bool:
        """Whether ``url`` may lead to a private address; one with no WHATWG origin (``http://10.0.0.1%/``) may not."""
        if self.allow_private:
            return True
        try:
            return origin_of(url) in self._origins
        except ValueError:
            return False

    def trusts_host(self, host: str, port: int) -> bool:
        return self.allow_private or (host.lower().strip("[]"), port) in self._host_ports


def check_url(url: str, policy: AddressPolicy) -> None:
    """Refuse a URL that must not be requested, before any connection is made."""
    if len(url) > MAX_URL_LENGTH:  # a redirect's Location is as long as a server likes
        raise BlockedURLError(url[:200] + "…", f"URL longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), (parts.hostname or "")
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise BlockedURLError(url, f"malformed URL: {exc}") from exc
    if scheme not in ("http", "https"):
        raise BlockedURLError(url, f"scheme {scheme or 'missing'!r} is not allowed")
    if "@" in parts.netloc:
        raise BlockedURLError(url, "user information in the URL is not allowed")
    if not host:
        raise BlockedURLError(url, "URL has no host")
    if len(host) > MAX_HOST_CHARS:  # no name resolves, and the hosts seen are cached (_ip_literal)
        raise BlockedURLError(url, f"host name longer than {MAX_HOST_CHARS} characters")
    literal = _ip_literal(host)
    if literal is None and _NUMERIC_HOST.fullmatch(host):
        raise BlockedURLError(url, f"ambiguous numeric host {host!r}")
    if literal is not None and not is_public_address(literal) and not policy.trusts_url(url):
        raise BlockedURLError(url, f"address {literal} is not public")


@functools.lru_cache(maxsize=4096)
def _ip_literal(host: str) -> str | None:
    """The host as a normalised IP address, or None for a name (cached: the same hosts recur)."""
    try:
        return str(ipaddress.ip_address(host.strip("[]").split("%", 1)[0]))
    except ValueError:
        return None


def _host_port(origin: str) -> tuple[str, int]:
    parts = urlsplit(origin)
    return (parts.hostname or "").lower(), parts.port or 0


async def system_resolver(host: str, port: int) -> list[str]:
    """All addresses of ``host``, from the system resolver, in its preferred order."""
    lookup = functools.partial(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    infos = await LOOKUPS.run(lookup)  # in threads of their own, which the end of the process does not wait for
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that resolves, checks, then connects to the checked address.

    TLS is unaffected: httpcore starts TLS on the returned stream with the origin's
    host name as SNI, so certificates are verified against the name, not the address.
    """

    def __init__(self, policy: AddressPolicy, resolver: Resolver = system_resolver) -> None:
        self._policy = policy
        self._resolver = resolver

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        literal = _ip_literal(host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                addresses = await self._resolver(host, port)
            except (OSError, UnicodeError) as exc:  # a label of 64 characters fails the IDNA codec
                raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from exc
        if not self._policy.trusts_host(host, port):
            refused = [address for address in addresses if not is_public_address(address)]
            if refused:
                raise BlockedAddressError(f"{host} resolves to non-public address {refused[0]}")
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await open_stream(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                log.debug("connect to %s (%s) port %d failed: %s", host, address, port, exc)
                last_error = exc
        if last_error is None:
            raise httpcore.ConnectError(f"{host!r} has no address")
        raise last_error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddressError("unix sockets are never used")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
