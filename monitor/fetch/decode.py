"""Turn raw response bytes into a capped body and text.

httpx decompresses before a caller can count (one 64 KiB gzip chunk came out
as 64 MiB), so the fetcher reads ``iter_raw()`` and decompresses here, asking
each decompressor for at most the bytes still allowed. A gzip or brotli bomb
is therefore cut at ``max_bytes`` with memory staying flat.

The charset is taken, in order, from a byte-order mark, the Content-Type
header, the document itself (``<meta charset>``, ``http-equiv`` or the XML
declaration), then statistical detection. A declared charset is trusted only
if it is one of the web's labels (the WHATWG Encoding Standard's, decoded as
browsers decode them) and the body decodes with it, and a non-UTF-8 label on a
body that is valid, non-ASCII UTF-8 is taken for the mislabelling it almost
always is. One exception: a body declared UTF-8 that is UTF-8 but for a few
stray bytes (a Latin-1 snippet pasted into a template) stays UTF-8, the stray
bytes replaced, as browsers do; detection would re-decode the whole page in
some other charset and garble every non-ASCII letter ("MĂ¤scot").
"""

from __future__ import annotations

import codecs
import re
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

import brotli
import charset_normalizer

from monitor.models import Page

__all__ = [
    "BodyTooLargeError", "UnsupportedEncodingError", "decode_text", "looks_binary", "page_text", "page_utf8",
    "read_capped", "unwrap_gzip", "utf8_text",
]

