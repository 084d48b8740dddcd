"""A real aiosmtpd server on 127.0.0.1, for tests of e-mail delivery.

Tests speak SMTP to it instead of mocking smtplib, so envelopes, refusals,
outages, STARTTLS and AUTH are exercised for real::

    def test_x(smtp_server: SmtpServer) -> None:
        settings = smtp_server.settings(recipients=["analyst@example.org"])
        ...                                    # deliver
        [message] = smtp_server.messages       # Received: envelope + parsed message

Switches, each taking effect on the next command:

* ``smtp_server.reject = "550 5.7.1 no relay"`` answers every DATA with that
  reply (use a 4xx for a transient refusal); ``None`` accepts again;
* ``smtp_server.refuse_content = b"..."`` answers a DATA holding those bytes "554 5.7.1 message content
  rejected", as a mail server's spam or virus filter does (a listed domain in a link, a virus's signature);
* ``smtp_server.refuse_rcpt`` holds addresses whose RCPT TO is refused (550);
* ``smtp_server.accept_limit = n``: once ``n`` messages were accepted, every DATA
  is answered "421 closing" (the server going away in the middle of a session);
* ``SmtpServer(size_limit=n)`` refuses a message over ``n`` bytes (552), as mail servers do (Postfix: 10 MB);
* ``smtp_server.down()`` stops listening (connections are refused) and
  ``smtp_server.up()`` listens again on the same port.

``SmtpServer(tls=CertPair, auth={"user": "password"})`` offers STARTTLS (or
implicit TLS with ``implicit_tls=True``) and requires a login.
"""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from monitor.config import EmailSettings

__all__ = ["CertPair", "Received", "SlowSmtpServer", "SmtpServer", "make_cert", "smtp_server"]


@dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes  # exactly as received (CRLF line ends, headers encoded)
    message: EmailMessage  # parsed with the default policy: headers decoded

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    def text(self) -> str:
        """The plain-text part, decoded."""
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())

    def html(self) -> str:
        part = self.message.get_body(("html",))
        assert part is not None
        return str(part.get_content())


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path


def make_cert(directory: Path) -> CertPair:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command line)."""
    pair = CertPair(directory / "cert.pem", directory / "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(pair.key), "-out", str(pair.cert)],
        check=True, capture_output=True,
    )
    return pair


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class _Handler:
    server: SmtpServer

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.server.refuse_rcpt:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.server.reject:
            return self.server.reject
        limit = self.server.accept_limit
        if limit is not None and len(self.server.messages) >= limit:
            return "421 4.3.2 service shutting down"
        data = envelope.original_content or b""
        if self.server.refuse_content is not None and self.server.refuse_content in data:
            self.server.refused += 1
            return "554 5.7.1 message content rejected"
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.server.messages.append(
            Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), data, parsed)
        )
        return "250 OK"


@dataclass
class SmtpServer:
    """An aiosmtpd ``Controller`` on 127.0.0.1 collecting what it accepts in ``messages``."""

    tls: CertPair | None = None
    implicit_tls: bool = False
    auth: dict[str, str] | None = None
    messages: list[Received] = field(default_factory=list)
    reject: str | None = None
    accept_limit: int | None = None
    refuse_rcpt: set[str] = field(default_factory=set)
    refuse_content: bytes | None = None
    refused: int = 0  # messages refused for their content
    port: int = field(default_factory=_free_port)
    logins: list[str] = field(default_factory=list)
    size_limit: int = 33_554_432  # aiosmtpd's default
    _controller: Controller | None = None

    def up(self) -> None:
        if self._controller is not None:
            return
        context = None
        if self.tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.tls.cert, self.tls.key)
        kwargs: dict[str, Any] = {"decode_data": False, "enable_SMTPUTF8": True, "data_size_limit": self.size_limit}
        if self.auth is not None:
            # aiosmtpd counts only STARTTLS as TLS for AUTH; implicit TLS is encrypted from the start.
            kwargs.update(authenticator=self._authenticate, auth_require_tls=self.tls is not None and not self.implicit_tls,
                          auth_exclude_mechanism=["CRAM-MD5"])
        if context is not None and not self.implicit_tls:
            kwargs["tls_context"] = context
            kwargs["require_starttls"] = True
        self._controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port,
            ssl_context=context if self.implicit_tls else None, ready_timeout=5, **kwargs,
        )
        self._controller.start()

    def down(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def settings(self, **overrides: Any) -> EmailSettings:
        """EmailSettings pointing at this server (security none, 5 s timeout unless overridden)."""
        values: dict[str, Any] = {
            "host": "127.0.0.1", "port": self.port, "sender": "monitor@example.org",
            "recipients": ["analyst@example.org"], "timeout": 5.0,
        }
        return EmailSettings(**{**values, **overrides})

    def _authenticate(self, server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword) and self.auth is not None:
            user, password = data.login.decode(), data.password.decode()
            if self.auth.get(user) == password:
                self.logins.append(user)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A running plain SMTP server, stopped after the test."""
    server = SmtpServer()
    server.up()
    yield server
    server.down()


class SlowSmtpServer:
    """A mail server on 127.0.0.1 that answers each line ``delay`` seconds after it came, and accepts every message:
    a tarpit, or a relay overloaded just within the client's timeout. ``with SlowSmtpServer(0.5) as server:``;
    ``server.connections`` and ``server.accepted`` count what it saw."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.connections = 0
        self.accepted = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]

    def __enter__(self) -> SlowSmtpServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # closed
            self.connections += 1
            threading.Thread(target=self._converse, args=(connection,), daemon=True).start()

    def _converse(self, connection: socket.socket) -> None:
        def say(reply: bytes) -> None:
            time.sleep(self.delay)
            connection.sendall(reply + b"\r\n")

        with connection, connection.makefile("rb") as lines:
            try:
                say(b"220 slow.example ESMTP")
                in_data = False
                for line in lines:
                    if in_data:
                        if line.rstrip(b"\r\n") == b".":
                            in_data = False
                            say(b"250 queued")
                            self.accepted += 1
                        continue
                    verb = line[:4].upper()
                    if verb == b"DATA":
                        in_data = True
                        say(b"354 go on")
                    elif verb == b"QUIT":
                        say(b"221 bye")
                        return
                    else:
                        say(b"250 ok")
            except OSError:
                return  # the client gave up
