"""A real HTTP server on 127.0.0.1 with programmable routes, for tests of fetching.

Tests talk HTTP to it instead of mocking httpx, so timeouts, streaming,
compression and redirects are exercised for real::

    def test_x(local_web: LocalWeb) -> None:
        local_web.route("/feed.xml", body=FEED, content_type="application/rss+xml", etag='"v1"')
        url = local_web.url("/feed.xml")

A route answers with a status, headers and a body; it can wait before
answering (``delay``), drip the body slowly (``drip``), gzip it, stream an
endless body (``stream``), or answer 304 to a matching ``If-None-Match`` /
``If-Modified-Since``. ``handler`` computes the answer from the request when a
fixed one does not do. Every request is recorded in ``requests``.
"""

from __future__ import annotations

import contextlib
import gzip as gzip_module
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

__all__ = ["LocalWeb", "Recorded", "Route", "local_web_fixture"]


@dataclass(frozen=True)
class Recorded:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]  # names lowercased
    at: float = 0.0  # time.monotonic() when the request arrived


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the status line
    drip: float = 0.0  # seconds between two chunks of the body
    chunk: int = 65536
    gzip: bool = False  # compress the body and say so in Content-Encoding
    stream: Callable[[], Iterable[bytes]] | None = None  # a body produced lazily, no Content-Length
    etag: str | None = None
    last_modified: str | None = None
    handler: Callable[[Recorded], Route] | None = None


class LocalWeb:
    """A threaded ``http.server`` on 127.0.0.1; an unknown path answers 404."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def route(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        content_type: str | None = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
        **options: object,
    ) -> Route:
        """Serve ``body`` at ``path`` (path and query, as requested); returns the route to adjust."""
        all_headers = {"Content-Type": content_type} if content_type else {}
        all_headers.update(headers or {})
        data = body.encode("utf-8") if isinstance(body, str) else body
        route = Route(status=status, body=data, headers=all_headers, **options)  # type: ignore[arg-type]
        self.routes[path] = route
        return route

    def redirect(self, path: str, location: str, status: int = 302) -> Route:
        return self.route(path, status=status, content_type=None, headers={"Location": location})

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for request in self.requests if request.path == path)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)


def _handler_class(web: LocalWeb) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one response per connection: no framing for streams

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet."""

        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            recorded = Recorded("GET", self.path, headers, time.monotonic())
            web._record(recorded)
            route = web.routes.get(self.path, Route(status=404, body=b"not found"))
            if route.handler is not None:
                route = route.handler(recorded)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up, as tests want
                self._answer(route, recorded)

        def _answer(self, route: Route, request: Recorded) -> None:
            time.sleep(route.delay)
            if _not_modified(route, request):
                self.send_response(304)
                self.end_headers()
                return
            body = gzip_module.compress(route.body) if route.gzip else route.body
            self.send_response(route.status)
            for name, value in route.headers.items():
                self.send_header(name, value)
            if route.gzip:
                self.send_header("Content-Encoding", "gzip")
            if route.etag:
                self.send_header("ETag", route.etag)
            if route.last_modified:
                self.send_header("Last-Modified", route.last_modified)
            if route.stream is None:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for piece in route.stream() if route.stream is not None else _pieces(body, route.chunk):
                self.wfile.write(piece)
                self.wfile.flush()
                time.sleep(route.drip)

    return Handler


def _not_modified(route: Route, request: Recorded) -> bool:
    if route.etag is not None and request.headers.get("if-none-match") == route.etag:
        return True
    return route.last_modified is not None and request.headers.get("if-modified-since") == route.last_modified


def _pieces(body: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.fixture(name="local_web")
def local_web_fixture() -> Iterator[LocalWeb]:
    """A fresh :class:`LocalWeb` for one test."""
    web = LocalWeb()
    try:
        yield web
    finally:
        web.close()
