"""The fetcher against a real HTTP server on 127.0.0.1: politeness, caps, timeouts, redirects."""

from __future__ import annotations

import asyncio
import gzip
import random
import socket
import subprocess
import sys
import time
import tracemalloc
import warnings
import zlib
from collections import Counter
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, TypeVar
from urllib.parse import quote

import brotli
import pytest
from tests.conftest import BINARY_FILES, cli_env
from tests.httpserver import LocalWeb

from monitor.config import FetchSettings
from monitor.errors import (
    ERROR_CHARS,
    BlockedURLError,
    DNSError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    RedirectError,
    RefusedError,
    ResponseTooLargeError,
    RobotsDisallowedError,
    RobotsUnreachableError,
    TLSError,
    UnsupportedContentError,
)
from monitor.fetch import client, decode, politeness
from monitor.fetch.backoff import MAX_BACKOFF, MAX_RETRY_AFTER, next_delay, parse_retry_after
from monitor.fetch.client import Fetcher, Holding
from monitor.fetch.fairness import PARTY, FairSlots
from monitor.fetch.decode import decode_text, looks_binary, page_text, utf8_text
from monitor.fetch.robots import (
    ENTRY_CHARS,
    MAX_COPIES,
    MAX_CRAWL_DELAY,
    MAX_RULES,
    MAX_WILDCARDS,
    RETRY_TTL,
    ROBOTS_TTL,
    RobotsCache,
)
from monitor.fetch.urls import MAX_URL_LENGTH
from monitor.models import NotModified, Page

T = TypeVar("T")


def settings(**changes: Any) -> FetchSettings:
    values: dict[str, Any] = {"timeout": 2.0, "delay": 0.0, "max_bytes": 100_000, "robots": False}
    values.update(changes)
    return FetchSettings(**values)


def fetch(web: LocalWeb, path: str, fetch_settings: FetchSettings | None = None, **kwargs: Any) -> Page | NotModified:
    async def go() -> Page | NotModified:
        async with Fetcher(fetch_settings or settings(), [web.origin]) as fetcher:
            return await fetcher.fetch(web.url(path), **kwargs)

    return run(go())


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


async def loopback(host: str, port: int) -> list[str]:
    """A resolver giving every name the test server's address: one server stands for many hosts."""
    return ["127.0.0.1"]


def test_fetch_returns_decoded_page_with_validators(local_web: LocalWeb) -> None:
    local_web.route("/a", "<p>Привет</p>", etag='"v1"', last_modified="Mon, 06 May 2024 10:00:00 GMT")
    page = fetch(local_web, "/a")
    assert isinstance(page, Page)
    assert page_text(page) == "<p>Привет</p>"
    assert (page.etag, page.last_modified) == ('"v1"', "Mon, 06 May 2024 10:00:00 GMT")
    assert local_web.requests[0].headers["user-agent"] == settings().user_agent
    assert local_web.requests[0].headers["accept-encoding"] == "gzip, deflate, br"


def test_a_validator_longer_than_any_real_one_is_not_kept(local_web: LocalWeb) -> None:
    """It would be stored with the source and sent back on every check; the body's hash still tells a change."""
    local_web.route("/a", "<p>a</p>", etag='"' + "v" * 60_000 + '"', last_modified="Mon, 06 May 2024 10:00:00 GMT")
    page = fetch(local_web, "/a")
    assert isinstance(page, Page)
    assert (page.etag, page.last_modified) == (None, "Mon, 06 May 2024 10:00:00 GMT")


def test_a_validator_beyond_ascii_is_neither_kept_nor_sent(local_web: LocalWeb) -> None:
    """A site's UTF-8 ETag cannot go back into a request: kept, it failed every later check of the source
    before any request went out, so no answer ever replaced it."""
    local_web.route("/a", "<p>a</p>", etag='"caf\xe9"', last_modified="Mon, 06 May 2024 10:00:00 GMT")
    page = fetch(local_web, "/a")
    assert isinstance(page, Page)
    assert (page.etag, page.last_modified) == (None, "Mon, 06 May 2024 10:00:00 GMT")
    # One stored by an earlier version is left out of the request, which goes ahead unconditionally.
    again = fetch(local_web, "/a", etag='"caf\xe9"', last_modified="Mon, 06 May 2024 10:00:00 GMT\x00")
    assert isinstance(again, Page)
    assert "if-none-match" not in local_web.requests[-1].headers
    assert "if-modified-since" not in local_web.requests[-1].headers


def test_conditional_request_answered_304_is_not_modified(local_web: LocalWeb) -> None:
    local_web.route("/feed", "<rss/>", content_type="text/xml", etag='"v1"')
    result = fetch(local_web, "/feed", etag='"v1"', kind="source")
    assert result == NotModified(url=local_web.url("/feed"))
    assert local_web.requests[0].headers["if-none-match"] == '"v1"'


