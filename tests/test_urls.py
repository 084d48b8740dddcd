"""URL canonicalisation: property tests with hypothesis, plus examples."""

from __future__ import annotations

import string
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitor.fetch.urls import canonicalize, origin_of, same_outlet, site_of

# Enough examples to find the classic bugs, few enough to keep the suite fast.
property_test = settings(max_examples=50, deadline=None)

TRACKING = ["utm_source", "utm_medium", "utm_campaign", "UTM_Content", "fbclid", "gclid", "mc_cid", "mc_eid"]

labels = st.builds(
    lambda head, middle: head + middle, st.sampled_from(string.ascii_letters + string.digits),
    st.text(string.ascii_letters + string.digits + "-", max_size=6).map(lambda s: s.rstrip("-")),
)
hosts = st.lists(labels, min_size=1, max_size=3).map(".".join).map(lambda h: h + ".com")
segment_text = st.text(st.characters(codec="utf-8", exclude_characters="/\x00"), max_size=8).filter(
    lambda s: s not in (".", "..")
)
segments = st.lists(segment_text, max_size=4)
def _kept(name: str) -> bool:
    """Whether canonicalisation keeps a parameter of this name: a hand list of the tracking names missed some
    (``_HSENC``, ``mkt_tok``), and a run drawing one failed with an IndexError."""
    return "?" in canonicalize(f"http://x.com/?{urlencode([(name, '')])}")


param_names = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=6).filter(_kept)
params = st.lists(st.tuples(param_names, st.text(max_size=6)), max_size=5)
quote_safes = st.sampled_from(["", "/", "~", "!$'()*,;:@", "-._~"])


@st.composite
def urls(draw: st.DrawFn) -> tuple[str, list[str], list[tuple[str, str]]]:
    """A URL plus the path segments and query parameters it stands for."""
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https"]))
    host = draw(hosts)
    port = draw(st.sampled_from(["", ":80", ":443", ":8080"]))
    path_parts = draw(segments)
    safe = draw(quote_safes)
    path = "/" + "/".join(quote(part, safe=safe.replace("/", "")) for part in path_parts)
    query_params = draw(params)
    tracking = draw(st.lists(st.tuples(st.sampled_from(TRACKING), st.text(max_size=4)), max_size=3))
    mixed = draw(st.permutations(query_params + tracking))
    query = urlencode(mixed)
    query_params = [pair for pair in mixed if pair not in tracking]
    fragment = draw(st.sampled_from(["", "#", "#top", "#!/x"]))
    url = f"{scheme}://{host}{port}{path}{'?' + query if query else ''}{fragment}"
    return url, path_parts, query_params


@property_test
@given(urls())
def test_canonicalize_is_idempotent(generated: tuple[str, list[str], list[tuple[str, str]]]) -> None:
    once = canonicalize(generated[0])
    assert canonicalize(once) == once


@given(st.text(max_size=60))
@example("http://a.com/%2e%2E/b/./c/%7Euser?b=&a&&a=2#x")
@example("http://a.com/%zz%/")
def test_canonicalize_arbitrary_text_either_refuses_or_is_stable(text: str) -> None:
    try:
        once = canonicalize("http://example.com/" + text)
    except ValueError:
        return
    assert once.isascii() and " " not in once
    assert canonicalize(once) == once


@property_test
@given(urls())
def test_canonicalize_keeps_the_page_the_url_names(generated: tuple[str, list[str], list[tuple[str, str]]]) -> None:
    """Path and (non-tracking) parameters mean the same after canonicalisation."""
    url, path_parts, query_params = generated
    parts = urlsplit(canonicalize(url))
    assert unquote(parts.path) == "/" + "/".join(path_parts)
    kept = sorted(query_params, key=lambda pair: _sort_key(pair[0]))
    assert parse_qsl(parts.query, keep_blank_values=True) == kept


def _sort_key(name: str) -> str:
    """How the canonical query orders a name: by its normalised escaped form."""
    return canonicalize(f"http://x.com/?{urlencode([(name, '')])}").split("?", 1)[1].split("=", 1)[0]


@property_test
@given(urls())
def test_tracking_parameters_and_fragments_are_removed(generated: tuple[str, list[str], list[tuple[str, str]]]) -> None:
    canonical = canonicalize(generated[0])
    names = {name.lower() for name, _ in parse_qsl(urlsplit(canonical).query, keep_blank_values=True)}
    assert not names & {t.lower() for t in TRACKING}
    assert "#" not in canonical


