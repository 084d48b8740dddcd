"""A webhook receiver on 127.0.0.1: what Apprise's ``json://`` service posts, kept for the test to read."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Takes JSON posts on 127.0.0.1 and answers ``status`` (200: accepted) after ``delay`` seconds."""

    def __init__(self) -> None:
        self.posts: list[dict[str, object]] = []
        self.status = 200
        self.delay = 0.0  # seconds before answering
        self.max_chars = 0  # a longer message is refused (413), as a service refuses one past its limit; 0: none
        self.answer_bytes = 0  # the size of the answer's body, sent a megabyte at a time
        self.redirect: str | None = None  # a post to /hook is redirected (307) there
        self.requests = 0  # posts received, whatever the answer
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests += 1
                if receiver.redirect and self.path.startswith("/hook"):
                    self.send_response(307)
                    self.send_header("Location", receiver.redirect)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                time.sleep(receiver.delay)
                post = json.loads(body)
                status = receiver.status
                if receiver.max_chars and len(str(post.get("message", ""))) > receiver.max_chars:
                    status = 413
                if status == 200:
                    receiver.posts.append(post)
                self.send_response(status)
                self.send_header("Content-Length", str(receiver.answer_bytes))
                self.end_headers()
                chunk = b"x" * 2**20
                try:
                    for _ in range(receiver.answer_bytes // len(chunk)):
                        self.wfile.write(chunk)
                except OSError:  # the reader gave up
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()  # stops within 50 ms

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"