def test_robots_disallowed_url_is_skipped_not_fetched(local_web: LocalWeb) -> None:
    local_web.route("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    local_web.route("/private/a", "secret")
    with pytest.raises(RobotsDisallowedError):
        fetch(local_web, "/private/a", settings(robots=True))
    assert local_web.hits("/private/a") == 0


# ---------------------------------------------------------------- failures cost one check, quickly


def test_429_carries_retry_after_in_seconds(local_web: LocalWeb) -> None:
    local_web.route("/busy", "slow down", status=429, headers={"Retry-After": "120"})
    with pytest.raises(HTTPStatusError) as caught:
        fetch(local_web, "/busy")
    assert (caught.value.status, caught.value.retry_after) == (429, 120.0)


def test_503_carries_retry_after_as_http_date(local_web: LocalWeb) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    local_web.route("/down", "maintenance", status=503, headers={"Retry-After": when})
    with pytest.raises(HTTPStatusError) as caught:
        fetch(local_web, "/down")
    assert caught.value.retry_after is not None and 3500 < caught.value.retry_after <= 3600


@pytest.mark.parametrize("when", ["Mon, 01 Jan 2024 00:00:00 +9999999999999999999999",
                                  "Mon, 01 Jan 99999999999999999999 00:00:00 GMT"])
def test_a_retry_after_date_too_large_for_a_datetime_is_no_retry_after(local_web: LocalWeb, when: str) -> None:
    """email.utils raised OverflowError for it: on a robots.txt's 404, it ended `monitor once` with a traceback,
    every source's articles and alerts with it, at every run."""
    assert parse_retry_after(when, datetime.now(UTC)) is None
    local_web.route("/robots.txt", "none here", status=404, headers={"Retry-After": when})
    local_web.route("/a", "ok")
    assert page_text(_page(fetch(local_web, "/a", settings(robots=True)))) == "ok"


def test_an_error_quoting_the_answer_is_cut_short(local_web: LocalWeb) -> None:
    """A 100 kB content type went whole into each link's error, stored and logged: a feed of 1,000 such links
    added 95 MB to the archive and as much to the log at every check."""
    local_web.route("/long", "x", content_type="image/" + "x" * 100_000)
    with pytest.raises(UnsupportedContentError) as caught:
        fetch(local_web, "/long")
    assert "content type 'image/xxx" in str(caught.value) and len(str(caught.value)) < 2 * ERROR_CHARS


def test_a_cookie_the_standard_library_cannot_read_is_dropped_without_a_warning(local_web: LocalWeb) -> None:
    """http.cookiejar warned of "Max-Age" without a value as its own bug, with a traceback on the monitor's stderr."""
    local_web.route("/odd", "odd cookie", headers={"Set-Cookie": "a=b; Max-Age"})
    local_web.route("/next", "the story")

    async def go() -> None:
        async with Fetcher(settings(), [local_web.origin]) as fetcher:
            for path in ("/odd", "/next"):
                await fetcher.fetch(local_web.url(path))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run(go())
    assert [str(w.message)[:30] for w in caught] == []
    assert local_web.requests[-1].headers.get("cookie") is None


def test_500_is_an_http_status_error_without_retry_after(local_web: LocalWeb) -> None:
    local_web.route("/boom", "oops", status=500)
    with pytest.raises(HTTPStatusError) as caught:
        fetch(local_web, "/boom")
    assert (caught.value.status, caught.value.retry_after) == (500, None)


def test_server_that_hangs_is_given_up_at_the_timeout(local_web: LocalWeb) -> None:
    local_web.route("/hang", "late", delay=5.0)
    started = time.monotonic()
    with pytest.raises(FetchError):
        fetch(local_web, "/hang", settings(timeout=0.5))
    assert time.monotonic() - started < 1.5


def test_body_dripped_slowly_is_cut_by_the_overall_deadline(local_web: LocalWeb) -> None:
    """Each read arrives well within httpx's per-read timeout; only the overall deadline stops it."""
    local_web.route("/drip", "x" * 200, chunk=1, drip=0.02)
    started = time.monotonic()
    with pytest.raises(FetchError, match="within"):
        fetch(local_web, "/drip", settings(timeout=0.6))
    assert time.monotonic() - started < 1.5


def test_endless_interim_answers_are_cut_long_before_the_timeout(local_web: LocalWeb) -> None:
    """Each "102 Processing" is a head h11 parses in the event loop: only the timeout ended the run, at full CPU."""
    interim = b"HTTP/1.1 102 Processing\r\n\r\n" * 2000
    local_web.route("/interim", status=102, content_type=None, stream=lambda: iter(lambda: interim, None))
    started, cpu = time.monotonic(), time.process_time()
    with pytest.raises(FetchError, match="more than 256 KB before its answer's head was complete"):
        fetch(local_web, "/interim", settings(timeout=30))
    assert time.monotonic() - started < 10 and time.process_time() - cpu < 5


def test_a_head_of_thousands_of_fields_is_cut_before_the_http_stack_parses_it(local_web: LocalWeb) -> None:
    """Each header field costs the HTTP stack about 2 us of the event loop: 1,000 links answered with 18,000 tiny fields
    each took 42 s of the monitor's CPU. Past 1,000 fields for a request, interim answers' included, it is refused."""
    later = "HTTP/1.1 102 Processing\r\n" + "".join(f"Y-{n}: 1\r\n" for n in range(600)) + "\r\nHTTP/1.1 200 OK\r\n\r\n"
    local_web.route("/many", "a story", headers={f"X-{n}": "1" for n in range(1500)})
    local_web.route("/interim", status=102, content_type=None, headers={f"X-{n}": "1" for n in range(500)},
                    stream=lambda: iter([later.encode(), b"a story"]))
    local_web.route("/busy", "a story\n" * 5000, headers={f"X-{n}": "1" for n in range(990)})
    for path in ("/many", "/interim"):
        with pytest.raises(FetchError, match="more than 1,000 header fields"):
            fetch(local_web, path)
    page = fetch(local_web, "/busy", settings(max_bytes=1_000_000))
    assert isinstance(page, Page) and page.body == b"a story\n" * 5000  # 990 fields pass; the body's lines are none


def test_a_chunked_body_s_trailer_of_thousands_of_fields_is_refused(local_web: LocalWeb) -> None:
    """A trailer (fields after a chunked body's last chunk) is parsed by h11 as a head is, uncounted: 19,000 tiny
    fields cost 36 ms of the event loop an answer, 1,000 such links 36 s. They count with the head's, at most 1,000;
    a few trailer fields, and chunk data full of lines and of what looks like a last chunk, pass; a refused answer's
    connection is closed (left open, 16 of them held the pool, and every later fetch timed out)."""
    trailer = b"".join(b"T-%d: 1\r\n" % n for n in range(1500)) + b"\r\n"
    big = b"x" * 100_000
    local_web.route("/with-head", headers={"Transfer-Encoding": "chunked"},
                    stream=lambda: iter([b"7\r\na story\r\n0\r\n" + trailer]))
    local_web.route("/after-reads", headers={"Transfer-Encoding": "chunked"},
                    stream=lambda: iter([b"%x;ext=1\r\n%s\r\n" % (len(big), big), b"0\r\n", trailer[:5000],
                                         trailer[5000:]]))
    lines = b"line\r\n0\r\n\r\nX: 1\r\n" * 2000
    local_web.route("/fine", headers={"Transfer-Encoding": "chunked", **{f"H-{n}": "1" for n in range(900)}},
                    stream=lambda: iter([b"%x\r\n%s\r\n" % (len(lines), lines), b"0\r\nA: 1\r\nB: 2\r\n\r\n"]))

    async def go() -> tuple[list[str], Page | NotModified]:
        async with Fetcher(settings(max_bytes=1_000_000), [local_web.origin]) as fetcher:
            refused = []
            for path in ["/with-head", "/after-reads"] * 10:
                with pytest.raises(FetchError) as caught:
                    await fetcher.fetch(local_web.url(path))
                refused.append(str(caught.value))
            return refused, await fetcher.fetch(local_web.url("/fine"))

    refused, page = run(go())
    assert all("more than 1,000 header fields for its answer" in said for said in refused)
    assert isinstance(page, Page) and page.body == lines


def test_chunk_headers_count_against_the_body_s_bytes_on_the_wire(local_web: LocalWeb) -> None:
    """One byte of body per chunk behind 60 KB of chunk extension: the body's cap never saw those bytes."""
    chunk = b"1;" + b"x" * 60_000 + b"\r\na\r\n"
    local_web.route("/chunks", headers={"Transfer-Encoding": "chunked"}, stream=lambda: iter(lambda: chunk, None))
    with pytest.raises(FetchError, match="bytes for its answer's body"):
        fetch(local_web, "/chunks", settings(timeout=30, max_bytes=200_000))


def test_a_body_in_tiny_chunks_is_cut_before_the_http_stack_parses_them_all(local_web: LocalWeb) -> None:
    """Each chunk costs the HTTP stack about 8 us of the event loop: one-byte chunks, within the body's bytes on the
    wire, took seconds of the monitor's CPU a link. Past 1,000 pieces, a piece must bring a KB on average."""
    tiny = b"1\r\nx\r\n" * 10_000
    local_web.route("/tiny", headers={"Transfer-Encoding": "chunked"}, stream=lambda: iter(lambda: tiny, None))
    kilobyte = b"400\r\n" + b"x" * 1024 + b"\r\n"
    local_web.route("/kilobytes", headers={"Transfer-Encoding": "chunked"},
                    stream=lambda: iter([kilobyte * 2000 + b"0\r\n\r\n"]))
    cpu = time.process_time()
    with pytest.raises(UnsupportedContentError, match="body sent in 1,001 pieces of 1,001 bytes"):
        fetch(local_web, "/tiny", settings(timeout=30, max_bytes=2_000_000))
    assert time.process_time() - cpu < 1
    page = fetch(local_web, "/kilobytes", settings(max_bytes=3_000_000))
    assert isinstance(page, Page) and page.body == b"x" * 2_048_000


def test_a_content_type_sent_twice_is_read_as_browsers_read_it(local_web: LocalWeb) -> None:
    """httpx joins the two headers with a comma: "text/html, text/html" was refused for good."""
    local_web.route("/twice", "<p>Envoy returns</p>", content_type="text/html", headers={"content-type": "text/html"})
    page = fetch(local_web, "/twice", kind="article")
    assert isinstance(page, Page) and page.body == b"<p>Envoy returns</p>"
    assert page.content_type.count("text/html") == 2


def test_endless_body_is_cut_at_max_bytes(local_web: LocalWeb) -> None:
    """The error names the setting that cuts it ("body exceeds 5000000 bytes" named none)."""
    local_web.route("/huge", stream=lambda: iter(lambda: b"x" * 65536, None))
    with pytest.raises(ResponseTooLargeError, match=r"body exceeds 200,000 bytes \(fetch\.max_bytes\)"):
        fetch(local_web, "/huge", settings(max_bytes=200_000))


def _gzip_bomb(gigabytes: int = 1) -> Iterator[bytes]:
    """A gzip stream inflating to ``gigabytes`` GiB of zeros from ~1 MiB per GiB, built lazily.

    Full flushes make every 1 MiB block compress to the same bytes, so the stream is one
    block repeated; the trailer is never reached because the reader must stop at its cap.
    """
    zeros = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    yield compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    for _ in range(1024 * gigabytes - 1):
        yield block


def test_gzip_bomb_is_cut_at_the_cap_with_flat_memory(local_web: LocalWeb) -> None:
    local_web.route("/bomb", headers={"Content-Encoding": "gzip"}, stream=_gzip_bomb)
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLargeError):
            fetch(local_web, "/bomb", settings(max_bytes=2_000_000))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000


def test_brotli_body_is_decoded(local_web: LocalWeb) -> None:
    local_web.route("/br", brotli.compress(b"<p>brotli ok</p>"), headers={"Content-Encoding": "br"})
    assert page_text(_page(fetch(local_web, "/br"))) == "<p>brotli ok</p>"


def test_gzip_body_is_decoded(local_web: LocalWeb) -> None:
    local_web.route("/gz", "<p>gzip ok</p>", gzip=True)
    assert page_text(_page(fetch(local_web, "/gz"))) == "<p>gzip ok</p>"


