"""URL canonicalisation and outlet identity.

A URL seen before must not be fetched again, so every link is reduced to one
canonical spelling before it is looked up. The rules (DESIGN.md, "Meanings")
change only what cannot change the page a URL names:

* scheme and host are lowercased, the host is IDNA-encoded, a trailing dot and
  the default port are dropped, an IPv6 literal is written in its short form;
* percent-escapes are normalised (unreserved characters decoded, hex digits
  uppercased, characters that must be escaped are escaped as UTF-8);
* ``.`` and ``..`` path segments are resolved and an empty path becomes ``/``;
* the fragment and tracking parameters (``utm_*``, ``fbclid``, ``gclid``, ...)
  are dropped and the remaining query parameters are sorted by name, keeping
  the order of repeated names and their raw spelling (``a``, ``a=``, ``+``).

URLs with user information are refused: a news link never needs a password and
``http://user@host`` is a classic way to make a link look like another host.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from urllib.parse import unquote, urljoin, urlsplit

import tldextract

__all__ = ["canonicalize", "origin_of", "same_registrable_domain", "site_of"]

_DEFAULT_PORTS = {"http": 80, "https": 443}

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
# WHATWG URL parsing strips these anywhere in the input; feeds contain wrapped URLs.
_STRIPPED = re.compile(r"[\t\n\r]")


def canonicalize(url: str, base: str | None = None) -> str:
    """Return the canonical form of ``url`` (resolved against ``base`` if relative).

    Raises ``ValueError`` for anything that is not a well-formed http(s) URL with
    a host, and for URLs that carry user information.
    """
    url = _STRIPPED.sub("", url).strip(" \x00\x0b\x0c")
    if base is not None:
        url = urljoin(_STRIPPED.sub("", base).strip(), url)
    parts = urlsplit(url)  # raises ValueError on e.g. an unbalanced IPv6 bracket
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"not an http(s) URL: {url!r}")
    if "@" in parts.netloc:
        raise ValueError(f"URL carries user information: {url!r}")
    host = _canonical_host(parts.hostname or "")
    port = parts.port  # raises ValueError when out of range or not a number
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _remove_dot_segments(_normalise_escapes(parts.path, _PATH_SAFE)) or "/"
    query = _canonical_query(parts.query)
    return f"{scheme}://{netloc}{path}{'?' + query if query else ''}"


def origin_of(url: str) -> str:
    """``scheme://host:port`` with the port always spelled out, for origin comparisons."""
    parts = urlsplit(canonicalize(url))
    port = parts.port or _DEFAULT_PORTS[parts.scheme]
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    return f"{parts.scheme}://{host}:{port}"


def site_of(url: str) -> str:
    """The outlet's host name, lowercased (``www.reuters.com``); no port."""
    return _canonical_host(urlsplit(url.strip()).hostname or "").strip("[]")


def same_registrable_domain(a: str, b: str) -> bool:
    """Whether two URLs belong to one registrable domain (``www.bbc.co.uk`` ~ ``news.bbc.co.uk``).

    Used to accept a page's ``rel=canonical`` only when the outlet names itself,
    not when it claims to be another site.
    """
    domain_a, domain_b = _registrable_domain(site_of(a)), _registrable_domain(site_of(b))
    return bool(domain_a) and domain_a == domain_b


def _registrable_domain(host: str) -> str:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return host  # an address is its own "domain"
    extracted = _extractor()(host)
    return extracted.top_domain_under_public_suffix or host


@functools.cache
def _extractor() -> tldextract.TLDExtract:
    # The bundled public-suffix snapshot only: nothing may be downloaded at run time.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


def _canonical_host(host: str) -> str:
    host = host.lower().rstrip(".")
    if not host:
        raise ValueError("URL has no host")
    if ":" in host:  # IPv6 literal (urlsplit already removed the brackets)
        return f"[{ipaddress.IPv6Address(host.split('%', 1)[0]).compressed}]"
    if host.isascii():
        if not re.fullmatch(r"[a-z0-9._~!$&'()*+,;=-]+", host):
            raise ValueError(f"invalid host name: {host!r}")
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"invalid international host name: {host!r}") from exc


def _normalise_escapes(text: str, safe: frozenset[str]) -> str:
    """Decode escaped unreserved characters, uppercase escapes, escape what must be."""
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


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, applied after escapes are normalised (``%2E`` is ``.``)."""
    if "." not in path:
        return path
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    return "/".join(output)


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
