"""SMTP delivery against aiosmtpd: security modes, login, and how failures are classified."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from tests.rawserver import RawServer
from tests.smtpserver import CertPair, SmtpServer, make_cert

from monitor.alerts.smtp import Mailer
from monitor.config import EmailSettings
from monitor.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError


def message(subject: str = "hello") -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = "monitor@example.org"
    msg["To"] = "analyst@example.org"
    msg["Message-ID"] = "<test@monitor>"
    msg.set_content("body")
    return msg


def send(settings: EmailSettings, *messages: EmailMessage) -> list[dict[str, str]]:
    async def go() -> list[dict[str, str]]:
        async with Mailer(settings) as mailer:
            return [await mailer.send(item) for item in messages]

    return asyncio.run(go())


def failure(settings: EmailSettings) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        send(settings, message())
    return caught.value


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> CertPair:
    return make_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def trusted(cert: CertPair, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the test certificate trusted the way an operator would: SSL_CERT_FILE."""
    monkeypatch.setenv("SSL_CERT_FILE", str(cert.cert))


@pytest.fixture
def tls_server(cert: CertPair, request: pytest.FixtureRequest) -> Iterator[SmtpServer]:
    server = SmtpServer(tls=cert, implicit_tls=request.param == "tls", auth={"monitor": "s3cret"})
    server.up()
    yield server
    server.down()


