"""Discovery: feeds (golden files), sitemaps and listing pages, and one check end to end on 127.0.0.1."""

from __future__ import annotations

import asyncio
import codecs
import gzip
import json
import logging
import time
import warnings
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.httpserver import LocalWeb

from monitor.config import FetchSettings, LimitsSettings, Settings, SourceSettings
from monitor.errors import FetchError, HTTPStatusError, RobotsUnreachableError, UnsupportedContentError
from monitor.fetch.client import Fetcher
from monitor.models import Discovery, Page
from monitor.sources import discover
from monitor.sources.feeds import feed_links, is_feed_document
from monitor.sources.links import LINK_COST, link_size
from monitor.sources.pages import page_links
from monitor.sources import sitemaps
from monitor.sources.sitemaps import MAX_NAMED, choose_sitemaps, read_sitemap
from monitor.workers import Workers

FEEDS = Path(__file__).parent / "data" / "feeds"
ONE_WORKER = Settings(limits=LimitsSettings(workers=1))  # discovery parses in a worker, as the daemon's does


def page(body: bytes | str, url: str = "https://example.org/feed", content_type: str = "application/xml") -> Page:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return Page(url=url, requested_url=url, status=200, content_type=content_type, body=data)


def check(web: LocalWeb, source: SourceSettings, settings: Settings = ONE_WORKER, **validators: Any) -> Discovery:
    """One discovery of ``source`` with a fresh fetcher that trusts the local site."""

    async def go() -> Discovery:
        fetch_settings = FetchSettings(timeout=2.0, delay=0.0, robots=False)
        async with Fetcher(fetch_settings, [web.origin]) as fetcher, Workers(settings) as workers:
            values = {"etag": None, "last_modified": None, "body_hash": None, **validators}
            return await discover(source, fetcher, workers, **values)

    return asyncio.run(go())


