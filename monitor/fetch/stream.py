"""httpcore's network stream on asyncio's own streams.

httpcore's default backend goes through anyio, which wraps every read and write in a
cancel scope and a checkpoint: a tenth of a millisecond per request that buys nothing
here, since monitor only ever runs on asyncio. This stream maps asyncio's streams onto
httpcore's interface, with httpcore's exceptions and per-operation time-outs.

It also counts what the server sends for each request, which only the timeout bounded
before: an endless run of interim answers (``102 Processing``) or of chunks with long
extensions and one byte of body each kept the event loop parsing at full CPU until
``fetch.timeout``. Before the answer's head is complete at most :data:`HEAD_BYTES` may
arrive; the client then allows its body what its caps allow (:meth:`AsyncioStream.allow`).

The header fields of those heads are counted too, at most :data:`HEAD_FIELDS`: each costs
the HTTP stack about 2 µs of the event loop's CPU (h11 splits and checks it, httpcore and
httpx copy it), so a head of 18,000 tiny fields within h11's 100 KB cost 40 ms an answer,
where a busy site sends a few dozen. A chunked body's trailer is a head of fields after its
last chunk, parsed so too: its fields count against the same budget (:class:`_Trailer`).
"""

from __future__ import annotations

import asyncio
import re
import select
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore

from monitor.fetch.decode import FREE_PIECES, PIECE_BYTES

# Bytes a server may send for one request before its answer's head is complete: h11, as httpcore sets it up, holds one
# head to 100 KB, so this is two interim answers of the largest head, or thousands of ordinary ones.
HEAD_BYTES = 256 * 1024
_HEAD = f"{HEAD_BYTES // 1024} KB before its answer's head was complete"
# Header fields a server may send for one request, its interim answers' included.
HEAD_FIELDS = 1000
_BLANK_LINE = re.compile(rb"\n\r?\n")  # the end of a head, as h11 finds it
_INTERIM = re.compile(rb"HTTP/[0-9]\.[0-9] 1")  # an interim answer's status line starts so, as h11 reads it
_STATUS_BYTES = 10