_SNIFF_BYTES = 4096
_DETECT_BYTES = 65536
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_.:-]+)""")
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
_BINARY_HEAD_BYTES = 8000  # of a document in UTF-8, looked at for a NUL (as git looks at a file's)

# The labels of the WHATWG Encoding Standard (encoding.spec.whatwg.org), by the Python codec that decodes
# them as browsers do. Python's codecs name far more (``unicode_escape`` turns ``\\u0041`` escapes into
# text, ``utf-7`` reads ``+ADw-`` as ``<``, ``cp037`` is EBCDIC) and miss web labels (``windows-874``,
# ``x-sjis``); a page's label is therefore looked up here, and any other is ignored, as browsers do.
# The "replacement" and x-user-defined encodings are left out: they decode no text. So are the UTF-16
# labels: a UTF-16 body starts with a byte-order mark, read first, and a UTF-16 label on a body
# without one is almost always an ASCII-compatible lie.
_WHATWG_CODECS = {
    "utf-8": "unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf-8 utf8 x-unicode20utf8",
    "cp866": "866 cp866 csibm866 ibm866",
    "iso8859-2": "csisolatin2 iso-8859-2 iso-ir-101 iso8859-2 iso88592 iso_8859-2 iso_8859-2:1987 l2 latin2",
    "iso8859-3": "csisolatin3 iso-8859-3 iso-ir-109 iso8859-3 iso88593 iso_8859-3 iso_8859-3:1988 l3 latin3",
    "iso8859-4": "csisolatin4 iso-8859-4 iso-ir-110 iso8859-4 iso88594 iso_8859-4 iso_8859-4:1988 l4 latin4",
    "iso8859-5": "csisolatincyrillic cyrillic iso-8859-5 iso-ir-144 iso8859-5 iso88595 iso_8859-5 iso_8859-5:1988",
    "iso8859-6": (
        "arabic asmo-708 csiso88596e csiso88596i csisolatinarabic ecma-114 iso-8859-6 iso-8859-6-e iso-8859-6-i"
        " iso-ir-127 iso8859-6 iso88596 iso_8859-6 iso_8859-6:1987"
    ),
    "iso8859-7": (
        "csisolatingreek ecma-118 elot_928 greek greek8 iso-8859-7 iso-ir-126 iso8859-7 iso88597 iso_8859-7"
        " iso_8859-7:1987 sun_eu_greek"
    ),
    "iso8859-8": (
        "csiso88598e csisolatinhebrew hebrew iso-8859-8 iso-8859-8-e iso-ir-138 iso8859-8 iso88598 iso_8859-8"
        " iso_8859-8:1988 visual csiso88598i iso-8859-8-i logical"
    ),
    "iso8859-10": "csisolatin6 iso-8859-10 iso-ir-157 iso8859-10 iso885910 l6 latin6",
    "iso8859-13": "iso-8859-13 iso8859-13 iso885913",
    "iso8859-14": "iso-8859-14 iso8859-14 iso885914",
    "iso8859-15": "csisolatin9 iso-8859-15 iso8859-15 iso885915 iso_8859-15 l9",
    "iso8859-16": "iso-8859-16",
    "koi8-r": "cskoi8r koi koi8 koi8-r koi8_r",
    "koi8-u": "koi8-ru koi8-u",
    "mac-roman": "csmacintosh mac macintosh x-mac-roman",
    "cp874": "dos-874 iso-8859-11 iso8859-11 iso885911 tis-620 windows-874",
    "cp1250": "cp1250 windows-1250 x-cp1250",
    "cp1251": "cp1251 windows-1251 x-cp1251",
    "cp1252": (  # iso-8859-1 and ascii among them: the web reads both as windows-1252
        "ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 iso-ir-100 iso8859-1 iso88591 iso_8859-1"
        " iso_8859-1:1987 l1 latin1 us-ascii windows-1252 x-cp1252"
    ),
    "cp1253": "cp1253 windows-1253 x-cp1253",
    "cp1254": (
        "cp1254 csisolatin5 iso-8859-9 iso-ir-148 iso8859-9 iso88599 iso_8859-9 iso_8859-9:1989 l5 latin5"
        " windows-1254 x-cp1254"
    ),
    "cp1255": "cp1255 windows-1255 x-cp1255",
    "cp1256": "cp1256 windows-1256 x-cp1256",
    "cp1257": "cp1257 windows-1257 x-cp1257",
    "cp1258": "cp1258 windows-1258 x-cp1258",
    "mac-cyrillic": "x-mac-cyrillic x-mac-ukrainian",
    "gb18030": "chinese csgb2312 csiso58gb231280 gb2312 gb_2312 gb_2312-80 gbk iso-ir-58 x-gbk gb18030",
    "big5hkscs": "big5 big5-hkscs cn-big5 csbig5 x-x-big5",
    "euc_jp": "cseucpkdfmtjapanese euc-jp x-euc-jp",
    "iso2022_jp": "csiso2022jp iso-2022-jp",
    "cp932": "csshiftjis ms932 ms_kanji shift-jis shift_jis sjis windows-31j x-sjis",
    "cp949": "cseuckr csksc56011987 euc-kr iso-ir-149 korean ks_c_5601-1987 ks_c_5601-1989 ksc5601 ksc_5601 windows-949",
}
_WEB_LABELS = {label: codec for codec, labels in _WHATWG_CODECS.items() for label in labels.split()}


# Members of one gzip body. Writers make one, or a few when they append; a stream of empty 20-byte members
# decompresses to nothing and cost the event loop a decompressor each, 370,000 a second, until the timeout.
MAX_GZIP_MEMBERS = 1000
# Pieces a body may arrive in (the chunks of a chunked body, the reads of one sent a few bytes at a time): this many,
# and one more for each PIECE_BYTES it brings. Each piece costs the HTTP stack about 8 us of the event loop whatever
# its size (h11 finds its chunk header, httpcore and httpx pass it up): a body in chunks of one byte, within its wire
# cap, took 7.5 s of the loop's CPU. Servers send chunks of kilobytes, and TCP segments carry more than one.
FREE_PIECES = 1000
PIECE_BYTES = 1024


class BodyTooLargeError(Exception):
    """The decoded body would exceed the cap."""


class UnsupportedEncodingError(Exception):
    """A body we do not read: a Content-Encoding we cannot undo, a corrupt compressed stream, or a body in tiny pieces."""


class _Decompressor(Protocol):
    def feed(self, data: bytes, limit: int) -> bytes: ...
    def pending(self, limit: int) -> bytes: ...


class _Identity:
    def feed(self, data: bytes, limit: int) -> bytes:
        return data

    def pending(self, limit: int) -> bytes:
        return b""


class _Zlib:
    """gzip (also concatenated members, at most :data:`MAX_GZIP_MEMBERS`) or deflate, with or without the zlib wrapper.

    Bytes after the last complete member that do not start a new one (padding,
    a stray newline) are ignored, as browsers do.
    """

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._wbits = 16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS
        self._obj = zlib.decompressobj(self._wbits)
        self._members = 1
        self._started = False
        self._fresh = False  # self._obj is a member that has consumed nothing yet
        self._done = False  # the stream ended; anything after it is ignored

    def feed(self, data: bytes, limit: int) -> bytes:
        if not self._started and data:
            self._started = True
            if not self._gzip and data[0] & 0x0F != 8:  # "deflate" sent without its zlib header
                self._wbits = -zlib.MAX_WBITS
                self._obj = zlib.decompressobj(self._wbits)
        return self._run(data, limit)

    def pending(self, limit: int) -> bytes:
        return self._run(self._obj.unused_data if self._obj.eof else self._obj.unconsumed_tail, limit)

    def _run(self, data: bytes, limit: int) -> bytes:
        out = bytearray()
        while data and not self._done:
            if self._obj.eof:  # a member ended: what follows is another member or junk
                if not self._gzip:
                    self._done = True
                    break
                self._members += 1
                if self._members > MAX_GZIP_MEMBERS:
                    raise UnsupportedEncodingError(f"more than {MAX_GZIP_MEMBERS} gzip members")
                self._obj, self._fresh = zlib.decompressobj(self._wbits), True
            try:
                out += self._obj.decompress(data, max(limit - len(out), 1))
            except zlib.error as exc:
                if self._fresh:
                    self._done = True
                    break
                raise UnsupportedEncodingError(f"corrupt compressed body: {exc}") from exc
            self._fresh = False
            if len(out) >= limit or not self._obj.eof:
                break
            data = self._obj.unused_data
        return bytes(out)


class _Brotli:
    def __init__(self) -> None:
        self._obj = brotli.Decompressor()

    def feed(self, data: bytes, limit: int) -> bytes:
        return self._process(data, limit)

    def pending(self, limit: int) -> bytes:
        # Output held back at the last limit must be drained before more input is accepted.
        return b"" if self._obj.can_accept_more_data() else self._process(b"", limit)

    def _process(self, data: bytes, limit: int) -> bytes:
        try:
            out: bytes = self._obj.process(data, output_buffer_limit=max(limit, 1))
        except brotli.error as exc:
            raise UnsupportedEncodingError(f"corrupt brotli body: {exc}") from exc
        return out


def _decompressor(content_encoding: str) -> _Decompressor:
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return _Identity()
    if len(codings) > 1:
        raise UnsupportedEncodingError(f"stacked content encodings {content_encoding!r}")
    coding = codings[0]
    if coding in ("gzip", "x-gzip"):
        return _Zlib(gzip=True)
    if coding == "deflate":
        return _Zlib(gzip=False)
    if coding == "br":
        return _Brotli()
    raise UnsupportedEncodingError(f"content encoding {coding!r}")


async def read_capped(
    raw: AsyncIterator[bytes], content_encoding: str, max_bytes: int, *, truncate: bool = False,
    grown: Callable[[int], Awaitable[None]] | None = None,
) -> bytes:
    """Read and decompress a raw body; raise :class:`BodyTooLargeError` past ``max_bytes``, or with ``truncate``
    return its first ``max_bytes`` (robots.txt: RFC 9309 has what lies past the limit ignored). ``grown`` is
    awaited with the size read so far after each chunk, before the next is read.

    Each decompressor call may produce at most one byte more than the room left,
    which is enough to tell "exactly at the cap" from "over it". The compressed bytes are capped too, a
    hundredth above ``max_bytes`` (no compression grows data by as much): a body that decompresses to
    little or nothing would otherwise be read until the timeout. So are the pieces it comes in (:data:`FREE_PIECES`).
    """
    decoder = _decompressor(content_encoding)
    body = bytearray()
    raw_cap, raw_read, pieces = max_bytes + max_bytes // 100 + 1024, 0, 0
    async for chunk in raw:
        raw_read += len(chunk)
        pieces += 1
        if pieces > FREE_PIECES + raw_read // PIECE_BYTES:
            raise UnsupportedEncodingError(f"body sent in {pieces:,} pieces of {raw_read:,} bytes in all: past the"
                                           f" first {FREE_PIECES:,}, a piece must bring {PIECE_BYTES:,} bytes on average")
        body += decoder.feed(chunk, max_bytes - len(body) + 1)
        while len(body) <= max_bytes and (more := decoder.pending(max_bytes - len(body) + 1)):
            body += more
        if len(body) > max_bytes:
            if truncate:
                return bytes(body[:max_bytes])
            raise BodyTooLargeError(f"body exceeds {max_bytes:,} bytes (fetch.max_bytes)")
        if raw_read > raw_cap:
            raise BodyTooLargeError(f"compressed body exceeds {raw_cap:,} bytes (a hundredth over fetch.max_bytes)")
        if grown is not None:
            await grown(len(body))
    return bytes(body)


def unwrap_gzip(data: bytes, max_bytes: int) -> bytes:
    """Decompress a gzip file (a ``.xml.gz`` sitemap served as is) under the same cap."""
    decoder = _Zlib(gzip=True)
    body = bytearray(decoder.feed(data, max_bytes + 1))
    while len(body) <= max_bytes and (more := decoder.pending(max_bytes - len(body) + 1)):
        body += more
    if len(body) > max_bytes:
        raise BodyTooLargeError(f"body exceeds {max_bytes:,} bytes (fetch.max_bytes)")
    return bytes(body)


def page_text(page: Page) -> str:
    """A fetched page's text, its charset found as the module docstring says."""
    return decode_text(page.body, page.content_type)