@pytest.mark.parametrize("tls_server", ["starttls", "tls"], indirect=True)
def test_secure_modes_log_in_with_the_password_from_the_environment(
    tls_server: SmtpServer, trusted: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    mode = "tls" if tls_server.implicit_tls else "starttls"
    settings = tls_server.settings(security=mode, username="monitor", password_env="TEST_SMTP_PASSWORD")

    send(settings, message("one"), message("two"))

    assert [str(m.message["Subject"]) for m in tls_server.messages] == ["one", "two"]
    assert tls_server.logins == ["monitor"]  # one session for the whole run


@pytest.mark.parametrize("tls_server", ["starttls"], indirect=True)
def test_an_untrusted_certificate_is_a_permanent_failure(tls_server: SmtpServer) -> None:
    error = failure(tls_server.settings(security="starttls"))
    assert isinstance(error, PermanentDeliveryError) and "certificate" in str(error)
    assert tls_server.messages == []


@pytest.mark.parametrize("tls_server", ["starttls"], indirect=True)
def test_a_wrong_password_is_permanent_and_never_shown(
    tls_server: SmtpServer, trusted: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong-pass-123")
    error = failure(tls_server.settings(security="starttls", username="monitor", password_env="TEST_SMTP_PASSWORD"))
    assert isinstance(error, PermanentDeliveryError) and "SMTP 535" in str(error)
    assert "wrong-pass-123" not in str(error)


def test_a_username_without_a_password_names_the_variable(smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNSET_SMTP_PASSWORD", raising=False)
    error = failure(smtp_server.settings(username="monitor", password_env="UNSET_SMTP_PASSWORD"))
    assert isinstance(error, PermanentDeliveryError) and "UNSET_SMTP_PASSWORD" in str(error)


def test_starttls_required_but_not_offered_is_permanent(smtp_server: SmtpServer) -> None:
    error = failure(smtp_server.settings(security="starttls"))
    assert isinstance(error, PermanentDeliveryError)
    assert str(error).startswith('the SMTP server does not offer STARTTLS: set email.security = "tls"'), error


def test_a_login_the_server_offers_only_over_tls_names_the_setting(cert: CertPair,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """"server does not support it: SMTP AUTH extension not supported by server." named neither what nor why."""
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    server = SmtpServer(tls=cert, auth={"monitor": "s3cret"})
    server.up()
    try:
        error = failure(server.settings(username="monitor", password_env="TEST_SMTP_PASSWORD"))
    finally:
        server.down()
    assert str(error).startswith("the SMTP server does not offer a login (AUTH) on this connection"), error
    assert 'email.security = "starttls"' in str(error)


def test_tls_to_a_port_that_speaks_plain_text_says_which_setting(smtp_server: SmtpServer) -> None:
    """"TLS failed: [SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)" left the operator to guess."""
    error = failure(smtp_server.settings(security="tls"))
    assert isinstance(error, PermanentDeliveryError)
    assert 'email.security = "tls" is for a port such as 465; for 587 or 25, set "starttls"' in str(error), error


def test_a_server_that_is_down_is_transient(smtp_server: SmtpServer) -> None:
    smtp_server.down()
    assert isinstance(failure(smtp_server.settings()), TransientDeliveryError)


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        settings = EmailSettings(host="127.0.0.1", port=silent.getsockname()[1], recipients=["a@example.org"], timeout=0.3)
        error = failure(settings)
    assert isinstance(error, TransientDeliveryError) and "timed out" in str(error)


def scripted(trickled: bytes, after: bytes) -> tuple[Callable[[socket.socket], None], threading.Event]:
    """An SMTP peer that answers well until the command ``after``, then sends ``trickled`` every 0.1 s, each line well
    within the client's timeout, while the client listens; the event is set when the client hangs up."""
    hung_up = threading.Event()

    def serve(connection: socket.socket) -> None:
        reader = connection.makefile("rb")
        connection.sendall(b"220 ready\r\n")
        while line := reader.readline():
            if line.upper().startswith(after):
                try:
                    while True:
                        connection.sendall(trickled)
                        time.sleep(0.1)
                except OSError:
                    break
            if line.upper().startswith(b"DATA"):
                connection.sendall(b"354 go on\r\n")
                while reader.readline() not in (b".\r\n", b""):
                    pass
            connection.sendall(b"250 ok\r\n")
        hung_up.set()

    return serve, hung_up


def test_a_server_answering_quit_a_line_at_a_time_is_left_within_the_timeout() -> None:
    """After the message was accepted, QUIT got "221-" lines without end, each within email.timeout: `once` never
    exited, and under `run` every channel's delivery waited behind the session."""
    serve, hung_up = scripted(b"221-bye\r\n", after=b"QUIT")
    server = RawServer(serve)
    settings = EmailSettings(host="127.0.0.1", port=server.port, recipients=["a@example.org"], timeout=1)

    async def go() -> list[dict[str, str]]:
        async with Mailer(settings) as mailer:
            return [await mailer.send(message())]

    try:
        assert asyncio.run(asyncio.wait_for(go(), 30)) == [{}]  # accepted; the session then ended by the monitor
        assert hung_up.wait(10)
    finally:
        server.close()


def test_a_stop_during_a_reply_without_end_shuts_the_session() -> None:
    """A stop cancelled the send and left its thread reading "451-" lines, then asked QUIT of the same session:
    SIGTERM waited for minutes. The session is shut at once, and the stop goes on."""
    serve, hung_up = scripted(b"451-wait\r\n", after=b"MAIL")
    server = RawServer(serve)
    settings = EmailSettings(host="127.0.0.1", port=server.port, recipients=["a@example.org"], timeout=1)

    async def go() -> None:
        async with Mailer(settings) as mailer:
            sending = asyncio.create_task(mailer.send(message()))
            await asyncio.sleep(1)  # the reply trickles
            sending.cancel()
            with pytest.raises(asyncio.CancelledError):
                await sending

    try:
        asyncio.run(asyncio.wait_for(go(), 30))
        assert hung_up.wait(10)
    finally:
        server.close()


@pytest.mark.parametrize(("reply", "kind"), [("452 4.3.1 full", TransientDeliveryError), ("552 5.3.4 too big", PermanentDeliveryError)])
def test_refusals_are_sorted_by_reply_code_and_the_session_survives(
    smtp_server: SmtpServer, reply: str, kind: type[DeliveryError]
) -> None:
    async def go() -> None:
        async with Mailer(smtp_server.settings()) as mailer:
            smtp_server.reject = reply
            with pytest.raises(kind, match=reply.split()[0]):
                await mailer.send(message("refused"))
            assert mailer.connected
            smtp_server.reject = None
            await mailer.send(message("accepted"))

    asyncio.run(go())
    assert [str(m.message["Subject"]) for m in smtp_server.messages] == ["accepted"]


def test_every_recipient_refused_is_permanent(smtp_server: SmtpServer) -> None:
    smtp_server.refuse_rcpt = {"analyst@example.org"}
    error = failure(smtp_server.settings())
    assert isinstance(error, PermanentDeliveryError) and "analyst@example.org" in str(error)


def test_envelope_recipients_come_from_the_config_not_the_headers(smtp_server: SmtpServer) -> None:
    msg = message()
    msg["Bcc"] = "victim@example.org"
    msg["Cc"] = "other@example.org"
    send(smtp_server.settings(), msg)
    assert smtp_server.messages[0].rcpt_tos == ("analyst@example.org",)


@pytest.mark.parametrize("greeting", [b"2x0-hostile\r\n250 ok\r\n", b"HTTP/1.1 400 Bad Request\r\n\r\n"])
def test_a_reply_without_a_code_ends_the_session_with_what_the_server_said(greeting: bytes) -> None:
    """smtplib reads a line without a code as -1 and goes on a reply behind: the send then failed as "SMTP 250 ok",
    which reads as a success. A port that is not an SMTP server's (a web server's) is named as the likely cause."""
    def serve(connection: socket.socket) -> None:
        reader = connection.makefile("rb")
        connection.sendall(b"220 ready\r\n")
        while line := reader.readline():
            connection.sendall(greeting if line.upper().startswith((b"EHLO", b"HELO")) else b"250 ok\r\n")

    server = RawServer(serve)
    try:
        error = failure(EmailSettings(host="127.0.0.1", port=server.port, recipients=["a@example.org"], timeout=5))
    finally:
        server.close()
    assert isinstance(error, TransientDeliveryError)
    said = greeting.split(b"\r\n")[0].decode()
    assert str(error) == (f"the SMTP server 127.0.0.1:{server.port} answered without a reply code ({said}): is"
                          " email.port an SMTP server's?")
