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
"""

from __future__ import annotations

import asyncio
import select
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore

# Bytes a server may send for one request before its answer's head is complete: h11 holds one head to 16 KB, so
# this is a dozen interim answers of the largest head, or thousands of ordinary ones.
HEAD_BYTES = 256 * 1024
_HEAD = f"{HEAD_BYTES // 1024} KB before its answer's head was complete"


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
        return data

    def allow(self, size: int) -> None:
        """The head is in: the body may take ``size`` bytes on the wire, its framing included."""
        self._left, self._allowed = size, f"{size:,} bytes for its answer's body"

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        self._left, self._allowed = HEAD_BYTES, _HEAD  # a request: the count starts again
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
