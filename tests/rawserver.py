"""A bare TCP server on 127.0.0.1 for tests that script a peer byte by byte: what no well-behaved server does."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable


class RawServer:
    """A TCP server on 127.0.0.1 that runs ``serve(connection)`` per connection, TLS when given a context."""

    def __init__(self, serve: Callable[[socket.socket], None], tls: ssl.SSLContext | None = None) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._serve, self._tls = serve, tls
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
            self._serve(conn)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._listener.close()
