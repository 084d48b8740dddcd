"""Hostile URLs and addresses, one row per failure the security rules prevent (docs/design.md, "Security")."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tests.httpserver import LocalWeb

from monitor.config import FetchSettings
from monitor.errors import BlockedURLError, FetchError
from monitor.fetch.client import Fetcher
from monitor.fetch.security import AddressPolicy, check_url, is_public_address
from monitor.fetch.urls import canonicalize
from monitor.models import Page

NOBODY = AddressPolicy()

# (failure prevented, URL) - each must be refused before any connection is made.
HOSTILE_URLS = [
    ("reading_local_files", "file:///etc/passwd"),
    ("running_scripts_from_links", "javascript:alert(1)"),
    ("talking_to_other_protocols", "gopher://127.0.0.1:25/xHELO"),
    ("ftp_downloads", "ftp://example.org/file"),
    ("data_urls_as_pages", "data:text/html,<script>alert(1)</script>"),
    ("credentials_hidden_in_links", "http://user:pass@example.org/"),
    ("host_disguised_by_userinfo", "http://www.reuters.com@evil.example/"),
    ("loopback_literal", "http://127.0.0.1/admin"),
    ("loopback_anywhere_in_127_slash_8", "http://127.45.6.7/"),
    ("ipv6_loopback", "http://[::1]/"),
    ("cloud_metadata_endpoint", "http://169.254.169.254/latest/meta-data/"),
    ("private_10_slash_8", "http://10.0.0.1/"),
    ("private_172_16_slash_12", "http://172.16.5.4/"),
    ("private_192_168_slash_16", "http://192.168.1.1/"),
    ("carrier_grade_nat", "http://100.64.0.1/"),
    ("this_network_zero_address", "http://0.0.0.0:8080/"),
    ("ipv6_unique_local", "http://[fd00::1]/"),
    ("ipv6_link_local", "http://[fe80::1]/"),
    ("ipv6_site_local", "http://[fec0::1]/"),
    ("ipv4_mapped_ipv6_loopback", "http://[::ffff:127.0.0.1]/"),
    ("ipv4_mapped_ipv6_metadata", "http://[::ffff:a9fe:a9fe]/"),
    ("nat64_wrapped_private", "http://[64:ff9b::10.0.0.1]/"),
    ("sixtofour_wrapped_loopback", "http://[2002:7f00:1::]/"),
    ("decimal_ipv4_spelling", "http://2130706433/"),
    ("octal_ipv4_spelling", "http://0177.0.0.1/"),
    ("hex_ipv4_spelling", "http://0x7f.0.0.1/"),
    ("short_ipv4_spelling", "http://127.1/"),
    ("broadcast_address", "http://255.255.255.255/"),
    ("multicast_address", "http://224.0.0.1/"),
    ("documentation_range_as_target", "http://192.0.2.1/"),
    ("malformed_port", "http://example.org:99999/"),
    ("missing_host", "http:///path"),
    ("cache_filled_with_hosts_no_dns_holds", "http://" + "a." * 150 + "example/"),
]


@pytest.mark.parametrize(("failure", "url"), HOSTILE_URLS, ids=[row[0] for row in HOSTILE_URLS])
def test_hostile_url_is_refused(failure: str, url: str) -> None:
    with pytest.raises(BlockedURLError):
        check_url(url, NOBODY)


# WHATWG reads "http:///path" as the host "path": a name, which the guarded backend resolves and checks.
SYNTAX_ONLY = {"missing_host"}


@pytest.mark.parametrize(
    ("failure", "url"),
    [row for row in HOSTILE_URLS if row[0] not in SYNTAX_ONLY],
    ids=[row[0] for row in HOSTILE_URLS if row[0] not in SYNTAX_ONLY],
)
def test_canonicalisation_never_launders_a_hostile_url(failure: str, url: str) -> None:
    """A discovered link is canonicalised before it is fetched: the canonical form is refused too."""
    try:
        canonical = canonicalize(url)
    except ValueError:
        return
    with pytest.raises(BlockedURLError):
        check_url(canonical, NOBODY)


@pytest.mark.parametrize("url", ["http://0xffffffff/", "http://0x7f.1/", "http://3232235777/", "http://[::ffff:7f00:1]/"])
def test_numeric_spellings_read_as_ipv4_are_still_private(url: str) -> None:
    with pytest.raises(BlockedURLError):
        check_url(canonicalize(url), NOBODY)


@pytest.mark.parametrize(
    "url", ["https://www.reuters.com/world/", "http://93.184.216.34/", "http://[2606:4700::1111]/", "HTTPS://TASS.COM"]
)
def test_public_url_passes(url: str) -> None:
    check_url(url, NOBODY)


def test_trusted_origin_may_be_private_but_only_that_origin() -> None:
    policy = AddressPolicy(["http://127.0.0.1:8123/feed.xml"])
    check_url("http://127.0.0.1:8123/article/1", policy)
    with pytest.raises(BlockedURLError):
        check_url("http://127.0.0.1:8124/", policy)
    with pytest.raises(BlockedURLError):
        check_url("https://127.0.0.1:8123/", policy)


def test_allow_private_lets_private_addresses_through_but_not_other_schemes() -> None:
    policy = AddressPolicy(allow_private=True)
    check_url("http://10.1.2.3/", policy)
    with pytest.raises(BlockedURLError):
        check_url("file:///etc/passwd", policy)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2a00:1450:4001:82b::200e", True),
        ("127.0.0.1", False),
        ("100.127.255.255", False),
        ("::", False),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::808:808", True),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),  # Teredo wrapping 127.0.0.1
        ("fe80::1%eth0", False),
        ("fec0::1", False),  # site-local: deprecated, still a site's own network
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


# ---------------------------------------------------------------- through the fetcher


def _fetch(url: str, trusted: list[str], resolver: Any = None, **changes: Any) -> Page:
    async def go() -> Page:
        fetch_settings = FetchSettings(timeout=2.0, delay=0.0, robots=False, **changes)
        extra = {"resolver": resolver} if resolver else {}
        async with Fetcher(fetch_settings, trusted, **extra) as fetcher:
            page = await fetcher.fetch(url)
            assert isinstance(page, Page)
            return page

    return asyncio.run(go())


def test_name_resolving_to_loopback_is_refused_at_connect(local_web: LocalWeb) -> None:
    local_web.route("/", "hello")
    with pytest.raises(BlockedURLError, match="non-public"):
        _fetch(f"http://localhost:{local_web.port}/", [local_web.origin])
    assert local_web.requests == []


def test_redirect_to_another_local_port_is_refused(local_web: LocalWeb) -> None:
    other = LocalWeb()
    try:
        other.route("/", "internal admin")
        local_web.redirect("/go", other.url("/"))
        with pytest.raises(BlockedURLError):
            _fetch(local_web.url("/go"), [local_web.origin])
        assert other.requests == []
    finally:
        other.close()


@pytest.mark.parametrize("location", ["file:///etc/passwd", "gopher://127.0.0.1:70/", "ftp://example.org/"])
def test_redirect_to_a_non_http_scheme_is_refused(local_web: LocalWeb, location: str) -> None:
    local_web.redirect("/go", location)
    with pytest.raises(BlockedURLError, match="scheme"):
        _fetch(local_web.url("/go"), [local_web.origin])


def test_redirect_to_metadata_address_is_refused(local_web: LocalWeb) -> None:
    local_web.redirect("/go", "http://169.254.169.254/latest/meta-data/")
    with pytest.raises(BlockedURLError):
        _fetch(local_web.url("/go"), [local_web.origin])


def test_connection_goes_to_the_checked_address_not_a_second_lookup(local_web: LocalWeb) -> None:
    """DNS rebinding: the name is resolved once, by our resolver, and that address is used.

    ``news.invalid`` does not exist for the system resolver; the fetch can only succeed
    if the connection goes to the address the guarded backend checked.
    """
    local_web.route("/", "via checked address")
    calls: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    origin = f"http://news.invalid:{local_web.port}"
    assert _fetch(origin + "/", [origin], resolver).body == b"via checked address"
    assert calls == ["news.invalid"]
    assert local_web.requests[0].headers["host"] == f"news.invalid:{local_web.port}"


def test_rebinding_to_a_private_address_for_an_untrusted_name_is_refused(local_web: LocalWeb) -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "127.0.0.1"]  # one public answer does not launder a private one

    with pytest.raises(BlockedURLError):
        _fetch(f"http://rebind.invalid:{local_web.port}/", [], resolver)
    assert local_web.requests == []


def test_allow_private_reaches_a_private_address(local_web: LocalWeb) -> None:
    local_web.route("/", "private but allowed")
    assert _fetch(local_web.url("/"), [], allow_private=True).body == b"private but allowed"


def test_unresolvable_name_is_a_fetch_error_not_a_crash() -> None:
    with pytest.raises(FetchError):
        _fetch("http://no-such-host.invalid/", [])