@property_test
@given(st.lists(st.tuples(param_names, st.text(max_size=4)), max_size=5, unique_by=lambda p: p[0]), st.randoms())
def test_query_order_does_not_matter(pairs: list[tuple[str, str]], random: object) -> None:
    shuffled = list(pairs)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    assert canonicalize("http://a.com/p?" + urlencode(pairs)) == canonicalize("http://a.com/p?" + urlencode(shuffled))


@given(hosts, st.sampled_from([("http", 80), ("https", 443)]))
def test_scheme_host_case_and_default_port_do_not_matter(host: str, scheme_port: tuple[str, int]) -> None:
    scheme, port = scheme_port
    assert canonicalize(f"{scheme.upper()}://{host.upper()}:{port}/a") == f"{scheme}://{host.lower()}/a"


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTP://Example.COM:80/a/./b/../c?utm_source=x&b=2&a=1#frag", "http://example.com/a/c?a=1&b=2"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com:8443/", "https://example.com:8443/"),
        ("https://example.com./x", "https://example.com/x"),
        ("https://example.com/%7euser/%e2%82%ac", "https://example.com/~user/%E2%82%AC"),
        ("https://example.com/a b", "https://example.com/a%20b"),
        ("https://пример.рф/путь", "https://xn--e1afmkfd.xn--p1ai/%D0%BF%D1%83%D1%82%D1%8C"),
        ("https://example.com/?a=2&a=1&b", "https://example.com/?a=2&a=1&b"),
        ("https://example.com/?q=a+b&q2=a%2Bb", "https://example.com/?q=a+b&q2=a%2Bb"),
        ("https://example.com/?fbclid=1&gclid=2&mc_eid=3", "https://example.com/"),
        ("https://[2001:DB8::0001]:443/", "https://[2001:db8::1]/"),
        ("  https://example.com/a\n/b  ", "https://example.com/a/b"),
    ],
)
def test_canonical_examples(url: str, canonical: str) -> None:
    assert canonicalize(url) == canonical


@pytest.mark.parametrize(
    ("url", "base", "canonical"),
    [
        ("../b?x=1", "https://example.com/news/a/", "https://example.com/news/b?x=1"),
        ("//cdn.example.com/x", "https://example.com/", "https://cdn.example.com/x"),
        ("?page=2", "https://example.com/list?page=1", "https://example.com/list?page=2"),
    ],
)
def test_relative_urls_resolve_against_base(url: str, base: str, canonical: str) -> None:
    assert canonicalize(url, base=base) == canonical


@pytest.mark.parametrize(
    "url",
    ["mailto:a@example.com", "javascript:void(0)", "ftp://example.com/", "http://user:pw@example.com/", "http://", "x"],
)
def test_non_http_or_unparseable_urls_raise_value_error(url: str) -> None:
    with pytest.raises(ValueError):
        canonicalize(url)


def test_site_is_the_lowercased_host_name() -> None:
    assert site_of("https://WWW.Reuters.com:443/world/") == "www.reuters.com"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("https://www.bbc.co.uk/news/1", "https://news.bbc.co.uk/2", True),
        ("https://www.reuters.com/a", "https://reuters.com/b", True),
        ("https://bbc.co.uk/", "https://example.co.uk/", False),
        ("https://a.github.io/", "https://b.github.io/", False),  # a private public suffix
        ("http://127.0.0.1:8000/a", "http://127.0.0.1:8000/b", True),
        ("http://127.0.0.1:8000/a", "http://127.0.0.1:9000/b", False),  # an address is a site with its port
        ("http://127.0.0.1/a", "https://127.0.0.1/b", False),
        ("http://[::1]:8000/a", "http://[::1]:8000/b", True),
    ],
)
def test_same_outlet(a: str, b: str, same: bool) -> None:
    assert same_outlet(a, b) is same


def test_origin_spells_out_the_port() -> None:
    assert origin_of("HTTPS://Example.com/x") == "https://example.com:443"


# ---------------------------------------------------------------- as a browser reads links (WHATWG URL standard)
# Each row is what a browser's address bar or link does with a link written that way.