def title_bomb(size: int) -> str:
    """Markup whose parse grows with the square of its size: formatting elements left open, rebuilt at each paragraph."""
    opened = "<div>" + "".join(f"<b id={n}>" for n in range(size // 20)) + "</div>"
    return opened + "<p>x</p>" * ((size - len(opened)) // 8)


def test_one_items_title_of_quadratic_markup_costs_neither_the_feed_nor_its_worker(local_web: LocalWeb) -> None:
    """A feed's item title (HTML in an Atom ``type="html"`` title, or escaped in RSS, as an aggregator's feed carries
    whatever its submitters wrote) of 20 KB of open formatting elements took the parsing worker past 500 MB: the
    feed failed at every check ("page exceeded 256 MB while parsing"), its other items lost with it. A title's
    markup is read up to 4,000 characters."""
    bomb = title_bomb(20_000).replace("<", "&lt;").replace(">", "&gt;")
    items = f"<item><title>{bomb}</title><link>{local_web.url('/a/1')}</link></item>" + "".join(
        f"<item><title>Envoys return {n}</title><link>{local_web.url(f'/a/{n}')}</link></item>" for n in range(2, 5))
    local_web.route("/feed.xml", f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>',
                    content_type="application/rss+xml")
    settings = Settings(limits=LimitsSettings(workers=1, memory_mb=256, cpu_seconds=5))
    started = time.monotonic()
    discovery = check(local_web, SourceSettings(name="s", kind="feed", url=local_web.url("/feed.xml")), settings)
    assert [link.url.rsplit("/", 1)[1] for link in discovery.links] == ["1", "2", "3", "4"]
    assert len(discovery.links[0].title or "") <= 500
    assert time.monotonic() - started < 30


# ---------------------------------------------------------------- feeds: golden files


@pytest.mark.parametrize("name", sorted(p.name for p in FEEDS.iterdir() if ".expected." not in p.name))
def test_feed_golden_file(name: str) -> None:
    path = FEEDS / name
    content_type = "application/feed+json" if name.endswith(".json") else "application/xml"
    links = feed_links(page(path.read_bytes(), content_type=content_type))
    expected = json.loads(path.with_name(path.stem + ".expected.json").read_text(encoding="utf-8"))
    actual = [[link.url, link.title, link.published.isoformat() if link.published else None] for link in links]
    assert actual == expected
    assert all(link.published is None or link.published.tzinfo is not None for link in links)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>https://example.org/a</link></item></channel></rss>"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><item><title>&xxe;</title><link>https://example.org/a</link></item></channel></rss>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, XXE], ids=["billion_laughs", "external_entity"])
def test_feed_declaring_entities_is_rejected_quickly(body: str) -> None:
    started = time.monotonic()
    with pytest.raises(UnsupportedContentError, match="entity"):
        feed_links(page(body))
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize("charset", ["shift_jis", "euc-jp", "gbk", "big5", "euc-kr"])
def test_a_feed_or_sitemap_in_a_multi_byte_charset_is_read(charset: str) -> None:
    """expat decodes no multi-byte charset but UTF-8 and UTF-16: a feed declared in one failed every check."""
    feed = f"""<?xml version="1.0" encoding="{charset}"?><rss version="2.0"><channel><title>t</title>
<item><title>大使</title><link>https://example.org/大使</link></item></channel></rss>"""
    [link] = feed_links(page(feed.encode(charset)))
    assert (link.url, link.title) == ("https://example.org/%E5%A4%A7%E4%BD%BF", "大使")
    sitemap = f"""<?xml version="1.0" encoding="{charset}"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://example.org/大使</loc></url></urlset>"""
    assert [link.url for link in read_sitemap(page(sitemap.encode(charset)), 10**6).links.links] == [link.url]


@pytest.mark.parametrize("charset", ["x-mac-roman", "x-user-defined", "rot13", "no-such-charset"])
def test_a_feed_or_sitemap_declared_in_an_encoding_no_codec_reads_is_read(charset: str) -> None:
    """expat looks a declared encoding up among Python's codecs: a name none knows failed the source's every check."""
    feed = f"""<?xml version="1.0" encoding="{charset}"?><rss version="2.0"><channel><title>t</title>
<item><title>Envoy</title><link>https://example.org/envoy</link></item></channel></rss>"""
    assert [link.url for link in feed_links(page(feed.encode()))] == ["https://example.org/envoy"]
    sitemap = f"""<?xml version="1.0" encoding="{charset}"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://example.org/envoy</loc></url></urlset>"""
    assert [link.url for link in read_sitemap(page(sitemap.encode()), 10**6).links.links] == ["https://example.org/envoy"]


def test_a_declaration_naming_an_encoding_the_body_is_not_in_is_refused() -> None:
    """UTF-16 without a byte-order mark declaring UTF-32: expat cannot read it either way, and says so."""
    feed = '<?xml version="1.0" encoding="utf-32"?><rss version="2.0"><channel></channel></rss>'
    with pytest.raises(UnsupportedContentError, match="encoding"):
        feed_links(page(feed.encode("utf-16-le")))


@pytest.mark.parametrize("charset", ["euc-jp", "utf-7"])
def test_entities_in_a_charset_expat_cannot_read_are_refused(charset: str) -> None:
    """The prolog of a document expat cannot decode is checked as decoded here, and the parser reads that text: a
    charset it would read otherwise (UTF-7's "+ADw-" is "<") cannot hide a DOCTYPE from the check."""
    hidden = '+ADw-!DOCTYPE rss +AFs-+ADw-!ENTITY a "aaaa"+AD4-+AF0-+AD4-' if charset == "utf-7" else ""
    shown = '<!DOCTYPE rss [<!ENTITY a "aaaa">]>' if not hidden else ""
    feed = f"""<?xml version="1.0" encoding="{charset}"?>{hidden}{shown}<rss version="2.0"><channel>
<item><title>&a;</title><link>https://example.org/a</link></item></channel></rss>"""
    for content_type in ("application/rss+xml", f"application/rss+xml; charset={charset}"):
        with pytest.raises(UnsupportedContentError):
            feed_links(page(feed.encode("ascii"), content_type=content_type))


@pytest.mark.parametrize("reference", ["&#xD800;", "&#55357;&#56832;", "&#99999999999999999999;", "&#x110000;"])
def test_a_character_reference_to_no_character_costs_its_item_a_replacement_character(reference: str) -> None:
    """feedparser's lenient parser raised on them (UnicodeEncodeError, OverflowError): one such item failed the
    whole feed at every check."""
    feed = f"""<rss version="2.0"><channel><title>t</title><item><title>Envoys {reference}</title>
<link>https://example.org/a</link></item><item><title>Talks</title><link>https://example.org/b</link></item>
</channel></rss>"""
    links = feed_links(page(feed))
    assert [link.url for link in links] == ["https://example.org/a", "https://example.org/b"]
    assert links[0].title is not None and links[0].title.startswith("Envoys \ufffd")


@pytest.mark.parametrize(
    "prolog",
    ["<!-- a -->" * 400 + "<!--", '<!DOCTYPE x [ ]>' * 250 + "<!DOCTYPE", "<!-- a -->" * 450],
    ids=["comments_then_one_unclosed", "doctypes_then_one_unclosed", "comments_past_the_sniffed_head"],
)
def test_a_prolog_of_many_comments_is_read_in_linear_time(prolog: str) -> None:
    """A comment could be read as ending at any later "-->" (or a DOCTYPE's subset at any later "]"): a head of
    comments with no root element in its first 4 KB (a long licence, or a hostile feed) took the regex
    exponential time, and a parsing worker's CPU limit at every check."""
    body = f'<?xml version="1.0"?>{prolog}<rss version="2.0"><channel><item><link>https://example.org/a</link>' \
           "</item></channel></rss>"
    started = time.process_time()
    assert not is_feed_document(body[:4000].encode())
    try:
        feed_links(page(body))
    except UnsupportedContentError:
        pass  # ill-formed: what matters is how soon that is known
    assert time.process_time() - started < 1.0


def test_feed_body_that_looks_like_a_path_is_not_opened() -> None:
    """feedparser opens a str/bytes path; the body must reach it as a stream."""
    with pytest.raises(UnsupportedContentError):
        feed_links(page(b"/etc/passwd", content_type="text/plain"))


@pytest.mark.parametrize(
    "body",
    ["<html><body><p>Consent required</p></body></html>", "", "\x00\x01 not xml", '{"version": "1"}', "{broken json"],
)
def test_body_that_is_not_a_feed_is_unsupported_content(body: str) -> None:
    with pytest.raises(UnsupportedContentError):
        feed_links(page(body))


def test_large_html_page_configured_as_a_feed_is_rejected_quickly() -> None:
    html = "<!-- cms -->\n<!DOCTYPE html><html><body>" + "<p>text <a href='/a'>a</a></p>" * 50_000 + "</body></html>"
    started = time.monotonic()
    with pytest.raises(UnsupportedContentError, match="HTML"):
        feed_links(page(html, content_type="text/html"))
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize(
    "body",
    [
        '<!DOCTYPE html>\n<meta charset="utf-8"><title>Consent</title><p>Accept cookies',  # no <html> tag: HTML5 allows it
        '<?xml version="1.0"?><!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "x.dtd"><html><body/></html>',
        "\ufeff<!-- a --><HTML lang=en><p>x</p></HTML>",
    ],
    ids=["html5_without_html_tag", "xhtml_page", "bom_comment_uppercase"],
)
def test_web_pages_are_refused_by_their_root_element(body: str) -> None:
    with pytest.raises(UnsupportedContentError, match="HTML"):
        feed_links(page(body))


@pytest.mark.parametrize("space", ["\n", "&#32;", "\u00a0\n", "&#160;", "<!---->\n", "<![CDATA[ ]]>\n", "&#x2003;"],
                         ids=["line-breaks", "references", "no-break-spaces", "no-break-references", "comments",
                              "empty-cdata", "em-spaces"])
def test_an_atom_title_opening_with_a_flood_of_white_space_is_read_in_a_moment(space: str) -> None:
    """feedparser drops an XHTML title's opening white space a piece at a time from the front of a list, each line or
    reference a piece: a title opening with 400,000 line breaks took 8 s of a worker's CPU, 200,000 no-break spaces or
    empty comments as long."""
    title = f'<title type="xhtml">{space * 200_000}<div xmlns="http://www.w3.org/1999/xhtml">Envoy returns</div></title>'
    body = ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
            f'<entry>{title}<id>urn:e</id><link href="https://example.org/envoy"/></entry></feed>')
    started = time.monotonic()
    (link,) = feed_links(page(body))
    assert time.monotonic() - started < 2.0  # a few hundredths; 2 to 9 s before
    assert (link.url, link.title) == ("https://example.org/envoy", "Envoy returns")


def test_a_listing_page_nested_too_deep_is_refused_in_a_moment() -> None:
    """A listing page was parsed with no nesting guard: its parse, and each selected element's search for a link,
    took the square of the depth (a page of 0.32 MB, 5.7 s)."""
    body = "<html><body>" + "<div>" * 40_000 + '<a href="/a/1">story</a></body></html>'
    started = time.monotonic()
    with pytest.raises(UnsupportedContentError, match="nested deeper than 15,000 levels"):
        page_links(page(body, content_type="text/html"), "a[href]")
    assert time.monotonic() - started < 1.0


def test_truncated_feed_keeps_the_entries_that_parsed() -> None:
    body = '<rss version="2.0"><channel><item><title>A</title><link>https://example.org/a</link></item><item><ti'
    assert [link.url for link in feed_links(page(body))] == ["https://example.org/a"]


# ---------------------------------------------------------------- listing pages


def test_listing_page_selector_on_headline_picks_its_link() -> None:
    html = """<html><head><base href="https://example.org/news/"></head><body>
        <h3><span>x</span><a href="a.html">Envoy   <b>expelled</b></a></h3>
        <h3><a href="javascript:void(0)">menu</a></h3>
        <h3>no link</h3>
        <h3><a href="//cdn.example.org/b?utm_campaign=x">B</a></h3></body></html>"""
    links = page_links(page(html, url="https://example.org/", content_type="text/html"), "h3")
    assert [(link.url, link.title) for link in links] == [
        ("https://example.org/news/a.html", "Envoy expelled"),
        ("https://cdn.example.org/b", "B"),
    ]


def test_listing_page_without_base_resolves_against_the_page_url(local_web: LocalWeb) -> None:
    local_web.route("/section/list", '<a href="../2024/05/a">A</a><a href="/video/1">V</a><a href="b">B</a>')
    source = SourceSettings(
        name="p", kind="page", url=local_web.url("/section/list"), links="a", include="/20[0-9]{2}/|/b$"
    )
    found = check(local_web, source)
    assert [link.url for link in found.links] == [local_web.url("/2024/05/a"), local_web.url("/section/b")]


def test_listing_page_links_are_resolved_as_a_browser_does(caplog: pytest.LogCaptureFixture) -> None:
    """Backslashes in <base href> and links are slashes; a link no browser can follow is dropped, saying why."""
    html = """<html><head><base href="\\news\\world\\"></head><body>
        <a href="2024\\05\\envoy.html">Envoy</a>
        <a href="https://evil.com\uff3c.example.com/x">Disguised host</a>
        <a href="http:wire.example/1">Wire</a></body></html>"""
    with caplog.at_level(logging.DEBUG, logger="monitor.sources.links"):
        links = page_links(page(html, url="https://example.org/front", content_type="text/html"), "a")
    assert [link.url for link in links] == [
        "https://example.org/news/world/2024/05/envoy.html",
        "http://wire.example/1",  # another scheme than the page's: an absolute URL
    ]
    assert "not a valid URL" in caplog.text and "evil.com" in caplog.text


# ---------------------------------------------------------------- sitemaps

URLSET = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"
        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
  <url>
    <loc>{origin}/2024/05/06/envoy</loc>
    <image:image><image:loc>{origin}/img/1.jpg</image:loc></image:image>
    <news:news>
      <news:publication><news:name>Example</news:name><news:language>en</news:language></news:publication>
      <news:publication_date>2024-05-06T10:00:00+03:00</news:publication_date>
      <news:title>Envoy summoned</news:title>
    </news:news>
  </url>
  <url><loc>{origin}/2024/05/05/other</loc><lastmod>2024-05-05</lastmod></url>
  <url><loc>{origin}/video/7</loc></url>
</urlset>"""


def _index(*children: tuple[str, str | None]) -> str:
    entries = "".join(
        f"<sitemap><loc>{loc}</loc>{f'<lastmod>{lastmod}</lastmod>' if lastmod else ''}</sitemap>"
        for loc, lastmod in children
    )
    return f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>'


def _urlset(*locs: str) -> str:
    return "<urlset>" + "".join(f"<url><loc>{loc}</loc></url>" for loc in locs) + "</urlset>"


def test_news_sitemap_gives_titles_and_publication_dates(local_web: LocalWeb) -> None:
    local_web.route("/news.xml", URLSET.format(origin=local_web.origin), content_type="application/xml")
    source = SourceSettings(name="s", kind="sitemap", url=local_web.url("/news.xml"), exclude="/video/")
    found = check(local_web, source)
    assert [(link.url, link.title, link.published) for link in found.links] == [
        (local_web.url("/2024/05/06/envoy"), "Envoy summoned", datetime(2024, 5, 6, 7, tzinfo=UTC)),
        (local_web.url("/2024/05/05/other"), None, None),
    ]


def test_sitemap_index_follows_newest_children_including_gzip(local_web: LocalWeb) -> None:
    local_web.route(
        "/index.xml",
        _index(("/old.xml", "2020-01-01"), ("/new.xml.gz", "2024-05-06T00:00:00Z"), ("/mid.xml", "2023-01-01")),
        content_type="text/xml",
    )
    local_web.route("/new.xml.gz", gzip.compress(_urlset("/n1", "/n2").encode()), content_type="application/x-gzip")
    local_web.route("/mid.xml", _urlset("/m1", "/n1"), content_type="text/xml")
    local_web.route("/old.xml", _urlset("/o1"), content_type="text/xml")
    found = check(local_web, SourceSettings(name="s", kind="sitemap", url=local_web.url("/index.xml")))
    assert [link.url for link in found.links] == [local_web.url(p) for p in ("/n1", "/n2", "/m1", "/o1")]


def test_sitemap_index_children_are_bounded_in_number_and_depth(local_web: LocalWeb) -> None:
    children = [(f"/child{i}.xml", f"2024-01-{i + 1:02d}") for i in range(15)]
    local_web.route("/index.xml", _index(*children))
    for i in range(15):
        local_web.route(f"/child{i}.xml", _index((f"/grandchild{i}.xml", None)))
        local_web.route(f"/grandchild{i}.xml", _index((f"/too-deep{i}.xml", None)))
    found = check(local_web, SourceSettings(name="s", kind="sitemap", url=local_web.url("/index.xml")))
    assert found.links == []
    fetched = {request.path for request in local_web.requests}
    assert len([p for p in fetched if p.startswith("/child")]) == 10
    assert "/child14.xml" in fetched and "/child0.xml" not in fetched  # newest first
    assert not [p for p in fetched if p.startswith("/too-deep")]


def test_a_sitemap_tree_is_read_until_it_gave_enough_links(local_web: LocalWeb, monkeypatch: pytest.MonkeyPatch) -> None:
    """The links are held in the monitor's process: an index of full sitemaps (50,000 links each, 33 within the byte
    budget) took it past 500 MB. Reading stops at the cap, newest child first."""
    monkeypatch.setattr(sitemaps, "MAX_LINKS", 3)
    local_web.route("/index.xml", _index(("/a.xml", "2024-05-03"), ("/b.xml", "2024-05-02"), ("/c.xml", "2024-05-01")))
    for name in "abc":
        local_web.route(f"/{name}.xml", _urlset(f"/{name}1", f"/{name}2"))
    found = check(local_web, SourceSettings(name="s", kind="sitemap", url=local_web.url("/index.xml")))
    assert [link.url for link in found.links] == [local_web.url(p) for p in ("/a1", "/a2", "/b1")]
    assert "/c.xml" not in {request.path for request in local_web.requests}


LINK_BYTES = 1_000_000
LINK_BUDGET = Settings(limits=LimitsSettings(workers=1, link_bytes=LINK_BYTES))


def assert_within_link_bytes(found: Discovery, biggest: int) -> None:
    """The links gathered fill the budget, and no more."""
    assert LINK_BYTES - biggest < sum(map(link_size, found.links)) <= LINK_BYTES


def test_a_sitemap_trees_long_links_are_gathered_within_the_checks_link_bytes(local_web: LocalWeb) -> None:
    """The links are held in the monitor's process: an index of 10 sitemaps at 7,900-character URLs, each listing
    5,000 relative ``?N`` (each link as long), took it to 487 MB with the sitemap byte budget untouched. The links
    are cut in the worker at ``limits.link_bytes``, and the children after it are not read."""
    folder = "/" + "c" * (4000 - len(local_web.origin))
    local_web.route("/index.xml", _index(*((f"{folder}/s{k}.xml", None) for k in range(10))))
    for k in range(10):
        local_web.route(f"{folder}/s{k}.xml", _urlset(*(f"?{k}x{i}" for i in range(300))))
    found = check(local_web, SourceSettings(name="s", kind="sitemap", url=local_web.url("/index.xml")), LINK_BUDGET)
    assert_within_link_bytes(found, LINK_COST + 4020)
    assert len(found.links) < 300  # of 3,000
    assert len([r for r in local_web.requests if r.path.startswith(folder)]) == 1


@pytest.mark.parametrize("kind", ["feed", "page"])
def test_a_feeds_or_listings_links_are_gathered_within_the_checks_link_bytes(local_web: LocalWeb, kind: str) -> None:
    """A JSON Feed of 350,000 tiny items, or a listing whose 7,900-character ``<base href>`` makes each tiny link
    that long: the worker's answer crossed to the monitor's process whole. A link is charged its characters and
    ``LINK_COST``, for the many tiny ones."""
    if kind == "feed":
        items = [{"url": f"/{n}"} for n in range(20_000)]
        body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": items})
        local_web.route("/source", body, content_type="application/feed+json")
        total, biggest = len(items), LINK_COST + 40
    else:
        base = local_web.url("/" + "b" * 4000)
        anchors = "".join(f'<a href="?{n}">{n}</a>' for n in range(1000))
        local_web.route("/source", f'<html><head><base href="{base}"></head><body>{anchors}</body></html>')
        total, biggest = 1000, LINK_COST + 4020
    source = SourceSettings(name="s", kind=kind, url=local_web.url("/source"), links="a" if kind == "page" else None)
    found = check(local_web, source, LINK_BUDGET)
    assert_within_link_bytes(found, biggest)
    assert len(found.links) < total


def test_failing_child_sitemap_is_skipped_while_a_sibling_works(local_web: LocalWeb) -> None:
    local_web.route("/index.xml", _index(("/gone.xml", None), ("/ok.xml", None)))
    local_web.route("/ok.xml", _urlset("/a"))
    found = check(local_web, SourceSettings(name="s", kind="sitemap", url=local_web.url("/index.xml")))
    assert [link.url for link in found.links] == [local_web.url("/a")]


def test_sitemap_index_whose_children_all_fail_is_an_error(local_web: LocalWeb) -> None:
    local_web.route("/index.xml", _index(("/gone.xml", None)))
    with pytest.raises(HTTPStatusError):
        check(local_web, SourceSettings(name="s", kind="sitemap", url=local_web.url("/index.xml")))


def test_sitemap_with_an_unescaped_ampersand_is_read_leniently(local_web: LocalWeb) -> None:
    local_web.route("/s.xml", "<urlset><url><loc>/a?x=1&y=2</loc></url><url><loc>/b</loc></url></urlset>")
    found = check(local_web, SourceSettings(name="s", kind="sitemap", url=local_web.url("/s.xml")))
    assert [link.url for link in found.links] == [local_web.url("/a?x=1&y=2"), local_web.url("/b")]


def test_an_ill_formed_sitemap_of_unclosed_locs_is_read_in_linear_time() -> None:
    """Each unclosed <loc> was read to the body's end: a 2 MB sitemap of them took hours, a worker's CPU limit."""
    body = '<urlset><url><loc> https://example.org/a </loc></url><url><loc>https://example.org/b&c</loc>' \
        + "<loc>" * 400_000
    started = time.process_time()
    read = sitemaps.read_sitemap(page(body), 10**6)
    assert time.process_time() - started < 2.0
    assert [link.url for link in read.links.links] == ["https://example.org/a", "https://example.org/b&c"]


@pytest.mark.parametrize(
    "body",
    ["<html><p>not a sitemap</p></html>", "<opml version='2.0'/>", BILLION_LAUGHS, "{\"links\": []}\n", "just words"],
)
def test_document_that_is_not_a_sitemap_is_unsupported_content(local_web: LocalWeb, body: str) -> None:
    local_web.route("/s.xml", body, content_type="text/xml")
    with pytest.raises(UnsupportedContentError):
        check(local_web, SourceSettings(name="s", kind="sitemap", url=local_web.url("/s.xml")))


def test_plain_text_sitemap_is_read_line_by_line(local_web: LocalWeb) -> None:
    """Full URLs only, as the protocol says: a relative line or a stray word is not a link."""
    text = f"\ufeff{local_web.origin}/2024/05/a\r\n\n  {local_web.origin}/2024/05/b?utm_medium=x  \nnot a url\n/2024/05/c\n"
    local_web.route("/sitemap.txt", text, content_type="text/plain; charset=utf-8")
    found = check(local_web, SourceSettings(name="s", kind="sitemap", url=local_web.url("/sitemap.txt")))
    assert [link.url for link in found.links] == [local_web.url("/2024/05/a"), local_web.url("/2024/05/b")]


@pytest.mark.parametrize("feed", ["rss20.xml", "atom.xml"])
def test_rss_or_atom_served_as_a_sitemap_is_read_as_a_feed(local_web: LocalWeb, feed: str) -> None:
    body = (FEEDS / feed).read_bytes()
    local_web.route("/sitemap.xml", body, content_type="application/xml")
    found = check(local_web, SourceSettings(name="s", kind="sitemap", url=local_web.url("/sitemap.xml")))
    as_feed = feed_links(page(body, url=local_web.url("/sitemap.xml")))
    assert [link.url for link in found.links] == list(dict.fromkeys(link.url for link in as_feed))
    assert len(found.links) >= 2 and all(link.title for link in found.links)


def test_sitemap_index_may_list_a_text_sitemap_and_a_feed(local_web: LocalWeb) -> None:
    local_web.route("/index.xml", _index(("/latest.txt", "2024-05-06"), ("/feed.rss", "2024-05-05")))
    local_web.route("/latest.txt", f"{local_web.origin}/t/1\n", content_type="text/plain")
    local_web.route("/feed.rss", f"<rss version='2.0'><channel><item><link>{local_web.origin}/f/1</link></item></channel></rss>")
    found = check(local_web, SourceSettings(name="s", kind="sitemap", url=local_web.url("/index.xml")))
    assert [link.url for link in found.links] == [local_web.url("/t/1"), local_web.url("/f/1")]


def test_sitemap_index_is_changed_when_only_a_child_changed(local_web: LocalWeb) -> None:
    local_web.route("/index.xml", _index(("/child.xml", None)))
    local_web.route("/child.xml", _urlset("/a"))
    source = SourceSettings(name="s", kind="sitemap", url=local_web.url("/index.xml"))
    first = check(local_web, source)
    assert check(local_web, source, body_hash=first.body_hash).not_modified
    local_web.route("/child.xml", _urlset("/a", "/b"))
    second = check(local_web, source, body_hash=first.body_hash)
    assert not second.not_modified and len(second.links) == 2


# ---------------------------------------------------------------- sites: sitemaps from robots.txt


def test_site_reads_its_news_sitemap_named_in_robots_txt(local_web: LocalWeb) -> None:
    local_web.route(
        "/robots.txt",
        "User-agent: *\nDisallow: /search\n"
        "Sitemap: /sitemaps/archive-index.xml\n"
        f"Sitemap: {local_web.origin}/sitemaps/news.xml\n"
        "Sitemap: http://[::1\n",
        content_type="text/plain",
    )
    local_web.route("/sitemaps/news.xml", URLSET.format(origin=local_web.origin), content_type="application/xml")
    local_web.route("/sitemaps/archive-index.xml", _index(("/sitemaps/2009.xml", None)))
    found = check(local_web, SourceSettings(name="s", kind="site", url=local_web.url("/")))
    assert [link.url for link in found.links][:2] == [local_web.url("/2024/05/06/envoy"), local_web.url("/2024/05/05/other")]
    assert found.links[0].title == "Envoy summoned"
    paths = [request.path for request in local_web.requests]
    assert paths == ["/robots.txt", "/sitemaps/news.xml"]  # neither the home page nor the archive


def test_site_without_a_news_sitemap_reads_every_sitemap_named(local_web: LocalWeb) -> None:
    local_web.route("/robots.txt", "Sitemap: /a.xml\nSitemap: /b.txt\nSitemap: /a.xml\n", content_type="text/plain")
    local_web.route("/a.xml", _urlset("/x"))
    local_web.route("/b.txt", f"{local_web.origin}/y\n", content_type="text/plain")
    found = check(local_web, SourceSettings(name="s", kind="site", url=local_web.url("/")))
    assert sorted(link.url for link in found.links) == [local_web.url("/x"), local_web.url("/y")]
    assert sorted(request.path for request in local_web.requests) == ["/a.xml", "/b.txt", "/robots.txt"]


def test_site_whose_robots_txt_names_no_sitemap_gets_the_conventional_one(local_web: LocalWeb) -> None:
    local_web.route("/sitemap.xml", _urlset("/z"))  # and /robots.txt answers 404
    found = check(local_web, SourceSettings(name="s", kind="site", url=local_web.url("/section/")))
    assert [link.url for link in found.links] == [local_web.url("/z")]


def test_site_whose_robots_txt_cannot_be_read_fails_the_check(local_web: LocalWeb) -> None:
    local_web.route("/robots.txt", "down", status=503)
    with pytest.raises(RobotsUnreachableError, match="robots.txt could not be read"):
        check(local_web, SourceSettings(name="s", kind="site", url=local_web.url("/")))


def test_site_check_is_unchanged_when_its_sitemaps_are(local_web: LocalWeb) -> None:
    local_web.route("/robots.txt", "Sitemap: /news.xml\n", content_type="text/plain")
    local_web.route("/news.xml", _urlset("/n/1"))
    source = SourceSettings(name="s", kind="site", url=local_web.url("/"))
    first = check(local_web, source)
    assert check(local_web, source, body_hash=first.body_hash).not_modified
    local_web.route("/news.xml", _urlset("/n/1", "/n/2"))
    assert len(check(local_web, source, body_hash=first.body_hash).links) == 2


def test_obeying_robots_txt_the_site_check_reads_it_once(local_web: LocalWeb) -> None:
    local_web.route("/robots.txt", "User-agent: *\nDisallow: /private/\nSitemap: /news.xml\n", content_type="text/plain")
    local_web.route("/news.xml", _urlset("/n/1", "/private/2"))

    async def go() -> Discovery:
        async with Fetcher(FetchSettings(timeout=2.0, delay=0.0), [local_web.origin]) as fetcher, \
                Workers(ONE_WORKER) as workers:
            source = SourceSettings(name="s", kind="site", url=local_web.url("/"))
            return await discover(source, fetcher, workers, etag=None, last_modified=None, body_hash=None)

    found = asyncio.run(go())
    assert len(found.links) == 2  # discovery lists them; the article fetch is what robots.txt refuses
    assert [request.path for request in local_web.requests].count("/robots.txt") == 1


@pytest.mark.parametrize(
    ("named", "chosen"),
    [
        (["/sitemap_index.xml", "/sitemap-news.xml", "https://cdn.example/News/Google.xml"],
         ["https://example.org/sitemap-news.xml", "https://cdn.example/News/Google.xml"]),
        (["/a.xml", "https://example.org/a.xml", "/b.xml"], ["https://example.org/a.xml", "https://example.org/b.xml"]),
        (["https://news.example.org/sitemap.xml"], ["https://news.example.org/sitemap.xml"]),  # "news" in the host only
        (["/sitemap-newsletters.xml", "/sitemap-posts.xml"], ["https://example.org/sitemap-newsletters.xml",
                                                               "https://example.org/sitemap-posts.xml"]),
        ([], ["https://example.org/sitemap.xml"]),
        (["http://[::1", "javascript:x"], ["https://example.org/sitemap.xml"]),
    ],
    ids=["news_first_and_only", "deduplicated_in_order", "host_is_not_path", "newsletters_are_not_news", "none_named",
         "none_valid"],
)
def test_which_sitemaps_of_a_site_are_read(named: list[str], chosen: list[str]) -> None:
    assert choose_sitemaps(named, "https://example.org/world/") == chosen


def test_only_the_first_sitemaps_a_robots_txt_names_are_looked_at() -> None:
    """On the event loop: a 512 KiB robots.txt names 33,000 sitemaps, and choosing among them took 10 s."""
    named = [f"/s{n}.xml" for n in range(30_000)]
    started = time.process_time()
    chosen = choose_sitemaps(named, "https://example.org/")
    assert time.process_time() - started < 2
    assert chosen == [f"https://example.org/s{n}.xml" for n in range(MAX_NAMED)]


# ---------------------------------------------------------------- one check: conditional, hashed


RSS = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>World</title>
<item><title>Envoy recalled</title><link>/world/1?utm_source=rss#top</link>
<pubDate>Mon, 06 May 2024 10:00:00 +0300</pubDate></item>
<item><link>{origin}/world/2</link></item>
<item><title>Swap again</title><link>{origin}/world/2?fbclid=abc</link></item>
<item><title>Video</title><link>{origin}/video/3</link></item>
</channel></rss>"""


def test_feed_links_are_canonical_deduplicated_and_filtered(local_web: LocalWeb) -> None:
    local_web.route("/rss", RSS.format(origin=local_web.origin), content_type="application/rss+xml")
    source = SourceSettings(name="w", kind="feed", url=local_web.url("/rss"), exclude="/video/")
    found = check(local_web, source)
    assert [(link.url, link.title) for link in found.links] == [
        (local_web.url("/world/1"), "Envoy recalled"),
        (local_web.url("/world/2"), "Swap again"),  # the duplicate filled in the missing title
    ]
    assert found.links[0].published == datetime(2024, 5, 6, 7, 0, tzinfo=UTC)


def test_304_is_a_cheap_unchanged_check_keeping_the_validators(local_web: LocalWeb) -> None:
    local_web.route("/rss", RSS.format(origin=local_web.origin), content_type="text/xml", etag='"v1"')
    source = SourceSettings(name="w", kind="feed", url=local_web.url("/rss"))
    first = check(local_web, source)
    assert first.etag == '"v1"' and first.links and not first.not_modified
    second = check(local_web, source, etag=first.etag, body_hash=first.body_hash)
    assert second == Discovery(links=[], etag='"v1"', body_hash=first.body_hash, not_modified=True)
    assert local_web.requests[-1].headers["if-none-match"] == '"v1"'


def test_same_body_without_304_is_unchanged_too(local_web: LocalWeb) -> None:
    local_web.route("/rss", RSS.format(origin=local_web.origin), content_type="text/xml", etag='"lies"')
    source = SourceSettings(name="w", kind="feed", url=local_web.url("/rss"))
    first = check(local_web, source)
    again = check(local_web, source, etag='"other"', body_hash=first.body_hash)
    assert again.not_modified and again.links == [] and again.etag == '"lies"'


def test_a_failing_source_raises_a_fetch_error(local_web: LocalWeb) -> None:
    local_web.route("/rss", "oops", status=500)
    with pytest.raises(FetchError):
        check(local_web, SourceSettings(name="w", kind="feed", url=local_web.url("/rss")))


# ---------------------------------------------------------------- two cycles over an unchanged site


def _serve_site(web: LocalWeb, sources: int) -> list[SourceSettings]:
    """``sources`` sources of every kind, each listing three articles, all with validators."""
    configured = []
    for number in range(sources):
        articles = [f"/s{number}/2024/05/0{day}/story" for day in (1, 2, 3)]
        for path in articles:
            web.route(path, f"<html><body><h1>{path}</h1></body></html>")
        url = f"/s{number}/source"
        kind = ("feed", "sitemap", "page")[number % 3]
        if kind == "feed":
            items = "".join(f"<item><title>{p}</title><link>{p}?utm_source=rss</link></item>" for p in articles)
            feed = f"<rss version='2.0'><channel>{items}</channel></rss>"
            web.route(url, feed, content_type="text/xml", etag=f'"{number}"')
            configured.append(SourceSettings(name=f"s{number}", kind="feed", url=web.url(url)))
        elif kind == "sitemap":
            web.route(url, _urlset(*articles), content_type="application/xml", etag=f'W/"{number}"')
            configured.append(SourceSettings(name=f"s{number}", kind="sitemap", url=web.url(url)))
        else:
            links = "".join(f'<h2><a href="{p}#c">{p}</a></h2>' for p in articles)
            web.route(url, links, last_modified="Mon, 06 May 2024 10:00:00 GMT")
            configured.append(SourceSettings(name=f"s{number}", kind="page", url=web.url(url), links="h2 a"))
    return configured


def test_second_cycle_over_an_unchanged_site_makes_only_conditional_source_requests(local_web: LocalWeb) -> None:
    """The pipeline benchmark's discovery, in miniature: 21 sources, two cycles, requests by kind."""
    local_web.route("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    sources = _serve_site(local_web, 21)
    empty: dict[str, str | None] = {"etag": None, "last_modified": None, "body_hash": None}
    state = {source.name: empty for source in sources}
    known: set[str] = set()

    async def cycle(fetcher: Fetcher, workers: Workers) -> Counter[str]:
        before = Counter(fetcher.stats)

        async def one(source: SourceSettings) -> None:
            found = await discover(source, fetcher, workers, **state[source.name])
            state[source.name] = {
                "etag": found.etag, "last_modified": found.last_modified, "body_hash": found.body_hash
            }
            fresh = [link.url for link in found.links if link.url not in known]
            known.update(fresh)
            await asyncio.gather(*(fetcher.fetch(url) for url in fresh))

        await asyncio.gather(*(one(source) for source in sources))
        return Counter(fetcher.stats) - before

    async def go() -> tuple[Counter[str], Counter[str]]:
        fetch_settings = FetchSettings(timeout=5.0, delay=0.0, robots=True, per_host=8)
        async with Fetcher(fetch_settings, [local_web.origin]) as fetcher, Workers(ONE_WORKER) as workers:
            return await cycle(fetcher, workers), await cycle(fetcher, workers)

    first, second = asyncio.run(go())
    print(f"\ncycle 1: {dict(first)}\ncycle 2: {dict(second)}")
    assert first == Counter({"source": 21, "article": 63, "robots": 1})
    assert second == Counter({"source": 21, "not_modified": 21})
    last = local_web.requests[-21:]
    assert all("if-none-match" in r.headers or "if-modified-since" in r.headers for r in last)


def test_a_json_feed_item_dated_past_datetimes_range_loses_its_date_not_the_feed() -> None:
    """9999-12-31 at -23:59 is past year 9999 in UTC: OverflowError, which failed the whole feed's check."""
    feed = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [
        {"url": "https://example.org/a", "date_published": "9999-12-31T23:59:59-23:59"},
        {"url": "https://example.org/b", "date_published": "0001-01-01T00:00:00+23:59"},
    ]})
    links = feed_links(page(feed, content_type="application/feed+json"))
    assert [(link.url, link.published) for link in links] == [("https://example.org/a", None), ("https://example.org/b", None)]