def test_concatenated_gzip_members_are_read_up_to_a_limit(local_web: LocalWeb) -> None:
    """A few members are a writer appending; a stream of empty ones cost the event loop a decompressor each,
    370,000 a second, until the fetch timed out."""
    local_web.route("/few", gzip.compress(b"<p>one ") + gzip.compress(b"two</p>"), headers={"Content-Encoding": "gzip"})
    assert page_text(_page(fetch(local_web, "/few"))) == "<p>one two</p>"
    empty = gzip.compress(b"", mtime=0)
    local_web.route("/many", empty * (decode.MAX_GZIP_MEMBERS + 1), headers={"Content-Encoding": "gzip"})
    with pytest.raises(UnsupportedContentError, match=f"more than {decode.MAX_GZIP_MEMBERS} gzip members"):
        fetch(local_web, "/many")


def test_compressed_bytes_are_capped_even_when_they_decompress_to_nothing(local_web: LocalWeb) -> None:
    """Empty deflate blocks (5 bytes each) make a body of nothing that is read, without the cap, until the
    timeout; no compression grows data by a hundredth."""
    compressor = zlib.compressobj()
    flushes = b"".join(compressor.compress(b"") + compressor.flush(zlib.Z_FULL_FLUSH) for _ in range(30_000))
    local_web.route("/empty", flushes + compressor.flush(), headers={"Content-Encoding": "deflate"})
    with pytest.raises(ResponseTooLargeError, match="compressed body exceeds"):
        fetch(local_web, "/empty", settings(max_bytes=100_000))
    incompressible = random.Random(1).randbytes(99_000)
    local_web.route("/random", gzip.compress(incompressible), headers={"Content-Encoding": "gzip"},
                    content_type="application/octet-stream")
    assert _page(fetch(local_web, "/random", settings(max_bytes=100_000), kind="robots")).body == incompressible


def test_corrupt_compressed_body_is_unsupported_content(local_web: LocalWeb) -> None:
    local_web.route("/bad", b"\x1f\x8bnot really gzip at all", headers={"Content-Encoding": "gzip"})
    with pytest.raises(UnsupportedContentError):
        fetch(local_web, "/bad")


# ---------------------------------------------------------------- content types and charsets

RUSSIAN = (
    "<html><head><title>Новости</title></head><body><p>Посол России в США Анатолий Антонов "
    "вернулся в Москву для консультаций. Министерство иностранных дел сообщило, что обмен "
    "заключёнными между Россией и США обсуждается на высшем уровне.</p></body></html>"
)


def test_windows_1251_page_without_charset_header_is_decoded(local_web: LocalWeb) -> None:
    local_web.route("/ru", RUSSIAN.encode("cp1251"), content_type="text/html")
    assert page_text(_page(fetch(local_web, "/ru"))) == RUSSIAN


def test_utf8_page_mislabelled_as_windows_1251_is_decoded(local_web: LocalWeb) -> None:
    local_web.route("/ru", RUSSIAN.encode("utf-8"), content_type="text/html; charset=windows-1251")
    assert page_text(_page(fetch(local_web, "/ru"))) == RUSSIAN


def test_windows_1251_page_mislabelled_as_utf8_is_decoded(local_web: LocalWeb) -> None:
    local_web.route("/ru", RUSSIAN.encode("cp1251"), content_type="text/html; charset=utf-8")
    assert page_text(_page(fetch(local_web, "/ru"))) == RUSSIAN


def test_utf8_page_with_a_stray_latin1_byte_stays_utf8(local_web: LocalWeb) -> None:
    """As browsers do: the bad byte is replaced; detection took this page for Shift-JIS."""
    html = (
        '<html><head><meta charset="utf-8"><title>Mäscot</title></head><body><p>Die Mäscot-Gruppe'
        " hat am Dienstag in Zürich ihre Zahlen vorgelegt. Der Umsatz stieg um fünf Prozent.</p>"
    )
    body = html.encode("utf-8").replace(b"Dienstag", b"Dienstag \xb7")  # a Latin-1 middle dot
    local_web.route("/de", body, content_type="text/html; charset=utf-8")
    assert page_text(_page(fetch(local_web, "/de"))) == html.replace("Dienstag", "Dienstag \ufffd")


@pytest.mark.parametrize(
    ("codec", "content_type"),
    [("utf-8", "text/html"), ("utf-8", "text/html; charset=windows-1251"), ("cp1251", "text/html"),
     ("utf-8-sig", "text/html"), ("utf-16", "text/html")],
)
def test_the_parser_gets_the_text_in_utf8_and_a_utf8_body_as_it_came(codec: str, content_type: str) -> None:
    """What the extractor parses is what decoding finds; a UTF-8 body is not decoded only to be encoded back."""
    body = RUSSIAN.encode(codec)
    parsed = utf8_text(body, content_type)
    assert parsed == decode_text(body, content_type).encode("utf-8") == RUSSIAN.encode("utf-8")
    assert (parsed is body) == (codec == "utf-8")


def test_meta_charset_is_used_when_the_header_has_none(local_web: LocalWeb) -> None:
    html = '<meta charset="koi8-r">' + RUSSIAN
    local_web.route("/ru", html.encode("koi8-r"), content_type="text/html")
    assert page_text(_page(fetch(local_web, "/ru"))) == html


@pytest.mark.parametrize("label", ["rot13", "base64", "zlib_codec", "hex", "uu", "undefined", "punycode"])
def test_a_charset_naming_a_codec_that_is_no_text_encoding_is_ignored(label: str) -> None:
    """Python's codecs know bytes-to-bytes codecs and codecs that always fail by name; a page or feed declaring one
    in its header or ``<meta>`` is decoded as if it declared nothing, not failed with the codec's error."""
    html = f'<meta charset="{label}"><p>Привет</p>'
    assert decode_text(html.encode("utf-8"), "text/html") == html
    assert decode_text(b"<p>ok</p>", f"text/html; charset={label}") == "<p>ok</p>"


@pytest.mark.parametrize("label", ["utf-16", "UTF-16LE", "utf-16be", "unicode"])
def test_a_utf16_label_on_a_body_without_a_byte_order_mark_is_ignored(label: str) -> None:
    """A UTF-16 document starts with its byte-order mark; a label saying UTF-16 over ASCII bytes is a lie."""
    assert decode_text(b"<p>ok</p>", f"text/html; charset={label}") == "<p>ok</p>"
    assert decode_text(f'<meta charset="{label}"><p>ok</p>'.encode()) == f'<meta charset="{label}"><p>ok</p>'


@pytest.mark.parametrize("name", BINARY_FILES)
def test_binary_data_is_told_from_text_as_decoded(name: str) -> None:
    """Binary data holds NULs, as decoded; a page holds none, though it may hold other controls (tabs, form feeds,
    a terminal's escape sequences, ISO-2022-JP's escapes), and a UTF-16 page's NULs are gone once its byte-order
    mark decodes it."""
    assert looks_binary(utf8_text(BINARY_FILES[name], "text/html"))
    html = "<p>Посол\tвернулся\x0c в Токио\r\n \x1b]0;title\x07 \x1b[2J</p>"
    assert not looks_binary(utf8_text(html.encode("utf-8")))
    assert not looks_binary(utf8_text("\ufeff".encode("utf-16-le") + html.encode("utf-16-le")))
    assert not looks_binary(utf8_text("<p>東京の大使館</p>".encode("iso2022_jp"), "text/html; charset=iso-2022-jp"))
    assert not looks_binary((html + "<p>filler</p>" * 1000 + "\x00").encode())  # a stray NUL far down is not judged


@pytest.mark.parametrize("label", ["unicode_escape", "raw_unicode_escape", "utf-7", "cp037", "idna", "utf_32", "latin-1"])
def test_a_charset_python_knows_but_the_web_does_not_is_ignored(label: str) -> None:
    """``unicode_escape`` turned the page's ``\\u003c`` into markup, ``utf-7`` its ``+ADw-``, and ``cp037`` (EBCDIC)
    garbled every letter of an ASCII page; browsers know none of these labels and decode as if none were given."""
    html = rf'<meta charset="{label}"><p>A \u003cb\u003e +ADw-b+AD4- tag</p>'
    assert decode_text(html.encode("ascii"), "text/html") == html
    assert decode_text(html.encode("ascii"), f"text/html; charset={label}") == html


@pytest.mark.parametrize(("label", "codec"), [("windows-874", "cp874"), ("x-mac-cyrillic", "mac-cyrillic"),
                                              ("x-sjis", "cp932"), ("windows-949", "cp949"), ("LATIN1", "cp1252")])
