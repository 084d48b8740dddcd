"""URL canonicalisation and outlet identity.

News sites write their links for browsers, so links are parsed as browsers parse
them: by the WHATWG URL standard, with ada-url. That is what makes ``\\`` a
``/``, ``///example.org/path`` and ``https:example.com/`` links to
example.org and example.com, ``http://0xffffffff`` the IPv4 address
255.255.255.255, and ``faß.example`` the UTS-46 host ``xn--fa-hia.example``
(IDNA 2003 would have made it another domain, ``fass.example``). Tabs and
newlines anywhere and C0 controls and spaces at the ends are dropped, as the
standard says.

A URL seen before must not be fetched again, so every link is then reduced to
one canonical spelling before it is looked up. The rules change only what cannot
change the page a URL names:

* scheme and host are lowercased, the host is IDNA-encoded, a trailing dot and
  the default port are dropped, an IPv6 literal is written in its short form;
* percent-escapes are normalised (unreserved characters decoded, hex digits
  uppercased, characters that must be escaped are escaped as UTF-8);
* ``.`` and ``..`` path segments are resolved and an empty path becomes ``/``;
* the fragment and tracking parameters (``utm_*``, ``fbclid``, ``gclid``, ...)
  are dropped and the remaining query parameters are sorted by name, keeping
  the order of repeated names and their raw spelling (``a``, ``a=``, ``+``).

The result is parsed again and must come back unchanged: whatever leaves
:func:`canonicalize` is a well-formed URL that every later stage reads alike.
URLs with user information are refused: a news link never needs a password and
``http://user@host`` is a classic way to make a link look like another host.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from ada_url import URL, HostType

if TYPE_CHECKING:
    import tldextract

__all__ = ["canonicalize", "is_home", "origin_of", "outlet_of", "same_outlet", "site_of"]

_DEFAULT_PORTS = {"http": 80, "https": 443}

# RFC 9110 (4.1) asks for at least 8,000 octets; a longer link is a hostile one, each stored, fetched and matched
# against robots.txt rules in the monitor's own process.
MAX_URL_LENGTH = 8000

# Parameters that only say how a reader arrived; they never select content.
_TRACKING_NAMES = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid",
        "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id",
        "oly_enc_id", "vero_id", "vero_conv", "__twitter_impression", "s_kwcid", "ef_id",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_",)

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters left as they are in a path; everything else outside _UNRESERVED is escaped.
_PATH_SAFE = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
_QUERY_SAFE = _PATH_SAFE | frozenset("?")
_HEX = frozenset("0123456789abcdefABCDEF")


def canonicalize(url: str, base: str | None = None) -> str:
    """Return the canonical form of ``url`` (resolved against ``base`` if relative).

    Raises ``ValueError``, saying why, for anything that is not a well-formed
    http(s) URL with a host, and for URLs that carry user information.
    """
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"URL longer than {MAX_URL_LENGTH} characters: {url[:80]!r}…")
    parsed = _parse(url, base)
    scheme = parsed.protocol.removesuffix(":")
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"not an http(s) URL: {url!r}")
    if parsed.username or parsed.password:
        raise ValueError(f"URL carries user information: {url!r}")
    host = parsed.hostname.rstrip(".") if parsed.host_type == HostType.DEFAULT else parsed.hostname
    if not host:
        raise ValueError(f"URL has no host: {url!r}")
    netloc = f"{host}:{parsed.port}" if parsed.port else host  # the parser dropped a default port
    path = _normalise_escapes(parsed.pathname, _PATH_SAFE) or "/"
    query = _canonical_query(parsed.search.removeprefix("?"))
    canonical = f"{scheme}://{netloc}{path}{'?' + query if query else ''}"
    if len(canonical) > MAX_URL_LENGTH:  # escaping can lengthen a URL threefold
        raise ValueError(f"URL longer than {MAX_URL_LENGTH} characters once escaped: {url[:80]!r}…")
    if _parse(canonical, None).href != canonical:
        raise ValueError(f"URL does not survive canonicalisation: {url!r}")
    return canonical


def origin_of(url: str) -> str:
    """``scheme://host:port`` with the port always spelled out, for origin comparisons."""
    parsed = _parse(canonicalize(url), None)
    scheme = parsed.protocol.removesuffix(":")
    return f"{scheme}://{parsed.hostname}:{parsed.port or _DEFAULT_PORTS[scheme]}"