def test_a_json_feed_number_too_long_for_python_costs_nothing_but_that_field() -> None:
    """An item's ``id`` of 5,000 digits failed the whole feed: Python refuses integers of more than 4,300 digits."""
    feed = ('{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": ' + "1" * 5_000
            + ', "url": "https://example.org/a"}, {"id": -' + "2" * 5_000 + ', "url": "https://example.org/b"}]}')
    links = feed_links(page(feed, content_type="application/feed+json"))
    assert [link.url for link in links] == ["https://example.org/a", "https://example.org/b"]


def test_an_item_dated_outside_the_years_of_publication_dates_loses_its_date() -> None:
    """Extraction takes no date outside 1990-2100, a feed's was taken as it came: an item dated 9999, or the year 1
    that feedparser reads as 1400, was the date its article's alert showed."""
    dates = ["Fri, 31 Dec 9999 12:00:00 GMT", "Mon, 01 Jan 0001 00:00:00 +1400", "Sat, 01 Jan 1000 00:00:00 GMT",
             "Fri, 28 Nov 2025 09:00:00 GMT"]
    items = "".join(f"<item><link>https://example.org/{n}</link><pubDate>{date}</pubDate></item>"
                    for n, date in enumerate(dates))
    links = feed_links(page(f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'))
    assert [link.published for link in links] == [None, None, None, datetime(2025, 11, 28, 9, 0, tzinfo=UTC)]


def test_listings_say_when_a_page_changed_where_they_say_so_and_never_an_rss_items_publication_for_it() -> None:
    """A page's update time (Atom's ``updated``, ``atom:updated`` in RSS, a JSON Feed's ``date_modified``, a sitemap's
    ``lastmod``) is when a page read before is read again. feedparser answers ``updated_parsed`` with an RSS item's
    publication time where it has no update time: every item would read as changed."""
    when, later = datetime(2026, 11, 28, 9, 0, tzinfo=UTC), datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    atom = ("<feed xmlns='http://www.w3.org/2005/Atom'><title>t</title><entry><link href='https://example.org/a'/>"
            "<published>2026-11-28T09:00:00Z</published><updated>2026-11-28T09:30:00Z</updated></entry></feed>")
    rss = ("<rss version='2.0' xmlns:atom='http://www.w3.org/2005/Atom'><channel><title>t</title>"
           "<item><link>https://example.org/a</link><pubDate>Sat, 28 Nov 2026 09:00:00 GMT</pubDate></item>"
           "<item><link>https://example.org/b</link><pubDate>Sat, 28 Nov 2026 09:00:00 GMT</pubDate>"
           "<atom:updated>2026-11-28T09:30:00Z</atom:updated></item></channel></rss>")
    json_feed = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [
        {"url": "https://example.org/a", "date_published": "2026-11-28T09:00:00Z",
         "date_modified": "2026-11-28T09:30:00Z"}]})
    sitemap = ("<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'><url><loc>https://example.org/a</loc>"
               "<lastmod>2026-11-28T09:30:00Z</lastmod></url><url><loc>https://example.org/b</loc></url></urlset>")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # feedparser's deprecated answer warns: it is never asked for
        assert [(link.published, link.updated) for link in feed_links(page(atom))] == [(when, later)]
        assert [(link.published, link.updated) for link in feed_links(page(rss))] == [(when, None), (when, later)]
        assert [(link.published, link.updated) for link in feed_links(page(json_feed, content_type="application/json"))
                ] == [(when, later)]
        assert [link.updated for link in read_sitemap(page(sitemap), 10**6).links.links] == [later, None]