def test_a_web_charset_label_python_does_not_name_is_decoded_as_browsers_do(label: str, codec: str) -> None:
    text = {"cp874": "ข่าวเศรษฐกิจวันนี้", "mac-cyrillic": "Новости дня", "cp932": "今日のニュース",
            "cp949": "오늘의 뉴스", "cp1252": "Caf\u00e9 \u2013 \u20ac"}[codec]
    html = f"<p>{text}</p>"
    assert decode_text(html.encode(codec), f"text/html; charset={label}") == html


def test_byte_order_mark_wins_over_the_header(local_web: LocalWeb) -> None:
    local_web.route("/bom", "\ufeff<p>Привет</p>".encode("utf-8"), content_type="text/html; charset=windows-1251")
    assert page_text(_page(fetch(local_web, "/bom"))) == "<p>Привет</p>"


def test_image_is_not_an_article(local_web: LocalWeb) -> None:
    local_web.route("/pic", b"\x89PNG\r\n", content_type="image/png")
    with pytest.raises(UnsupportedContentError):
        fetch(local_web, "/pic")


@pytest.mark.parametrize(
    "content_type", ["text/xml", "application/xml", "application/rss+xml", "application/octet-stream", "text/html"]
)
def test_feeds_under_any_common_label_are_accepted_as_sources(local_web: LocalWeb, content_type: str) -> None:
    local_web.route("/feed", "<rss version='2.0'><channel/></rss>", content_type=content_type)
    assert _page(fetch(local_web, "/feed", kind="source")).body.startswith(b"<rss")


def test_gzip_file_served_as_a_source_is_unwrapped(local_web: LocalWeb) -> None:
    local_web.route("/sitemap.xml.gz", gzip.compress(b"<urlset/>"), content_type="application/x-gzip")
    assert page_text(_page(fetch(local_web, "/sitemap.xml.gz", kind="source"))) == "<urlset/>"


# ---------------------------------------------------------------- redirects


def test_redirects_are_followed_and_the_final_url_reported(local_web: LocalWeb) -> None:
    local_web.redirect("/old", "/older", status=301)
    local_web.redirect("/older", local_web.url("/new#frag"), status=308)
    local_web.route("/new", "here")
    page = _page(fetch(local_web, "/old"))
    assert (page.requested_url, page.url, page_text(page)) == (local_web.url("/old"), local_web.url("/new"), "here")


def test_redirect_loop_is_detected(local_web: LocalWeb) -> None:
    local_web.redirect("/a", "/b")
    local_web.redirect("/b", "/a")
    with pytest.raises(FetchError, match="loop"):
        fetch(local_web, "/a")
    assert local_web.hits("/a") == 1


def test_more_than_ten_redirects_are_refused(local_web: LocalWeb) -> None:
    for hop in range(12):
        local_web.redirect(f"/r{hop}", f"/r{hop + 1}")
    with pytest.raises(FetchError, match="redirects"):
        fetch(local_web, "/r0")
    assert local_web.hits("/r11") == 0


def test_a_redirect_to_a_malformed_or_overlong_url_is_a_fetch_error(local_web: LocalWeb) -> None:
    """A Location is the server's to write: an unclosed IPv6 host raised ValueError out of the fetcher (a traceback
    and "could not be processed"), and a 9,000-character one was fetched, then refused by the worker."""
    local_web.redirect("/ipv6", "http://[::1/story")
    local_web.redirect("/long", "/" + "a" * MAX_URL_LENGTH)
    with pytest.raises(RedirectError, match="malformed URL"):
        fetch(local_web, "/ipv6")
    with pytest.raises(BlockedURLError, match=f"longer than {MAX_URL_LENGTH}"):
        fetch(local_web, "/long")
    assert [request.path for request in local_web.requests] == ["/ipv6", "/long"]


def test_a_redirect_to_a_raw_utf8_location_is_followed_beside_a_latin1_header(local_web: LocalWeb) -> None:
    """A Russian site's Location in raw UTF-8, and another header in Latin-1 ("Café"): httpx decodes all of an
    answer's headers as Latin-1 then, and the redirect went to a garbled path (a 404: the article was lost)."""
    target = "/новости/посол"
    local_web.route("/old", status=301, content_type=None,
                    headers={"Location": target.encode().decode("latin-1"), "X-Served-By": "Café"})
    local_web.route(quote(target), "here")
    page = _page(fetch(local_web, "/old"))
    assert (page.url, page_text(page)) == (local_web.url(target), "here")


def test_a_redirect_to_a_url_without_a_canonical_form_is_a_fetch_error(local_web: LocalWeb) -> None:
    """urllib reads more than the WHATWG parser: a Location of 1,400 "é" (8,400 characters once escaped) was fetched,
    and its page's URL raised out of the pipeline, which every later stage reads canonical."""
    location = "/" + "é" * 1400
    local_web.redirect("/accented", location.encode().decode("latin-1"))  # sent as its UTF-8 bytes
    with pytest.raises(RedirectError, match="no canonical form: URL longer than 8000 characters once escaped"):
        fetch(local_web, "/accented", settings(allow_private=True))  # any host's: not refused as a private address
    assert [request.path for request in local_web.requests] == ["/accented"]


def test_the_timeout_covers_a_fetch_with_its_redirects(local_web: LocalWeb) -> None:
    """Each hop had a timeout of its own: ten redirects answered just before it held a fetch eleven times as long."""
    for hop in range(4):
        local_web.route(f"/slow{hop}", "", status=302, headers={"Location": f"/slow{hop + 1}"}, delay=0.4)
    local_web.route("/slow4", "here")
    started = time.monotonic()
    with pytest.raises(FetchTimeoutError, match=r"within 1 s \(redirects included\)"):
        fetch(local_web, "/slow0", settings(timeout=1.0))
    assert time.monotonic() - started < 1.5
    assert local_web.hits("/slow4") == 0


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://127.0.0.1%/story", "not public"),  # no WHATWG origin to trust
        ("http://[fe80::1%25eth0]/story", "not public"),
        ("http://xn--/story", "invalid URL"),  # no Punycode after the prefix
        ("http://" + "a" * 64 + ".example/story", "cannot resolve"),  # a DNS label is at most 63 characters
    ],
)
def test_a_redirect_to_a_host_no_one_can_reach_is_a_fetch_error(local_web: LocalWeb, location: str, reason: str) -> None:
    """Each of these raised ValueError or UnicodeError out of the fetcher: a traceback in the log, and the link
    refused for good as "could not be processed"."""
    local_web.redirect("/hop", location)
    with pytest.raises(FetchError, match=reason):
        fetch(local_web, "/hop")


def test_cookies_set_on_a_redirect_are_sent_on_the_next_hop_and_later(local_web: LocalWeb) -> None:
    """A consent gate that sets a cookie and redirects, as some news sites do, is passed."""
    local_web.route("/gate", "", status=302, content_type=None,
                    headers={"Location": "/story", "Set-Cookie": "consent=yes; Path=/"})
    local_web.route("/story", "the story")
    local_web.route("/other", "another story")

    async def go() -> None:
        async with Fetcher(settings(), [local_web.origin]) as fetcher:
            await fetcher.fetch(local_web.url("/gate"))
            await fetcher.fetch(local_web.url("/other"))

    run(go())
    cookies = {request.path: request.headers.get("cookie") for request in local_web.requests}
    assert cookies == {"/gate": None, "/story": "consent=yes", "/other": "consent=yes"}


def test_an_answer_setting_thousands_of_cookies_keeps_none(local_web: LocalWeb) -> None:
    """Each kept cookie is parsed, stored and matched against every later request in the monitor's process: 3,000 an
    answer made each such page cost seconds of the event loop. Past 50 an answer (RFC 6265's minimum), none is kept."""
    # One header line each, as the server writes; 900, as an answer of over 1,000 header fields is refused whole.
    many = "\r\nSet-Cookie: ".join(f"c{n}=v; Path=/" for n in range(900))
    local_web.route("/many", "many cookies", headers={"Set-Cookie": many})
    local_web.route("/few", "two cookies", headers={"Set-Cookie": "a=1; Path=/\r\nSet-Cookie: b=2; Path=/"})
    local_web.route("/next", "the story")

    async def go() -> None:
        async with Fetcher(settings(), [local_web.origin]) as fetcher:
            for path in ("/many", "/few", "/next"):
                await fetcher.fetch(local_web.url(path))

    run(go())
    assert local_web.requests[-1].headers.get("cookie") == "a=1; b=2"


