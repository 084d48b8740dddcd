"""SMTP delivery: hand one rendered message to the configured server.

Why the standard library's :mod:`smtplib`, run in a worker thread, rather than
aiosmtplib: it adds no runtime dependency, it is the reference client every
server is tested against, and the monitor sends a handful of messages per
cycle, so one blocking call per message moved off the event loop into a
daemon thread (:mod:`monitor.threads`) costs nothing. ``email.timeout`` bounds every socket
operation (connect, each command, each read), and :func:`send_seconds` the whole of one send:
a server that answers a line just within the timeout, forever, had held delivery (the
channels and notices after it with it) for as long as it kept on. Past the deadline the
session's socket is shut, which ends the thread's wait, and the send fails as transient.
A reply is read up to :data:`MAX_REPLY_BYTES`: smtplib bounds each line of a reply but keeps
every line of a multi-line one, and a server sending continuation lines without end took
the monitor's process to 13 GB in a minute.

Failures are sorted for the outbox (both kinds are retried; nothing is dropped):

* :class:`TransientDeliveryError`: the server could not be reached, went away,
  timed out, or answered 4xx;
* :class:`PermanentDeliveryError`: the server answered 5xx (relay denied,
  authentication failed, message refused), TLS could not be negotiated or
  verified, or the password variable is empty. Retrying helps only after
  someone fixes the server or the config, so these are logged louder. A 5xx
  to DATA is a :class:`ContentRefusedError`: the message itself was refused.

The recipients of the SMTP envelope are always ``email.recipients`` passed
explicitly: headers never decide where a message goes.
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from types import TracebackType
from typing import Any, BinaryIO, Self

from monitor.config import EmailSettings
from monitor.errors import ContentRefusedError, DeliveryError, PermanentDeliveryError, TransientDeliveryError
from monitor.threads import DELIVERIES


# SMTP steps of one send, each bounded by email.timeout: connect, EHLO, STARTTLS,
# EHLO, AUTH, MAIL, DATA, end of data (+ one RCPT per recipient), plus slack.
_SMTP_STEPS = 10
# Of one reply, all its lines: an EHLO answer lists a few dozen extensions in a kilobyte or two.
MAX_REPLY_BYTES = 64 * 1024
_MAX_LINE = 8192  # bytes of one reply line, as smtplib reads them (RFC 5321 allows 512)


def send_seconds(email: EmailSettings) -> float:
    """How long one send may take in all: each of its steps at most ``email.timeout``."""
    return email.timeout * (_SMTP_STEPS + len(email.recipients))


class _NoReplyCode(smtplib.SMTPServerDisconnected):
    """A reply line that does not start with three digits: the peer is not speaking SMTP (another service on the
    port), or not well enough to follow."""


class _BoundedReplies(smtplib.SMTP):
    """smtplib's client, reading each reply up to :data:`MAX_REPLY_BYTES` in all (see the module's docstring).

    The reply is read from a reader of the session's own socket, made again when the socket changes (STARTTLS
    wraps it; ``close`` drops it). Each new socket is handed to ``watch`` first, the greeting's (read as the
    client is made) included, so that a send past its deadline can shut it.
    """

    _reader: tuple[socket.socket, BinaryIO] | None = None

    def __init__(self, *args: Any, watch: Callable[[socket.socket], None], **kwargs: Any) -> None:
        self._watch = watch
        super().__init__(*args, **kwargs)

    def getreply(self) -> tuple[int, bytes]:
        sock = self.sock
        if sock is None:
            raise smtplib.SMTPServerDisconnected("not connected")
        if self._reader is None or self._reader[0] is not sock:
            self._watch(sock)
            self._reader = (sock, sock.makefile("rb"))
        reader, lines, left = self._reader[1], [], MAX_REPLY_BYTES
        while True:
            try:
                line = reader.readline(_MAX_LINE + 1)
            except OSError as exc:
                self.close()
                raise smtplib.SMTPServerDisconnected(f"connection lost: {exc}") from exc
            left -= len(line)
            if not line or len(line) > _MAX_LINE or left < 0:
                self.close()
                if not line:
                    raise smtplib.SMTPServerDisconnected("connection closed by the server")
                raise smtplib.SMTPServerDisconnected(
                    f"the server's reply ran past {_MAX_LINE if len(line) > _MAX_LINE else MAX_REPLY_BYTES} bytes")
            if not line[:3].isdigit():
                # smtplib reads such a line as code -1 and goes on: its EHLO falls back to HELO, which reads the
                # rest of this reply as its own, and every later answer is the one before ("SMTP 250 ok" as a
                # failure). Nothing more of this session can be believed.
                self.close()
                raise _NoReplyCode(" ".join(line[:80].decode("utf-8", "replace").split()))
            lines.append(line[4:].strip(b" \t\r\n"))
            if line[3:4] != b"-":  # the last line of the reply
                return int(line[:3]), b"\n".join(lines)

    def close(self) -> None:
        self._reader = None
        super().close()


class _BoundedRepliesTLS(_BoundedReplies, smtplib.SMTP_SSL):
    """The same over implicit TLS."""


def _reply(code: int, text: bytes | str) -> str:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"SMTP {code} {' '.join(message.split())}"


def _classify(exc: Exception, server: str) -> DeliveryError:
    """Map an smtplib/socket/ssl exception to the monitor's error tree (cause chained by the caller).

    Where the server could not be reached, ``server`` (``host:port``) is named: "Connection refused" alone did not say
    which server a config had asked for.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(f"{rcpt}: {_reply(code, text)}" for rcpt, (code, text) in exc.recipients.items())
        kind = TransientDeliveryError if any(400 <= code < 500 for code in codes) else PermanentDeliveryError
        return kind(f"every recipient refused: {detail}")
    if isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500:
        return ContentRefusedError(_reply(exc.smtp_code, exc.smtp_error))
    if isinstance(exc, smtplib.SMTPResponseException):
        # Below 400 is a server answering a greeting or HELO oddly: not ready yet, like a 4xx.
        kind = TransientDeliveryError if exc.smtp_code < 500 else PermanentDeliveryError
        return kind(_reply(exc.smtp_code, exc.smtp_error))
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentDeliveryError(_not_offered(str(exc)))
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentDeliveryError(f"TLS certificate not trusted: {exc.verify_message or exc}")
    if isinstance(exc, ssl.SSLError):
        if exc.reason == "WRONG_VERSION_NUMBER":  # a plain-text greeting where a TLS handshake was expected
            return PermanentDeliveryError(f"TLS failed: the server does not speak TLS on connecting ({exc.reason}):"
                                          ' email.security = "tls" is for a port such as 465; for 587 or 25, set'
                                          ' "starttls"')
        return PermanentDeliveryError(f"TLS failed: {exc}")
    if isinstance(exc, _NoReplyCode):
        return TransientDeliveryError(f"the SMTP server {server} answered without a reply code ({exc!s:.80}):"
                                      " is email.port an SMTP server's?")
    if isinstance(exc, TimeoutError):
        return TransientDeliveryError(f"SMTP server {server} timed out")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransientDeliveryError(f"SMTP server disconnected: {exc}" if str(exc) else "SMTP server disconnected")
    if isinstance(exc, OSError):
        return TransientDeliveryError(f"cannot reach SMTP server {server}: {exc.strerror or exc}")
    return TransientDeliveryError(f"SMTP error: {exc}")