def test_a_page_listed_twice_keeps_its_latest_update_time(local_web: LocalWeb) -> None:
    """The first of a listing's items for a URL won: with its old time first, the page's update was never read."""
    entries = "".join(f"<entry><link href='{local_web.url('/a')}'/><updated>{when}</updated></entry>"
                      for when in ("2026-11-28T09:00:00Z", "2026-11-28T09:30:00Z", "2026-11-28T09:10:00Z"))
    local_web.route("/feed.xml", f"<feed xmlns='http://www.w3.org/2005/Atom'><title>t</title>{entries}</feed>",
                    content_type="application/atom+xml")
    discovery = check(local_web, SourceSettings(name="Wire", kind="feed", url=local_web.url("/feed.xml")))
    assert [(link.url, link.updated) for link in discovery.links] == [
        (local_web.url("/a"), datetime(2026, 11, 28, 9, 30, tzinfo=UTC))]


def test_an_update_time_most_of_a_listings_links_share_is_the_listings_not_the_pages(local_web: LocalWeb) -> None:
    """A sitemap written on request stamps its URLs with the request's time: every page would be read again at every
    check. Only a time every link shared was dropped, so one URL without a lastmod let the others' through."""
    made, changed = "2026-11-28T09:00:00Z", "2026-11-28T08:30:00Z"
    urls = "".join(f"<url><loc>{local_web.url(f'/{n}')}</loc>{f'<lastmod>{when}</lastmod>' if when else ''}</url>"
                   for n, when in enumerate((None, made, made, made, changed)))
    local_web.route("/sitemap.xml", f"<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{urls}</urlset>",
                    content_type="application/xml")
    discovery = check(local_web, SourceSettings(name="Site", kind="sitemap", url=local_web.url("/sitemap.xml")))
    assert [link.updated for link in discovery.links] == [None, None, None, None,
                                                          datetime(2026, 11, 28, 8, 30, tzinfo=UTC)]