def test_a_full_cookie_jar_starts_afresh(local_web: LocalWeb, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hosts that each set a few cookies fill the jar no faster than the bound: it is emptied once past it."""
    monkeypatch.setattr(client, "MAX_COOKIES", 3)
    for n in range(5):
        local_web.route(f"/{n}", "a story", headers={"Set-Cookie": f"c{n}=v; Path=/"})

    async def go() -> None:
        async with Fetcher(settings(), [local_web.origin]) as fetcher:
            for n in range(5):
                await fetcher.fetch(local_web.url(f"/{n}"))

    run(go())
    assert [request.headers.get("cookie") for request in local_web.requests] == [
        None, "c0=v", "c0=v; c1=v", "c0=v; c1=v; c2=v", None]


def test_a_host_is_sent_at_most_50_cookies_of_at_most_4096_bytes(local_web: LocalWeb) -> None:
    """Every request to a host carries all its cookies, each matched on the event loop: a host setting a 2 KB cookie or
    two on each answer was sent megabytes of them with every request (1,000 links: 165 s, 55 s of the monitor's CPU).
    A cookie over 4,096 bytes is not kept, and a domain holding more than 50 (RFC 6265's minimums) starts afresh."""
    local_web.route("/big", "a story", headers={"Set-Cookie": f"big={'v' * 5000}; Path=/"})
    for n in range(51):
        local_web.route(f"/{n}", "a story", headers={"Set-Cookie": f"c{n}=v; Path=/"})
    local_web.route("/next", "the story")

    async def go() -> None:
        async with Fetcher(settings(), [local_web.origin]) as fetcher:
            for path in ("/big", *(f"/{n}" for n in range(51)), "/next"):
                await fetcher.fetch(local_web.url(path))

    run(go())
    sent = {request.path: request.headers.get("cookie") for request in local_web.requests}
    assert sent["/0"] is None  # the big cookie was not kept
    assert sent["/50"] == "; ".join(f"c{n}=v" for n in range(50))
    assert sent["/next"] is None  # the 51st cookie of the domain: it started afresh


def test_redirect_without_location_is_an_error(local_web: LocalWeb) -> None:
    local_web.route("/r", status=302, content_type=None)
    with pytest.raises(HTTPStatusError):
        fetch(local_web, "/r")


# ---------------------------------------------------------------- robots.txt and politeness


def test_robots_txt_is_fetched_once_per_host(local_web: LocalWeb) -> None:
    local_web.route("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    for path in ("/a", "/b", "/c"):
        local_web.route(path, "ok")

    async def go() -> None:
        async with Fetcher(settings(robots=True), [local_web.origin]) as fetcher:
            await asyncio.gather(*(fetcher.fetch(local_web.url(p)) for p in ("/a", "/b", "/c")))
            assert fetcher.stats["robots"] == 1 and fetcher.stats["article"] == 3

    run(go())
    assert local_web.hits("/robots.txt") == 1


def test_a_robots_txt_past_its_size_limit_is_obeyed_up_to_the_limit(local_web: LocalWeb) -> None:
    """RFC 9309 has what lies past the limit ignored: a file over 512 KiB took the site for unreachable, nothing
    fetched. The line the limit cuts is dropped too, or "Disallow: /secret" cut to "Disallow: /" would refuse all."""
    head = "User-agent: *\nDisallow: /private\n"
    filler = "#" * (client.ROBOTS_MAX_BYTES - len(head) - len("Disallow: /") - 1) + "\n"
    local_web.route("/robots.txt", head + filler + "Disallow: /secret\n" + "Disallow: /public\n" * 1000,
                    content_type="text/plain")
    local_web.route("/public", "ok")
    local_web.route("/private", "no")

    async def go() -> None:
        async with Fetcher(settings(robots=True), [local_web.origin]) as fetcher:
            assert isinstance(await fetcher.fetch(local_web.url("/public")), Page)
            with pytest.raises(RobotsDisallowedError):
                await fetcher.fetch(local_web.url("/private"))

    run(go())


def test_longest_robots_rule_wins(local_web: LocalWeb) -> None:
    local_web.route("/robots.txt", "User-agent: *\nDisallow: /\nAllow: /news/\n", content_type="text/plain")
    local_web.route("/news/a", "ok")
    assert page_text(_page(fetch(local_web, "/news/a", settings(robots=True)))) == "ok"


def test_missing_robots_txt_allows_everything(local_web: LocalWeb) -> None:
    local_web.route("/a", "ok")  # /robots.txt answers 404
    assert page_text(_page(fetch(local_web, "/a", settings(robots=True)))) == "ok"


def test_robots_txt_server_error_disallows_for_now(local_web: LocalWeb) -> None:
    local_web.route("/robots.txt", "down", status=503)
    local_web.route("/a", "ok")
    with pytest.raises(RobotsUnreachableError, match=r"robots.txt could not be read \(HTTP 503 Service Unavailable\)"):
        fetch(local_web, "/a", settings(robots=True))
    assert local_web.hits("/a") == 0


def _elapsed(web: LocalWeb, fetch_settings: FetchSettings, paths: list[str], *, together: bool) -> float:
    """Seconds the client took for ``paths``, fetched together or one after another.

    Measured on the client: under load the server may see requests bunched up, but
    three starts spaced by a delay can never complete in less than twice that delay.
    """

    async def go() -> float:
        async with Fetcher(fetch_settings, [web.origin]) as fetcher:
            started = time.monotonic()
            if together:
                await asyncio.gather(*(fetcher.fetch(web.url(path)) for path in paths))
            else:
                for path in paths:
                    await fetcher.fetch(web.url(path))
            return time.monotonic() - started

    return run(go())


def test_requests_to_one_host_keep_the_delay(local_web: LocalWeb) -> None:
    for path in ("/0", "/1", "/2"):
        local_web.route(path, "ok")
    assert _elapsed(local_web, settings(delay=0.2, per_host=2), ["/0", "/1", "/2"], together=True) >= 0.4


def test_per_host_limit_keeps_requests_from_overlapping(local_web: LocalWeb) -> None:
    for path in ("/0", "/1", "/2"):
        local_web.route(path, "ok", delay=0.15)
    assert _elapsed(local_web, settings(per_host=1), ["/0", "/1", "/2"], together=True) >= 0.45


def test_crawl_delay_raises_the_delay(local_web: LocalWeb) -> None:
    local_web.route("/robots.txt", "User-agent: *\nCrawl-delay: 0.3\n", content_type="text/plain")
    local_web.route("/a", "ok")
    local_web.route("/b", "ok")
    assert _elapsed(local_web, settings(robots=True), ["/a", "/b"], together=False) >= 0.3


def test_slow_name_lookups_hold_up_neither_another_host_nor_the_other_threads(
    local_web: LocalWeb, monkeypatch: pytest.MonkeyPatch
) -> None:
    """getaddrinfo blocks a thread. In the event loop's default executor (min(32, cores + 4) threads, shared with
    the SMTP and Apprise deliveries and the workers' starts), a hostile feed's links on names its own DNS server
    answers slowly held every other host's lookups, and every delivery, past fetch.timeout."""
    looked_up = socket.getaddrinfo
    slow = 40  # more than the default executor ever holds

    def getaddrinfo(host: str, *args: Any, **kwargs: Any) -> Any:
        if host.startswith("slow"):
            time.sleep(1.5)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return looked_up("127.0.0.1" if host == "fast.test" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    local_web.route("/a", "fast")
    fast = f"http://fast.test:{local_web.port}/a"

    async def go() -> tuple[float, float]:
        async with Fetcher(settings(timeout=5.0, concurrency=slow + 1), [fast]) as fetcher:
            lookups = [asyncio.create_task(fetcher.fetch(f"http://slow{n}.test/")) for n in range(slow)]
            await asyncio.sleep(0.1)
            started = time.monotonic()
            page = await fetcher.fetch(fast)
            assert isinstance(page, Page) and page.body == b"fast"
            fetched = time.monotonic() - started
            started = time.monotonic()
            await asyncio.to_thread(lambda: None)  # what a delivery waits for
            threaded = time.monotonic() - started
            await asyncio.gather(*lookups, return_exceptions=True)
            return fetched, threaded

    fetched, threaded = run(go())
    assert fetched < 1.0 and threaded < 1.0, (fetched, threaded)


_BLOCKED_LOOKUP_AT_EXIT = """
import asyncio, socket, time
from monitor.config import FetchSettings
from monitor.errors import FetchError
from monitor.fetch.client import Fetcher

def getaddrinfo(*args, **kwargs):
    time.sleep(60)  # a DNS server that does not answer: the resolver's tries, one after another
    raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

socket.getaddrinfo = getaddrinfo

async def go():
    async with Fetcher(FetchSettings(timeout=0.5, delay=0, robots=False), []) as fetcher:
        try:
            await fetcher.fetch("http://unanswered.test/")
        except FetchError as exc:
            print(exc.reason, flush=True)

asyncio.run(go())
"""


def test_a_lookup_blocked_at_exit_does_not_hold_the_process() -> None:
    """The fetch gave up at fetch.timeout, but its lookup's thread, an executor's, was joined at exit: the process
    ended only when the resolver gave up, long after its work was done (and `run` past the 10 s its stop promises)."""
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", _BLOCKED_LOOKUP_AT_EXIT], capture_output=True, text=True,
                            env=cli_env(), timeout=90)
    took = time.monotonic() - started
    assert result.returncode == 0 and "timed out" in result.stdout, result.stdout + result.stderr
    assert took < 20, f"the process ended {took:.1f} s after it started, its fetch given up after 0.5 s"


def test_a_hanging_host_does_not_hold_up_another(local_web: LocalWeb) -> None:
    quick = LocalWeb()
    try:
        local_web.route("/hang", "late", delay=3.0)
        quick.route("/a", "fast")

        async def go() -> float:
            async with Fetcher(settings(timeout=1.0, concurrency=2), [local_web.origin, quick.origin]) as fetcher:
                hanging = asyncio.create_task(fetcher.fetch(local_web.url("/hang")))
                await asyncio.sleep(0.05)
                started = time.monotonic()
                await fetcher.fetch(quick.url("/a"))
                elapsed = time.monotonic() - started
                with pytest.raises(FetchError):
                    await hanging
                return elapsed

        assert run(go()) < 0.9  # well before the hanging request times out (1 s)
    finally:
        quick.close()


def test_stats_count_requests_by_kind(local_web: LocalWeb) -> None:
    local_web.route("/feed", "<rss/>", content_type="text/xml", etag='"1"')
    local_web.route("/a", "ok")

    async def go() -> Counter[str]:
        async with Fetcher(settings(robots=True), [local_web.origin]) as fetcher:
            await fetcher.fetch(local_web.url("/feed"), etag='"1"', kind="source")
            await fetcher.fetch(local_web.url("/a"))
            return fetcher.stats

    assert run(go()) == Counter({"source": 1, "article": 1, "robots": 1, "not_modified": 1})


def _page(result: Page | NotModified) -> Page:
    assert isinstance(result, Page)
    return result


# ---------------------------------------------------------------- robots cache and backoff (no network)


def test_robots_rules_expire_after_the_ttl_and_are_fetched_again() -> None:
    now = [0.0]
    loads: list[str] = []

    async def load(url: str) -> bytes:
        loads.append(url)
        return b"User-agent: *\nDisallow: /x\n"

    cache = RobotsCache("bot", load, ttl=100.0, clock=lambda: now[0])

    async def go() -> None:
        assert not (await cache.rules_for("https://a.example/x")).allows("https://a.example/x", "bot")
        await cache.rules_for("https://a.example/y")
        now[0] = 101.0
        await cache.rules_for("https://a.example/y")

    run(go())
    assert loads == ["https://a.example/robots.txt", "https://a.example/robots.txt"]


def test_robots_ttl_never_exceeds_a_day() -> None:
    async def load(url: str) -> bytes:
        return b""

    cache = RobotsCache("bot", load, ttl=10 * 86400.0, clock=lambda: 0.0)
    assert run(cache.rules_for("https://a.example/")).expires == ROBOTS_TTL


@pytest.mark.parametrize(
    ("error", "allowed", "expires"),
    [
        (HTTPStatusError("u", 404), True, ROBOTS_TTL),
        (HTTPStatusError("u", 403), True, ROBOTS_TTL),
        (HTTPStatusError("u", 500), False, RETRY_TTL),
        (FetchError("u", "connection refused"), False, RETRY_TTL),
    ],
)
def test_robots_answer_meanings(error: FetchError, allowed: bool, expires: float) -> None:
    async def load(url: str) -> bytes:
        raise error

    rules = run(RobotsCache("bot", load, clock=lambda: 0.0).rules_for("https://a.example/"))
    assert (rules.allows("https://a.example/page", "bot"), rules.expires) == (allowed, expires)


def test_robots_rules_past_the_limit_are_dropped_and_its_other_lines_kept() -> None:
    """Each URL is compared with every rule: a file of tens of thousands cost seconds per URL."""
    many = "".join(f"Disallow: /*a*b*{n}\n" for n in range(MAX_RULES - 1))

    async def load(url: str) -> bytes:
        return f"User-agent: *\nDisallow: /early\n{many}Disallow: /late\nCrawl-delay: 2\nSitemap: https://a.example/s.xml\n".encode()

    rules = run(RobotsCache("bot", load).rules_for("https://a.example/"))
    assert not rules.allows("https://a.example/early", "bot")
    assert rules.allows("https://a.example/late", "bot")
    assert rules.crawl_delay("bot") == 2
    assert rules.parser is not None and list(rules.parser.sitemaps) == ["https://a.example/s.xml"]


def test_robots_wildcards_past_the_limit_are_dropped_and_the_plain_rules_after_them_kept() -> None:
    """protego scans the URL for each wildcard rule: 5,000 rules of fifty wildcards each, all within the line limit,
    cost the event loop 44 ms per link of 8,000 characters, 44 s for a check's 1,000 links."""
    many = "".join(f"Disallow: /{'*a' * 50}*-{n}-\n" for n in range(MAX_RULES - 10))

    async def load(url: str) -> bytes:
        return f"User-agent: *\nDisallow: /*x*early\n{many}Disallow: /{'*l' * 40}ate\nDisallow: /plain\n".encode()

    rules = run(RobotsCache("bot", load).rules_for("https://a.example/"))
    assert rules.parser is not None
    assert not rules.allows("https://a.example/xearly", "bot")
    assert not rules.allows("https://a.example/" + "a" * 50 + "-0-", "bot")  # within the budget
    assert rules.allows("https://a.example/" + "a" * 50 + f"-{MAX_WILDCARDS // 50}-", "bot")  # past it
    assert rules.allows("https://a.example/" + "l" * 40 + "ate", "bot")
    assert not rules.allows("https://a.example/plain", "bot")


@pytest.mark.parametrize(
    ("rule", "separator"),
    [("Disalow: /*a*b*-{n}$", "\n"), ("Disallow /*a*b*-{n}$", "\n"), ("Disallow: /*a*b*-{n}$", "\x1c")],
    ids=["misspelled", "without_a_colon", "split_by_a_file_separator"],
)
def test_robots_rules_protego_reads_in_other_forms_count_against_the_limit(rule: str, separator: str) -> None:
    """protego reads these as rules, which the limit did not count: 20,000 of them cost the event loop 50 ms a URL."""
    many = separator.join(rule.format(n=n) for n in range(MAX_RULES + 1000))

    async def load(url: str) -> bytes:
        return f"User-agent: *{separator}{many}{separator}Disallow: /late{separator}Crawl-delay: 2\n".encode()

    rules = run(RobotsCache("bot", load).rules_for("https://a.example/"))
    assert not rules.allows("https://a.example/xa-b-0", "bot")
    assert rules.allows(f"https://a.example/xa-b-{MAX_RULES + 500}", "bot")
    assert rules.allows("https://a.example/late", "bot")
    assert rules.crawl_delay("bot") == 2


def test_robots_rules_count_once_for_each_user_agent_of_their_group_against_a_budget() -> None:
    """protego copies each rule of a group for every user agent of it: 8,000 agents over 2,000 rules, a 137 KB file,
    took the monitor's process to 1.2 GB and held the event loop for half a minute. Here every agent is a part of the
    cache's user agent string, so that none is dropped as someone else's."""
    agents = "".join(f"User-agent: bot{n}\n" for n in range(8000))
    allowed = "".join(f"Allow: /x{n}\n" for n in range(2000))
    ours = " ".join(f"bot{n}" for n in range(8000))

    async def load(url: str) -> bytes:
        return f"User-agent: *\nDisallow: /early\n\n{agents}{allowed}User-agent: *\nDisallow: /late\n".encode()

    tracemalloc.start()
    try:
        rules = run(RobotsCache(ours, load).rules_for("https://a.example/"))
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held < 20 * 2**20, f"the parsed rules hold {held / 2**20:.0f} MB"
    assert not rules.allows("https://a.example/early", "bot")
    assert rules.allows("https://a.example/late", "bot")  # past the budget


def test_robots_groups_of_other_user_agents_are_not_parsed() -> None:
    """protego makes an object of every user agent it reads: a 512 KiB file naming 15,000 other agents was 5.6 MB
    parsed, and 64 fetches in flight each keeping their host's took the monitor's process to 500 MB."""
    others = "".join(f"User-agent: crawler-{n:05}\nDisallow: /\n" for n in range(15_000))

    async def load(url: str) -> bytes:
        return (f"{others}User-agent: *\nDisallow: /private\nSitemap: https://a.example/s.xml\n"
                f"User-agent: Other\nUser-agent: OurBot\nDisallow: /ours-only\n").encode()

    tracemalloc.start()
    try:
        rules = run(RobotsCache("Mozilla/5.0 (compatible; OurBot/2.1)", load).rules_for("https://a.example/"))
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held < 2**20, f"the parsed rules hold {held / 2**20:.1f} MB"
    assert rules.size < ENTRY_CHARS + 200
    agent = "Mozilla/5.0 (compatible; OurBot/2.1)"
    assert not rules.allows("https://a.example/ours-only", agent)
    assert rules.allows("https://a.example/private", agent)  # the group naming us wins over "*"
    assert rules.parser is not None and list(rules.parser.sitemaps) == ["https://a.example/s.xml"]


@pytest.mark.parametrize(
    "between",
    ["not a directive", "Sitemap: https://a.example/s.xml", "User-agent x:y"],
    ids=["junk_line", "site_wide_line", "agent_named_with_a_colon"],
)
def test_robots_group_naming_us_keeps_its_rules_across_lines_that_do_not_end_it(between: str) -> None:
    """protego reads on through a line that is no directive, and a site-wide one, in naming a group's agents: the
    group below is ours as much as the other agent's, and must not be dropped as his."""

    async def load(url: str) -> bytes:
        return f"User-agent: ourbot\n{between}\nUser-agent: otherbot\nDisallow: /private\n".encode()

    rules = run(RobotsCache("ourbot/1.0", load).rules_for("https://a.example/"))
    assert not rules.allows("https://a.example/private", "ourbot/1.0")


def test_robots_groups_of_a_real_sized_file_are_all_obeyed() -> None:
    """Each group counts its own agents: forty groups of two bots and a last group of a thousand rules are read whole."""
    groups = "".join(f"User-agent: crawler{n}\nUser-agent: crawler{n}-news\nDisallow: /\n\n" for n in range(40))
    last = "".join(f"Disallow: /section{n}/\n" for n in range(1000))

    async def load(url: str) -> bytes:
        return f"{groups}User-agent: *\n{last}Crawl-delay: 1\n".encode()

    rules = run(RobotsCache("bot", load).rules_for("https://a.example/"))
    theirs = run(RobotsCache("crawler39-news", load).rules_for("https://a.example/"))
    assert 40 * 4 + 1001 < MAX_COPIES
    assert not rules.allows("https://a.example/section999/story", "bot")
    assert rules.allows("https://a.example/other", "bot")
    assert not theirs.allows("https://a.example/other", "crawler39-news")
    assert rules.crawl_delay("bot") == 1


def test_the_robots_cache_holds_a_bounded_size_of_rules_forgetting_the_least_recently_used() -> None:
    """A parsed file costs about ten times its size in the monitor's process: forty origins serving 512 KiB each
    took it to 363 MB. Past the budget the least recently used origin is forgotten and asked again when needed."""
    file = "User-agent: *\nDisallow: /private\n" + "Disallow: /p\n" * 100  # 1,232 characters of directives
    loads: list[str] = []

    async def load(url: str) -> bytes:
        loads.append(url.removesuffix("/robots.txt"))
        return file.encode()

    cache = RobotsCache("bot", load, max_held=3 * (ENTRY_CHARS + len(file)))

    async def go() -> None:
        for origin in ("a", "b", "c", "a", "d", "e", "a", "b"):
            rules = await cache.rules_for(f"https://{origin}.example/")
            assert not rules.allows(f"https://{origin}.example/private", "bot")

    run(go())
    assert loads == [f"https://{origin}.example" for origin in ("a", "b", "c", "d", "e", "b")]


def test_the_robots_cache_counts_directives_not_comments() -> None:
    """Comments cost nothing parsed: a file padded with them to 512 KiB forgot every other origin's rules, read again
    at each of their fetches."""
    padded = "User-agent: *\nDisallow: /private  # the team's\n" + "# padding\n" * 50_000

    async def load(url: str) -> bytes:
        return padded.encode()

    rules = run(RobotsCache("bot", load).rules_for("https://a.example/"))
    assert rules.size == ENTRY_CHARS + len("User-agent: *\nDisallow: /private")
    assert not rules.allows("https://a.example/private", "bot")


def test_a_fetch_reads_each_origins_robots_txt_once_across_its_redirects(local_web: LocalWeb) -> None:
    """Rules read at one hop could be forgotten by the next (the cache's budget filled by other origins' files) and
    were read again: 512 KiB and a parse at each hop."""
    rules = "".join(f"Disallow: /private/{n}/{'x' * 80}\n" for n in range(5000))  # about 500 kB
    local_web.route("/robots.txt", f"User-agent: *\n{rules}", content_type="text/plain")
    hosts = [f"{name}.test" for name in "abcde"]
    hops = [f"http://{hosts[n % 5]}:{local_web.port}/hop/{n}" for n in range(10)]
    for n in range(9):
        local_web.redirect(f"/hop/{n}", hops[n + 1])
    local_web.route("/hop/9", "here")

    async def go() -> Page | NotModified:
        async with Fetcher(settings(robots=True, allow_private=True), resolver=loopback) as fetcher:
            return await fetcher.fetch(hops[0])

    assert page_text(_page(run(go()))) == "here"
    assert local_web.hits("/robots.txt") == 5


def test_the_robots_cache_bounds_the_origins_it_holds_however_small_their_files() -> None:
    """An empty file, or none (404), counted nothing: a feed of 1,000 new origins a check grew the daemon by 2 MB a
    check for the day the entries are kept."""
    loads: list[str] = []

    async def load(url: str) -> bytes:
        loads.append(url)
        raise HTTPStatusError(url, 404)

    cache = RobotsCache("bot", load, max_held=10 * ENTRY_CHARS)

    async def go() -> None:
        for n in [*range(20), 0]:
            assert (await cache.rules_for(f"https://{n}.example/")).allows(f"https://{n}.example/a", "bot")

    run(go())
    assert len(loads) == 21  # the first origin was forgotten, and asked again


def test_hosts_that_asked_to_wait_are_forgotten_once_their_wait_is_over(
    local_web: LocalWeb, monkeypatch: pytest.MonkeyPatch
) -> None:
    """They were remembered for good: a hostile feed's thousands of subdomains answering 429 grew the daemon."""
    monkeypatch.setattr(client, "MAX_COOLDOWNS", 4)
    local_web.route("/busy", "", status=429, headers={"Retry-After": "1"})

    async def go() -> int:
        async with Fetcher(settings(allow_private=True), resolver=loopback) as fetcher:
            for n in range(12):
                with pytest.raises(HTTPStatusError):
                    await fetcher.fetch(f"http://h{n}.test:{local_web.port}/busy")
                if n == 5:
                    await asyncio.sleep(1.1)
            return len(fetcher._cooldowns)  # what is held is what this tests

    assert run(go()) <= 4


def test_huge_crawl_delay_is_capped() -> None:
    async def load(url: str) -> bytes:
        return b"User-agent: *\nCrawl-delay: 86400\n"

    rules = run(RobotsCache("bot", load).rules_for("https://a.example/"))
    assert rules.crawl_delay("bot") == MAX_CRAWL_DELAY


@pytest.mark.parametrize(
    ("failures", "retry_after", "expected"),
    [
        (0, None, 600.0),
        (1, None, 600.0),
        (2, None, 1200.0),
        (4, None, 4800.0),
        (50, None, MAX_BACKOFF),  # a failing source is never dropped, only slowed to the ceiling
        (1, 3600.0, 3600.0),  # Retry-After asks for longer than the backoff: honoured
        (3, 60.0, 2400.0),  # Retry-After shorter than the backoff: the backoff stands
        (1, 10 * 86400.0, MAX_RETRY_AFTER),  # a hostile Retry-After cannot stop a source for good
    ],
)
def test_next_delay(failures: int, retry_after: float | None, expected: float) -> None:
    assert next_delay(failures, 600.0, retry_after) == expected


def test_next_delay_of_a_slow_source_is_never_shorter_than_its_interval() -> None:
    assert next_delay(10, 86400.0, None) == 86400.0


NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Mon, 06 May 2024 12:30:00 GMT", 1800.0),
        ("Mon, 06 May 2024 11:00:00 GMT", 0.0),
        ("soon", None),
        ("-5", None),
        ("\xb2", None),  # a Latin-1 byte in the header: "²", a digit to str.isdigit, not to float
        ("\u0663", None),  # an Arabic-Indic three: delta-seconds are ASCII digits
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_fair_slots_serve_each_party_in_turn_and_survive_cancellation() -> None:
    """A party that queued many requests first does not hold the others back: a freed slot goes to the parties in
    turn. A waiter cancelled before or just after its turn came gives no slot away for good."""

    async def go() -> None:
        slots, served = FairSlots(1), []

        async def request(party: str, name: str) -> None:
            PARTY.set(party)
            async with slots.slot():
                served.append(name)
                await asyncio.sleep(0.01)

        flood = [asyncio.create_task(request("flood", f"flood {n}")) for n in range(5)]
        await asyncio.sleep(0)
        healthy = asyncio.create_task(request("healthy", "healthy"))
        await asyncio.gather(*flood, healthy)
        assert served.index("healthy") <= 2, served  # after the flood's first and at most one more

        await slots.acquire()
        waiting = asyncio.create_task(slots.acquire())
        await asyncio.sleep(0)
        waiting.cancel()  # cancelled while it waits
        handed = asyncio.create_task(slots.acquire())
        await asyncio.sleep(0)
        slots.release()  # the slot goes to `handed`, which is cancelled before it runs
        handed.cancel()
        for task in (waiting, handed):
            with pytest.raises(asyncio.CancelledError):
                await task
        assert not slots.locked()  # the one slot is free again

    asyncio.run(go())


def test_host_gate_forgets_idle_hosts_but_keeps_their_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(politeness, "_PRUNE_AT", 2)
    now = [0.0]
    gate = politeness.HostGate(concurrency=4, per_host=1, clock=lambda: now[0])

    async def go() -> None:
        for host in ("a", "b"):
            async with gate.slot(host, delay=10.0):
                pass
        now[0] = 5.0
        async with gate.slot("c", delay=10.0):  # a and b still owe 5 s of delay: kept
            pass
        assert set(gate._hosts) == {"a", "b", "c"}
        now[0] = 20.0
        async with gate.slot("d", delay=10.0):
            pass
        assert set(gate._hosts) == {"d"}

    run(go())


def test_host_that_asked_to_retry_later_gets_no_request_until_then(local_web: LocalWeb) -> None:
    local_web.route("/busy", "slow down", status=429, headers={"Retry-After": "60"})
    local_web.route("/other", "fine")

    async def go() -> tuple[float | None, Counter[str]]:
        async with Fetcher(settings(), [local_web.origin]) as fetcher:
            with pytest.raises(HTTPStatusError):
                await fetcher.fetch(local_web.url("/busy"))
            with pytest.raises(HTTPStatusError) as caught:
                await fetcher.fetch(local_web.url("/other"))
            return caught.value.retry_after, fetcher.stats

    retry_after, stats = run(go())
    assert retry_after is not None and 55 < retry_after <= 60
    assert stats["deferred"] == 1 and local_web.hits("/other") == 0


# ---------------------------------------------------------------- each failure named by its cause


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens: a connection is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def no_such_host(host: str, port: int) -> list[str]:
    """The system resolver's own answer for a name that does not exist (no DNS server is reachable here)."""
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def fetch_url(url: str, fetch_settings: FetchSettings, trusted: list[str], **kwargs: Any) -> Page | NotModified:
    async def go() -> Page | NotModified:
        async with Fetcher(fetch_settings, trusted, **kwargs) as fetcher:
            return await fetcher.fetch(url)

    return run(go())


def test_a_name_that_does_not_resolve_is_a_dns_error() -> None:
    with pytest.raises(DNSError, match=r"cannot resolve host 'news\.invalid' \(DNS: Name or service not known\)"):
        fetch_url("https://news.invalid/a", settings(), [], resolver=no_such_host)


def test_a_closed_port_is_connection_refused() -> None:
    url = f"http://127.0.0.1:{closed_port()}/a"
    with pytest.raises(RefusedError, match="connection refused by 127.0.0.1"):
        fetch_url(url, settings(), [url])


def test_a_server_that_hangs_is_a_timeout(local_web: LocalWeb) -> None:
    local_web.route("/hang", "late", delay=3.0)
    with pytest.raises(FetchTimeoutError, match="timed out: no complete answer within 0.3 s"):
        fetch(local_web, "/hang", settings(timeout=0.3))


def test_tls_with_a_server_that_speaks_plain_http_is_a_tls_error(local_web: LocalWeb) -> None:
    url = f"https://127.0.0.1:{local_web.port}/a"
    with pytest.raises(TLSError, match="TLS failed with 127.0.0.1"):
        fetch_url(url, settings(), [url])


def test_an_error_status_says_its_name(local_web: LocalWeb) -> None:
    with pytest.raises(HTTPStatusError, match="HTTP 404 Not Found"):
        fetch(local_web, "/missing")


def test_a_private_address_is_refused_by_name() -> None:
    async def private(host: str, port: int) -> list[str]:
        return ["10.0.0.7"]

    with pytest.raises(BlockedURLError, match="refused: intranet.example resolves to non-public address 10.0.0.7"):
        fetch_url("https://intranet.example/a", settings(), [], resolver=private)


def test_robots_txt_that_cannot_be_read_is_not_a_robots_refusal() -> None:
    """RFC 9309: fetch nothing of the site for now; but say why, not 'disallowed by robots.txt'. A host that gives
    no answer at all is named first: "robots.txt could not be read (...)" sent the operator to robots.txt."""
    url = f"http://127.0.0.1:{closed_port()}/a"
    with pytest.raises(RobotsUnreachableError) as caught:
        fetch_url(url, settings(robots=True), [url])
    assert str(caught.value).startswith("connection refused by 127.0.0.1 (asked for its robots.txt, read first)")
    assert "disallowed" not in str(caught.value)


def test_a_held_slot_is_the_callers_after_a_page_and_given_back_when_the_fetch_fails(local_web: LocalWeb) -> None:
    local_web.route("/a", "first")
    local_web.route("/b", "second")
    local_web.route("/hop", "", status=302, headers={"Location": "/a"})
    local_web.route("/broken", "no", status=500)

    async def go() -> None:
        hold = Holding(asyncio.Semaphore(1), asyncio.Semaphore(1), large_from=1_000_000)
        async with Fetcher(settings(), [local_web.origin]) as fetcher:
            await fetcher.fetch(local_web.url("/hop"), hold=hold)  # one slot for the page, whatever its redirects
            assert hold.pages.locked()
            waiting = asyncio.create_task(fetcher.fetch(local_web.url("/b"), hold=hold))
            await asyncio.sleep(0.3)
            assert not waiting.done() and "/b" not in [request.path for request in local_web.requests]
            hold.release(5)  # the caller is done with its page: the next request may start
            page = await asyncio.wait_for(waiting, 5)
            assert isinstance(page, Page) and page_text(page) == "second"
            hold.release(len(page.body))
            with pytest.raises(HTTPStatusError):
                await fetcher.fetch(local_web.url("/broken"), hold=hold)
            assert not hold.pages.locked() and not hold.large.locked()

    run(go())


def test_a_large_body_waits_for_a_large_slot_while_small_ones_go_on(local_web: LocalWeb) -> None:
    """Each slot could hold a body of fetch.max_bytes: 32 pages of 5 MB took the monitor's process past 200 MB."""
    local_web.route("/big1", "a" * 50_000)
    local_web.route("/big2", "b" * 50_000)
    local_web.route("/small", "c" * 100)

    async def go() -> None:
        hold = Holding(asyncio.Semaphore(4), asyncio.Semaphore(1), large_from=10_000)
        async with Fetcher(settings(), [local_web.origin]) as fetcher:
            first = await fetcher.fetch(local_web.url("/big1"), hold=hold)
            assert isinstance(first, Page) and hold.large.locked()
            second = asyncio.create_task(fetcher.fetch(local_web.url("/big2"), hold=hold))
            small = await asyncio.wait_for(fetcher.fetch(local_web.url("/small"), hold=hold), 5)
            assert isinstance(small, Page) and not second.done()
            hold.release(len(small.body))
            hold.release(len(first.body))  # the first large page is parsed: the second may read on
            page = await asyncio.wait_for(second, 5)
            assert isinstance(page, Page) and page.body == b"b" * 50_000
            hold.release(len(page.body))
            assert not hold.large.locked() and not hold.pages.locked()

    run(go())