def _not_offered(said: str) -> str:
    """What the server did not offer, and the setting that asked for it: "server does not support it" named neither."""
    if "STARTTLS" in said:
        return ('the SMTP server does not offer STARTTLS: set email.security = "tls" for a port that speaks TLS on'
                ' connecting (465), or "none"')
    if "AUTH" in said:
        return ("the SMTP server does not offer a login (AUTH) on this connection: many offer it only over TLS"
                ' (email.security = "starttls" or "tls"); without a login, leave email.username empty')
    return f"the SMTP server does not offer what the settings ask for: {said}"


class Mailer:
    """One SMTP session for one delivery run: connects on first use, reconnects after a lost connection.

    Use as ``async with Mailer(email) as mailer: await mailer.send(message)``.
    """

    def __init__(self, email: EmailSettings) -> None:
        self.email = email
        self._server = f"[{email.host}]:{email.port}" if ":" in email.host else f"{email.host}:{email.port}"
        self._smtp: smtplib.SMTP | None = None
        self._socket: socket.socket | None = None  # the session's latest, the greeting's before the client is made

    @property
    def connected(self) -> bool:
        """False before the first send and after a failure that broke the session."""
        return self._smtp is not None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """End the session with QUIT, within ``email.timeout`` in all: a server answering QUIT a line at a time, for
        ever, held `once` from exiting and, under `run`, every channel's delivery behind it."""
        try:
            await asyncio.wait_for(DELIVERIES.run(self._close), self.email.timeout)
        except TimeoutError:
            self._abort()  # the thread's wait ends; nothing more is said to the server
        except asyncio.CancelledError:
            self._abort()
            raise

    async def send(self, message: EmailMessage) -> dict[str, str]:
        """Send ``message`` to ``email.recipients``; return the recipients refused while others accepted.

        Returning normally means the server accepted the message (250 after DATA).
        Raises :class:`DeliveryError` (transient or permanent) otherwise.
        """
        seconds = send_seconds(self.email)
        try:
            return await asyncio.wait_for(DELIVERIES.run(self._send, message), seconds)
        except TimeoutError:
            self._abort()
            raise TransientDeliveryError(f"the SMTP server did not finish within {seconds:.0f} s") from None
        except asyncio.CancelledError:
            # A stop: the session is shut too, not left to its thread and then to QUIT (a server answering a line at a
            # time, within email.timeout each, held SIGTERM for minutes).
            self._abort()
            raise

    def _watch(self, sock: socket.socket) -> None:
        self._socket = sock

    def _abort(self) -> None:
        """End a send's wait from outside its thread: shut the session's socket (the thread then closes it) and forget
        the session, which is gone."""
        self._smtp = None
        if self._socket is not None:
            try:
                self._socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # closed meanwhile

    def _send(self, message: EmailMessage) -> dict[str, str]:
        try:
            smtp = self._smtp or self._connect()
            refused = smtp.send_message(message, from_addr=self.email.sender, to_addrs=list(self.email.recipients))
        except (smtplib.SMTPException, OSError) as exc:
            if not self._survives(exc):
                self._close()
            raise _classify(exc, self._server) from exc
        return {rcpt: _reply(code, text) for rcpt, (code, text) in refused.items()}

    def _connect(self) -> smtplib.SMTP:
        email, context = self.email, ssl.create_default_context()
        password = email.password() if email.username else None
        if email.username and password is None:
            raise PermanentDeliveryError(
                f"email.username is set but the environment variable {email.password_env} is empty"
            )
        smtp: smtplib.SMTP
        if email.security == "tls":
            smtp = _BoundedRepliesTLS(email.host, email.port, timeout=email.timeout, context=context, watch=self._watch)
        else:
            smtp = _BoundedReplies(email.host, email.port, timeout=email.timeout, watch=self._watch)
        self._smtp = smtp
        smtp.ehlo()
        if email.security == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if email.username and password is not None:
            smtp.login(email.username, password)
        return smtp

    def _survives(self, exc: Exception) -> bool:
        """Whether the session is still good after ``exc``: a refused message is, a broken link is not.

        smtplib answers a refusal of MAIL, RCPT or DATA with RSET and keeps the
        connection, unless the server said 421 (closing), in which case it closes.
        """
        refusal = (smtplib.SMTPSenderRefused, smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError)
        return isinstance(exc, refusal) and self._smtp is not None and self._smtp.sock is not None

    def _close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