def test_a_feeds_descriptions_and_contents_are_not_read_and_its_links_titles_and_dates_are() -> None:
    """Descriptions, summaries and contents are cut out before parsing (the monitor never reads them; a hostile one
    of raw markup cost the whole feed a worker's CPU limit): what the feed lists around them is read as before."""
    atom = (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        '<entry><title>Envoy recalled</title><link href="https://example.org/a"/><updated>2026-12-01T10:00:00Z</updated>'
        '<summary type="html">&lt;p&gt;A summary&lt;/p&gt;</summary><content src="https://example.org/a.txt"/></entry>'
        '<entry><title>Swap agreed</title><link href="https://example.org/b"/><updated>2026-12-01T11:00:00Z</updated>'
        "<content type='xhtml'><div xmlns='http://www.w3.org/1999/xhtml'><p>unclosed <b>bold</div></content></entry>"
        "</feed>"
    )
    rss = (
        '<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        "<title>t</title><description>The channel</description><item><title>Talks in Istanbul</title>"
        "<link>https://example.org/c</link><description><b><i>raw markup, never closed</description>"
        "<content:encoded><![CDATA[<p>body</p>]]></content:encoded><pubDate>Tue, 01 Dec 2026 12:00:00 GMT</pubDate>"
        "</item></channel></rss>"
    )
    atom_links, rss_links = feed_links(page(atom)), feed_links(page(rss))
    assert [(link.url, link.title, link.updated) for link in atom_links] == [
        ("https://example.org/a", "Envoy recalled", datetime(2026, 12, 1, 10, tzinfo=UTC)),
        ("https://example.org/b", "Swap agreed", datetime(2026, 12, 1, 11, tzinfo=UTC)),
    ]
    assert [(link.url, link.title, link.published) for link in rss_links] == [
        ("https://example.org/c", "Talks in Istanbul", datetime(2026, 12, 1, 12, tzinfo=UTC))]


@pytest.mark.parametrize("encoding", ["utf-32-le", "utf-32-be"])
def test_a_feed_or_sitemap_in_utf_32_with_its_byte_order_mark_is_read(encoding: str) -> None:
    """expat takes UTF-32's byte-order mark for UTF-16's, whose first two bytes it shares, and failed such a feed as
    "not well-formed XML" at every check."""
    mark = codecs.BOM_UTF32_LE if encoding.endswith("le") else codecs.BOM_UTF32_BE
    feed = """<?xml version="1.0" encoding="utf-32"?><rss version="2.0"><channel><title>t</title>
<item><title>Посол</title><link>https://example.org/envoy</link></item></channel></rss>"""
    links = feed_links(page(mark + feed.encode(encoding)))
    assert [(link.url, link.title) for link in links] == [("https://example.org/envoy", "Посол")]
    sitemap = """<?xml version="1.0" encoding="utf-32"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://example.org/envoy</loc></url></urlset>"""
    assert [link.url for link in read_sitemap(page(mark + sitemap.encode(encoding)), 10**6).links.links] == [
        "https://example.org/envoy"]