BROWSER_LINKS = [
    # (what browsers do, link, base, canonical)
    ("backslash_is_a_slash", "https://news.example\\world\\story.html", None, "https://news.example/world/story.html"),
    ("relative_backslashes", "..\\sport\\match.html", "https://news.example/world/europe/", "https://news.example/world/sport/match.html"),
    ("extra_slashes_before_the_host", "///agency.example/wire/1", "https://news.example/a/", "https://agency.example/wire/1"),
    ("extra_slashes_after_the_scheme", "https:////agency.example/wire/2", None, "https://agency.example/wire/2"),
    ("scheme_without_slashes", "https:agency.example/wire/3", None, "https://agency.example/wire/3"),
    ("scheme_without_slashes_other_scheme_base", "https:agency.example/x", "http://news.example/a/", "https://agency.example/x"),
    ("scheme_without_slashes_same_scheme_base_is_relative", "https:story.html", "https://news.example/a/", "https://news.example/a/story.html"),
    ("c0_controls_and_spaces_at_the_ends", "\x00\x1f https://news.example/a \x0c\x01", None, "https://news.example/a"),
    ("tabs_and_newlines_anywhere", "https://news.ex\tample/a\r\n/b", None, "https://news.example/a/b"),
    ("hex_ipv4", "http://0xffffffff/", None, "http://255.255.255.255/"),
    ("short_hex_ipv4", "http://0x7f.1/x", None, "http://127.0.0.1/x"),
    ("decimal_ipv4", "http://3232235777/", None, "http://192.168.1.1/"),
    ("uts46_keeps_sharp_s", "https://faß.example/", None, "https://xn--fa-hia.example/"),
    ("uts46_folds_fullwidth_letters", "https://ｎｅｗｓ.example/", None, "https://news.example/"),
    ("uts46_lowercases_unicode", "https://ПРИМЕР.рф/", None, "https://xn--e1afmkfd.xn--p1ai/"),
    ("percent_encoded_host", "https://news%2Eexample/a", None, "https://news.example/a"),
    ("encoded_dot_segments", "https://news.example/a/%2e%2E/b/%2E/c", None, "https://news.example/b/c"),
    ("empty_port", "https://news.example:/a", None, "https://news.example/a"),
    ("empty_userinfo_is_nothing", "https://@news.example/a", None, "https://news.example/a"),
]


@pytest.mark.parametrize(("behaviour", "link", "base", "canonical"), BROWSER_LINKS, ids=[r[0] for r in BROWSER_LINKS])
def test_links_are_read_as_browsers_read_them(behaviour: str, link: str, base: str | None, canonical: str) -> None:
    assert canonicalize(link, base=base) == canonical


NOT_URLS = [
    # (why a browser refuses it, link)
    ("fullwidth_backslash_maps_to_a_forbidden_host_character", "https://evil.com＼.example.com"),
    ("space_in_the_host", "https://news example/"),
    ("five_numeric_labels", "http://1.2.3.4.5/"),
    ("last_label_numeric_but_not_ipv4", "http://news.09/"),
    ("ipv4_part_too_large", "http://256.256.256.256.256/"),
    ("unclosed_ipv6_bracket", "http://[::1/"),
    ("port_out_of_range", "https://news.example:65536/"),
    ("port_not_a_number", "https://news.example:80a/"),
    ("nothing_after_the_scheme", "https://"),
]


@pytest.mark.parametrize(("reason", "link"), NOT_URLS, ids=[r[0] for r in NOT_URLS])
def test_what_a_browser_refuses_is_refused_with_a_reason(reason: str, link: str) -> None:
    with pytest.raises(ValueError, match="not a valid URL"):
        canonicalize(link)


def test_a_link_longer_than_8000_characters_is_refused() -> None:
    """A feed may carry five links of a megabyte each: each would be fetched, stored and matched against robots.txt in
    the monitor's own process. RFC 9110 asks for 8,000 octets; a link whose escaping takes it past them counts too."""
    assert canonicalize("https://news.example/" + "a" * 7979) == "https://news.example/" + "a" * 7979
    with pytest.raises(ValueError, match="longer than 8000 characters"):
        canonicalize("https://news.example/" + "a" * 1_000_000)
    with pytest.raises(ValueError, match="longer than 8000 characters once escaped"):
        canonicalize("https://news.example/" + "é" * 2000)


def test_a_trailing_dot_is_dropped_and_the_result_still_parses() -> None:
    assert canonicalize("https://news.example./a") == "https://news.example/a"
    assert site_of("https://news.example./a") == "news.example"


def test_site_of_refuses_what_is_not_a_url_instead_of_returning_it() -> None:
    with pytest.raises(ValueError):
        site_of("https://evil.com＼.example.com")


@given(st.text(max_size=40), st.sampled_from(["", "https://news.example/a/", "http://[2001:db8::1]:8080/x?y"]))
@example("\\\\evil.com＼.x", "https://news.example/a/")
@example("https:\\\\0x7f.1\\a", "")
def test_whatever_canonicalize_returns_every_later_stage_can_read(text: str, base: str) -> None:
    """The output re-parses to itself and has a site: an invalid link never gets past this function."""
    try:
        canonical = canonicalize(text, base=base or None)
    except ValueError:
        return
    assert canonicalize(canonical) == canonical
    assert site_of(canonical)
    assert origin_of(canonical).startswith(("http://", "https://"))
