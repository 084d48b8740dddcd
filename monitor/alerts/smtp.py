"""SMTP delivery: hand one rendered message to the configured server.

Why the standard library's :mod:`smtplib`, run in a worker thread, rather than
aiosmtplib: it adds no runtime dependency, it is the reference client every
server is tested against, and the monitor sends a handful of messages per
cycle, so one blocking call per message moved off the event loop into a
daemon thread (:mod:`monitor.threads`) costs nothing. ``email.timeout`` bounds every socket
operation (connect, each command, each read), so a stalled server cannot hold a
worker thread for longer than that per step.

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

import smtplib
import ssl
from email.message import EmailMessage
from types import TracebackType
from typing import Self

from monitor.config import EmailSettings
from monitor.errors import ContentRefusedError, DeliveryError, PermanentDeliveryError, TransientDeliveryError
from monitor.threads import DELIVERIES


def _reply(code: int, text: bytes | str) -> str:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"SMTP {code} {' '.join(message.split())}"


def _classify(exc: Exception) -> DeliveryError:
    """Map an smtplib/socket/ssl exception to the monitor's error tree (cause chained by the caller)."""
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
    if isinstance(exc, TimeoutError):
        return TransientDeliveryError("SMTP server timed out")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransientDeliveryError(f"SMTP server disconnected: {exc}" if str(exc) else "SMTP server disconnected")
    if isinstance(exc, OSError):
        return TransientDeliveryError(f"cannot reach SMTP server: {exc.strerror or exc}")
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
        self._smtp: smtplib.SMTP | None = None

    @property
    def connected(self) -> bool:
        """False before the first send and after a failure that broke the session."""
        return self._smtp is not None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await DELIVERIES.run(self._close)

    async def send(self, message: EmailMessage) -> dict[str, str]:
        """Send ``message`` to ``email.recipients``; return the recipients refused while others accepted.

        Returning normally means the server accepted the message (250 after DATA).
        Raises :class:`DeliveryError` (transient or permanent) otherwise.
        """
        return await DELIVERIES.run(self._send, message)

    def _send(self, message: EmailMessage) -> dict[str, str]:
        try:
            smtp = self._smtp or self._connect()
            refused = smtp.send_message(message, from_addr=self.email.sender, to_addrs=list(self.email.recipients))
        except (smtplib.SMTPException, OSError) as exc:
            if not self._survives(exc):
                self._close()
            raise _classify(exc) from exc
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
            smtp = smtplib.SMTP_SSL(email.host, email.port, timeout=email.timeout, context=context)
        else:
            smtp = smtplib.SMTP(email.host, email.port, timeout=email.timeout)
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