def site_of(url: str) -> str:
    """The outlet's host name, lowercased (``www.reuters.com``); no port.

    Raises ``ValueError`` for a URL that does not parse or has no host.
    """
    host = _parse(url, None).hostname.rstrip(".").strip("[]")
    if not host:
        raise ValueError(f"URL has no host: {url!r}")
    return host


def same_outlet(a: str, b: str) -> bool:
    """Whether two URLs belong to one outlet (:func:`outlet_of`): one registrable domain (``www.bbc.co.uk`` ~
    ``news.bbc.co.uk``), or one address and port.

    Used to accept a page's ``rel=canonical`` only when the outlet names itself, not when it claims to be another
    site. An address counts with its port, as it does for the URLs an outlet's sources share: a server on another
    port of the same address is another site, and its page's canonical URL on the first had its text stored, and
    alerted, under that site's URL.
    """
    outlet_a, outlet_b = outlet_of(a), outlet_of(b)
    return bool(outlet_a) and outlet_a == outlet_b


def outlet_of(url: str) -> str:
    """Whose a URL is: its registrable domain (``bbc.co.uk``), or for an address, its origin (two servers on one
    address, on two ports, are two sites). The sources of one outlet share what their links led to."""
    host = site_of(url)
    return origin_of(url) if _is_address(host) else _registrable_domain(host)


def is_home(url: str) -> bool:
    """Whether a canonical URL is a site's home page: its root, without a query."""
    parts = urlsplit(url)
    return parts.path in ("", "/") and not parts.query


def _parse(url: str, base: str | None) -> URL:
    """The WHATWG parse of ``url``; ``ValueError`` with the input when it is not a URL at all."""
    try:
        return URL(url, base) if base is not None else URL(url)
    except ValueError:
        where = f" (against {base!r})" if base is not None else ""
        raise ValueError(f"not a valid URL by the WHATWG standard: {url!r}{where}") from None


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _registrable_domain(host: str) -> str:
    if _is_address(host):
        return host  # an address is its own "domain"
    extracted = _extractor()(host)
    return extracted.top_domain_under_public_suffix or host


@functools.cache
def _extractor() -> tldextract.TLDExtract:
    # The bundled public-suffix snapshot only: nothing may be downloaded at run time. Imported here, at the first
    # registrable domain asked for: with requests it is a tenth of a second of every command's start, and the config
    # (which imports this module) is all that status and search need.
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


def _normalise_escapes(text: str, safe: frozenset[str]) -> str:
    """Decode escaped unreserved characters, uppercase escapes, escape what must be."""
    if safe.issuperset(text):  # nothing escaped, nothing to escape: most links (a set test, in C)
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "%" and i + 2 < len(text) and text[i + 1] in _HEX and text[i + 2] in _HEX:
            decoded = chr(int(text[i + 1 : i + 3], 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + text[i + 1 : i + 3].upper())
            i += 3
            continue
        if char in safe:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        i += 1
    return "".join(out)


def _canonical_query(query: str) -> str:
    kept: list[tuple[str, str]] = []
    for piece in query.split("&"):
        if not piece:
            continue
        piece = _normalise_escapes(piece, _QUERY_SAFE)
        name = unquote(piece.split("=", 1)[0].replace("+", " ")).lower()
        if name in _TRACKING_NAMES or name.startswith(_TRACKING_PREFIXES):
            continue
        kept.append((piece.split("=", 1)[0], piece))
    kept.sort(key=lambda item: item[0])  # stable: repeated names keep their order
    return "&".join(piece for _, piece in kept)