async def open_stream(
    address: str,
    port: int,
    *,
    timeout: float | None = None,
    local_address: str | None = None,
    socket_options: Iterable[Any] | None = None,
) -> AsyncioStream:
    """A TCP connection to an address (not a name: the caller resolved and checked it)."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                address, port, local_addr=(local_address, 0) if local_address else None
            )
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(f"connect to {address} port {port} timed out") from exc
    except OSError as exc:
        raise httpcore.ConnectError(str(exc)) from exc
    sock = writer.get_extra_info("socket")
    for option in socket_options or ():
        sock.setsockopt(*option)
    return AsyncioStream(reader, writer)


class AsyncioStream(httpcore.AsyncNetworkStream):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._left = HEAD_BYTES  # bytes the server may still send for the request in flight
        self._allowed = _HEAD
        self._heads = _HeadFields()
        self._trailer: _Trailer | None = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                data = await self._reader.read(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout("read timed out") from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc
        self._left -= len(data)
        if self._left < 0:
            raise httpcore.ReadError(f"the server sent more than {self._allowed} (interim answers, chunk headers,"
                                     " a body past its cap)")
        if self._heads.reading and not self._heads.read(data):
            raise httpcore.ReadError(f"the server sent more than {HEAD_FIELDS:,} header fields before its answer's"
                                     " head was complete")
        self._count_trailer(data)
        return data

    def allow(self, size: int, *, chunked: bool = False) -> None:
        """The head is in: the body may take ``size`` bytes on the wire, its framing included; a ``chunked`` one's
        trailer may take the header fields the heads left."""
        self._left, self._allowed = size, f"{size:,} bytes for its answer's body"
        self._heads.reading = False
        if chunked:
            self._trailer = _Trailer(self._heads.left)
            self._count_trailer(self._heads.after)

    def _count_trailer(self, data: bytes) -> None:
        if self._trailer is not None and not self._trailer.read(data):
            raise httpcore.ReadError(f"the server sent more than {HEAD_FIELDS:,} header fields for its answer"
                                     " (its trailer's included)")

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        self._left, self._allowed = HEAD_BYTES, _HEAD  # a request: the count starts again
        self._heads, self._trailer = _HeadFields(), None
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()
        except TimeoutError as exc:
            raise httpcore.WriteTimeout("write timed out") from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc)) from exc

    async def aclose(self) -> None:
        """Close without waiting for the peer: a server that never answers cannot hold us."""
        self._writer.close()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout("TLS handshake timed out") from exc
        except (OSError, ssl.SSLError) as exc:  # certificate errors are SSLErrors, themselves OSErrors
            raise httpcore.ConnectError(str(exc)) from exc
        return self

    def get_extra_info(self, info: str) -> Any:
        """What httpcore asks: the socket, its addresses, the TLS object, and whether it is readable.

        httpcore asks "is_readable" of each kept connection before reusing it (a readable
        idle socket is one the server closed): one poll of the socket answers it.
        """
        if info == "is_readable":
            if self._writer.is_closing() or self._reader.at_eof():
                return True
            return _is_readable(self._writer.get_extra_info("socket"))
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        return self._writer.get_extra_info(info)


class _HeadFields:
    """Counts the header fields of the heads a server sends for one request, as they arrive in reads of any size.

    A head ends at a blank line. An interim answer's (status 1xx) is followed by another head; the final answer's by
    its body, which is not counted (its lines are no fields) though it may come in the same read.
    """

    def __init__(self) -> None:
        self.reading = True  # False once the final answer's head is complete
        self._left = HEAD_FIELDS + 1  # the newlines still allowed: the fields, and the head's status line
        self._status = b""  # the head's first bytes, up to its status code
        self._tail = b""  # the last bytes of the head so far, for a blank line split between two reads
        self.after = b""  # what came after the final head in its read: the body's first bytes

    @property
    def left(self) -> int:
        """The header fields still allowed."""
        return max(self._left - 1, 0)

    def read(self, data: bytes) -> bool:
        """Count the fields in ``data``; False once there are more than :data:`HEAD_FIELDS`."""
        position = 0
        while self.reading and position < len(data):
            if len(self._status) < _STATUS_BYTES:
                self._status += data[position : position + _STATUS_BYTES - len(self._status)]
            window = self._tail + data[position:]
            blank = _BLANK_LINE.search(window)
            end = len(data) if blank is None else position + blank.end() - len(self._tail)
            # The head's blank line is no field.
            self._left -= data.count(b"\n", position, end) - (blank is not None)
            if self._left < 0:
                return False
            if blank is None:
                self._tail = window[-2:]
                return True
            # "HTTP/1.1 1xx": an interim answer, whose head the next one follows. Else the body follows.
            self.reading = _INTERIM.match(self._status) is not None
            if not self.reading:
                self.after = data[end:]
            self._left += 1  # the next head's status line is no field either
            self._status, self._tail, position = b"", b"", end
        return True


class _Trailer:
    """Follows a chunked body's framing to its trailer, and counts the trailer's fields.

    After the last chunk (of size 0) a server may send header fields, up to a blank line, which h11 parses as a
    head's: past the heads' count, 19,000 tiny ones within h11's 100 KB cost 36 ms of the event loop an answer (1,000
    such links, 36 s). Only the framing is read here: a chunk's size line, then its data skipped by length. A size
    line h11 would refuse ends the count (h11 refuses the body), and so do more chunks than the body's reader takes
    (:data:`~monitor.fetch.decode.FREE_PIECES`): it refuses the body before h11 reaches the trailer, and following a
    read of 10,000 tiny chunks to its end doubled the cost of such a body.
    """

    def __init__(self, fields: int) -> None:
        self._left = fields  # the trailer's fields still allowed
        self._skip = 0  # bytes of chunk data (and the CRLF after it) still to pass over
        self._size = b""  # the size line so far, up to _SIZE_BYTES of it (its extensions are not read)
        self._in_trailer = False
        self._line = False  # the trailer's line so far holds a field
        self._done = False
        self._chunks = self._data = 0  # chunks and their bytes so far

    def read(self, data: bytes) -> bool:
        """Follow ``data``; False once the trailer has more fields than allowed."""
        position = 0
        while not self._done and position < len(data):
            if self._skip:
                taken = min(self._skip, len(data) - position)
                self._skip -= taken
                position += taken
                continue
            newline = data.find(b"\n", position)
            end = len(data) if newline < 0 else newline
            if self._in_trailer:
                self._line = self._line or bool(data[position:end].strip(b"\r"))
            else:
                self._size += data[position : position + max(_SIZE_BYTES - len(self._size), 0)][: end - position]
            if newline < 0:
                return True
            position = newline + 1
            if self._in_trailer:
                if not self._line:
                    self._done = True  # the blank line: the answer is complete
                elif (left := self._left - 1) < 0:
                    return False
                else:
                    self._left, self._line = left, False
                continue
            size = _chunk_size(self._size)
            self._size = b""
            if size is None:
                self._done = True
            elif size == 0:
                self._in_trailer = True
            else:
                self._skip = size + 2  # its data, then CRLF
                self._chunks, self._data = self._chunks + 1, self._data + size
                self._done = self._chunks > FREE_PIECES + self._data // PIECE_BYTES
        return True


_SIZE_BYTES = 32  # of a chunk's size line, enough for its size (h11 allows 20 hex digits)
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,20}")


def _chunk_size(line: bytes) -> int | None:
    """A chunk's size from its size line ("1a;ext=x\r"), or None for a line h11 would refuse."""
    digits = line.split(b";", 1)[0].strip(b" \t\r")
    return int(digits, 16) if _CHUNK_SIZE.fullmatch(digits) else None


def _is_readable(sock: Any) -> bool:
    """httpcore's test: no socket or a closed one counts as readable."""
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return True
    if not hasattr(select, "poll"):  # Windows
        return bool(select.select([fd], [], [], 0)[0])
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))
