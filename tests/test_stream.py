"""The asyncio network stream under httpcore: plain and TLS exchanges, time-outs, closed connections.

Real sockets on 127.0.0.1 throughout; TLS uses a self-signed certificate made with openssl.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpcore
import pytest
from tests.rawserver import RawServer
from tests.smtpserver import CertPair, make_cert

from monitor.fetch.security import AddressPolicy, GuardedBackend

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"


def answer_each_request(conn: socket.socket) -> None:
    """Keep-alive: answer every request on the connection until the client leaves."""
    buffer = b""
    while True:
        data = conn.recv(65536)
        if not data:
            return
        buffer += data
        while b"\r\n\r\n" in buffer:
            _, buffer = buffer.split(b"\r\n\r\n", 1)
            conn.sendall(RESPONSE)


def answer_once_then_close(conn: socket.socket) -> None:
    while b"\r\n\r\n" not in conn.recv(65536):
        pass
    conn.sendall(RESPONSE)


def never_answer(conn: socket.socket) -> None:
    time.sleep(5)


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> CertPair:
    return make_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def serve() -> Iterator[Callable[..., RawServer]]:
    servers: list[RawServer] = []

    def start(handler: Callable[[socket.socket], None], tls: ssl.SSLContext | None = None) -> RawServer:
        servers.append(RawServer(handler, tls))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def pool(port: int, scheme: str = "http", ssl_context: ssl.SSLContext | None = None) -> httpcore.AsyncConnectionPool:
    policy = AddressPolicy([f"{scheme}://127.0.0.1:{port}"])
    return httpcore.AsyncConnectionPool(ssl_context=ssl_context, network_backend=GuardedBackend(policy))


def server_context(cert: CertPair) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert.cert, cert.key)
    return context


def get(connections: httpcore.AsyncConnectionPool, url: str, timeout: float = 5.0) -> httpcore.Response:
    async def go() -> httpcore.Response:
        async with connections:
            limits = dict.fromkeys(("connect", "read", "write", "pool"), timeout)
            return await connections.request("GET", url, extensions={"timeout": limits})

    return asyncio.run(go())


def test_plain_requests_reuse_one_kept_connection(serve: Callable[..., RawServer]) -> None:
    server = serve(answer_each_request)

    async def two() -> list[bytes]:
        async with pool(server.port) as connections:
            return [(await connections.request("GET", f"http://127.0.0.1:{server.port}/{n}")).content for n in range(2)]

    assert asyncio.run(two()) == [b"hello", b"hello"]
    assert server.connections == 1


def test_a_connection_the_server_closed_is_not_reused(serve: Callable[..., RawServer]) -> None:
    server = serve(answer_once_then_close)

    async def two() -> list[bytes]:
        async with pool(server.port) as connections:
            first = (await connections.request("GET", f"http://127.0.0.1:{server.port}/1")).content
            await asyncio.sleep(0.2)  # the server's close arrives while the connection idles
            second = (await connections.request("GET", f"http://127.0.0.1:{server.port}/2")).content
            return [first, second]

    assert asyncio.run(two()) == [b"hello", b"hello"]
    assert server.connections == 2


def test_tls_is_verified_against_the_trusted_certificate(serve: Callable[..., RawServer], cert: CertPair) -> None:
    server = serve(answer_each_request, server_context(cert))
    client = ssl.create_default_context(cafile=str(cert.cert))
    response = get(pool(server.port, "https", client), f"https://127.0.0.1:{server.port}/")
    assert response.status == 200 and response.content == b"hello"


def test_an_untrusted_certificate_fails_the_connection(
    serve: Callable[..., RawServer], cert: CertPair, tmp_path: Path
) -> None:
    server = serve(answer_each_request, server_context(cert))
    other = make_cert(tmp_path)  # a different self-signed certificate: not the server's
    client = ssl.create_default_context(cafile=str(other.cert))
    with pytest.raises(httpcore.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        get(pool(server.port, "https", client), f"https://127.0.0.1:{server.port}/")


def test_a_server_that_never_answers_times_out(serve: Callable[..., RawServer]) -> None:
    server = serve(never_answer)
    started = time.monotonic()
    with pytest.raises(httpcore.ReadTimeout):
        get(pool(server.port), f"http://127.0.0.1:{server.port}/", timeout=0.3)
    assert time.monotonic() - started < 3


def test_a_closed_port_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused
        with pytest.raises(httpcore.ConnectError):
            get(pool(port), f"http://127.0.0.1:{port}/")