def page_utf8(page: Page) -> bytes:
    """A fetched page as an HTML parser reads it: UTF-8, the body itself where it is UTF-8 already.

    Most pages are. Encoding the decoded text back for the parser took 7 % of a worker's
    instructions per page (a text with characters past Latin-1 is two bytes a character in Python).
    """
    return utf8_text(page.body, page.content_type)


def decode_text(body: bytes, content_type: str = "") -> str:
    """Decode a document, finding its charset as the module docstring says."""
    return _decode(body, content_type)[0]


def utf8_text(body: bytes, content_type: str = "") -> bytes:
    """A document's text as :func:`decode_text` finds it, encoded in UTF-8 (the body as it is, when it was)."""
    text, is_body = _decode(body, content_type)
    return body if is_body else text.encode("utf-8", "ignore")


def _decode(body: bytes, content_type: str) -> tuple[str, bool]:
    """The text, and whether it is the body read as UTF-8 from its first byte (the body is its UTF-8 then)."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, errors="replace"), False
    head = body[:_SNIFF_BYTES]
    declared = [
        label
        for label in (_header_charset(content_type), _match(_META_CHARSET, head), _match(_XML_ENCODING, head))
        if label is not None
    ]
    utf8 = _strict(body, "utf-8")
    if utf8 is not None and (not declared or _is_utf8(declared[0]) or not body.isascii()):
        return utf8, True  # (the first declared label being UTF-8, the loop below would decode it again)
    if declared and _is_utf8(declared[0]):
        lenient = body.decode("utf-8", errors="replace")
        if _mostly_utf8(lenient):
            return lenient, False
    for label in declared:
        text = _strict(body, label)
        if text is not None:
            return text, False
    best = charset_normalizer.from_bytes(body[:_DETECT_BYTES]).best()
    encoding = best.encoding if best is not None else "utf-8"
    return body.decode(encoding, errors="replace"), False


def looks_binary(utf8: bytes) -> bool:
    """Whether a document, as :func:`utf8_text` or :func:`page_utf8` gives it, is binary data (an image, an
    archive, a program), not a page: a NUL among its first 8,000 bytes, as git judges a file.

    No page is written with a NUL (HTML makes one a parse error wherever it stands), while the headers of
    images, archives and programs are padded with them. Other controls do not count: a page may carry a
    terminal's escape sequences (a BEL among them), which are stripped where its text is shown. The document
    is judged as decoded, not as it came: a UTF-16 page, half of whose bytes are NULs, is the text its
    byte-order mark makes of it, while binary data, decoded as UTF-8 with its bad bytes replaced or in a
    detected charset, keeps its NULs (in UTF-8 a NUL byte is a NUL character and nothing else).
    """
    return utf8.find(b"\x00", 0, _BINARY_HEAD_BYTES) >= 0


def _mostly_utf8(text: str) -> bool:
    """Whether a lenient UTF-8 decoding found more valid multi-byte characters than bad bytes.

    A body in a legacy single-byte charset almost never forms valid UTF-8 sequences, so
    decoded as UTF-8 it is nearly all replacement characters; a UTF-8 body with stray bytes is
    the other way round.
    """
    bad = text.count("\ufffd")
    good = sum(not c.isascii() for c in text) - bad
    return good > bad


def media_type(content_type: str) -> str:
    """A Content-Type's essence, lowercased ("text/html"). A header sent twice reaches us joined by a comma
    ("text/html, text/html"): as browsers do, the last type that parses counts."""
    for part in reversed(content_type.split(",")):
        essence = part.split(";", 1)[0].strip().lower()
        if "/" in essence:
            return essence
    return content_type.split(";", 1)[0].strip().lower()


def _header_charset(content_type: str) -> str | None:
    match = _HEADER_CHARSET.search(content_type)
    return match.group(1) if match else None


def _match(pattern: re.Pattern[bytes], head: bytes) -> str | None:
    match = pattern.search(head)
    return match.group(1).decode("ascii") if match else None


def _is_utf8(label: str) -> bool:
    return _WEB_LABELS.get(label.lower()) == "utf-8"


def _strict(body: bytes, label: str) -> str | None:
    """Decode with a declared label, or None when the label is no web label (see above) or does not fit."""
    name = _WEB_LABELS.get(label.lower())
    if name is None:
        return None
    try:
        return body.decode(name)
    except UnicodeError:
        return None
