"""Alert channels besides e-mail: Slack, Matrix, Telegram, ntfy, Discord, webhooks, through Apprise.

Each ``[[channels]]`` entry is one Apprise URL. Delivery state is kept per alert and
channel (``channel_deliveries``), so a channel that is down delays only itself, and the
guarantees are the e-mail outbox's, channel by channel:

* **Nothing is lost.** An alert counts as delivered on a channel only once the service
  accepted it; a failure is retried with the outbox's backoff (60 s doubling, at most
  an hour). A notification the service has not answered within the channel's lease is a
  failure too (:func:`notify`), and the channels deliver side by side: a service that trickles
  its answer a byte at a time, each within the socket's timeout, held every channel after it
  (and the notices) for as long as it kept on.
* **At least once, at most one repeat.** Each attempt is claimed in a committed
  transaction before it is sent, and held for :func:`lease` (twice the channel's
  ``timeout``, and the notification's process's start); a deliverer killed between
  the service's acceptance and the mark leaves the claim to run out, and only that
  notification can be sent again.
* **No backlog flood.** A channel delivers the alerts queued since it was first
  configured (``channels.first_seen``), not the archive's history.
* **No flood at all.** More alerts due at once than the channel's ``burst`` (a source's
  flood of matching stories, an outage's queue) go as one notification listing them
  (:func:`~monitor.alerts.render.render_burst`), each alert claimed and marked as one alone.
* **A service cannot sink the daemon.** Each notification is handed over by a process of its own, its memory capped
  and killed at the lease (:func:`apprise_send`).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from multiprocessing.connection import Connection
from types import ModuleType
from urllib.parse import parse_qs, urlsplit

from monitor.alerts.outbox import retry_delay, run_clock
from monitor.alerts.render import chat_inert, render_burst, render_notification
from monitor.config import ChannelSettings
from monitor.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from monitor.models import AlertContent
from monitor.storage import AlertStore, ArchiveAccess
from monitor.threads import DaemonThreads
from monitor.workers import address_space, cap_memory, process_context, ran_out_of_memory

log = logging.getLogger(__name__)

RETRY_CAP = 3600  # seconds between tries at most, as the e-mail outbox's default
# Memory a notification's process may take beyond what it holds with Apprise loaded: a service's answer is a status
# and a few KB, and Apprise reads it whole (a hook's 3 GB answer took the monitor's process to 2.7 GB).
ANSWER_MEMORY = 128 * 2**20
_TOO_LARGE = f"the service's answer took more than {ANSWER_MEMORY // 2**20} MB to read"
# Seconds a notification's process may take to start and load Apprise (a third of a second on an idle machine), not
# counted against the channel's timeout.
START_SECONDS = 10.0

Send = Callable[[str, str, str, float], None]  # (url, title, body, timeout in seconds); raises DeliveryError


@dataclass
class ChannelReport:
    """What one delivery run did on one channel."""

    sent: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


def lease(channel: ChannelSettings) -> timedelta:
    """How long a claimed notification is held: longer than one can take (its process's start, then twice the
    channel's timeout), so only a dead deliverer's is retaken."""
    return timedelta(seconds=START_SECONDS + 2 * channel.timeout)


# Threads a channel's notifications run in, at most: those given up on while a service trickles its answer stay with
# it (see :func:`notify`), and once a channel holds all of its own, its next notifications wait for one and run out
# their lease unsent.
CHANNEL_THREADS = 4
_threads: dict[str, DaemonThreads] = {}


def _threads_of(channel: str) -> DaemonThreads:
    """A channel's own threads. Shared with e-mail and the other channels, the threads a trickling service held (one
    more at each retry) were all of them after 16 retries: every e-mail, notice and other channel then waited for good.
    """
    return _threads.setdefault(channel, DaemonThreads(f"monitor-notify-{channel}", CHANNEL_THREADS))


async def notify(channel: ChannelSettings, send: Send, url: str, title: str, body: str) -> None:
    """Hand one notification to ``send`` in one of the channel's threads, given up as a transient failure past the
    lease.

    A notification given up on at the lease may yet have been delivered (the one repeat the lease allows).
    """
    seconds = lease(channel).total_seconds()
    try:
        await asyncio.wait_for(_threads_of(channel.name).run(send, url, title, body, channel.timeout), seconds)
    except TimeoutError:
        raise TransientDeliveryError(f"the service did not answer within {seconds:.0f} s") from None


def apprise_send(url: str, title: str, body: str, timeout: float) -> None:
    """Hand one notification to the service behind an Apprise URL in a process of its own (:func:`_send_apart`),
    waiting at most ``timeout`` on its socket and the lease for the whole.

    Apprise reads a service's whole answer into memory (its ``json://`` channel, through requests), and a thread
    cannot be stopped: a hook answering 3 GB took the monitor's process to 2.7 GB, a 2 MB gzip bomb to 4.2 GB, an
    endless answer on past the lease until the daemon was killed for its memory. The process's address space is
    capped at what it holds with Apprise loaded plus :data:`ANSWER_MEMORY`, and it is killed at the lease; either
    way the notification failed for now, and is tried again.
    """
    context = process_context()  # never forked from this process, which has threads
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(target=_send_apart, args=(sending, url, title, body, timeout), daemon=True,
                              name="monitor-notify")
    process.start()
    sending.close()
    started, outcome = False, None
    try:
        if receiving.poll(START_SECONDS):
            receiving.recv()  # ready: Apprise loaded, the memory capped
            started = True
            if receiving.poll(2 * timeout):
                outcome = receiving.recv()
    except EOFError:  # the process died without a word: its memory ran out, or it could not start
        outcome = ("transient", _TOO_LARGE if started else "the notification's process ended as it started", [])
    finally:
        receiving.close()
        process.kill()
        process.join()
    if outcome is None:
        raise TransientDeliveryError(f"the service did not answer within {2 * timeout:g} s" if started
                                     else f"the notification's process did not start within {START_SECONDS:.0f} s")
    kind, why, warnings = outcome
    for warning in warnings:  # Apprise's own words, redacted, for the monitor's log
        logging.getLogger("apprise").warning("%s", warning)
    if kind == "permanent":
        raise PermanentDeliveryError(why)
    if kind == "transient":
        raise TransientDeliveryError(why)


def _send_apart(sending: Connection, url: str, title: str, body: str, timeout: float) -> None:
    """A notification's process: cap the address space, hand the notification over, say how it went."""
    import apprise

    relayed = _Relayed()
    logging.getLogger("apprise").propagate = False  # its warnings go back to the monitor with the outcome
    logging.getLogger("apprise").setLevel(logging.DEBUG)  # the cause of a failure is a debug line (_ApprisesWarnings)
    logging.getLogger("apprise").addHandler(relayed)
    # Apprise loads its plugins at its first URL: 0.2 s here, seconds on a busy machine, all of it counted against
    # the lease of a service given a short timeout (which then failed as not answering, where it had not been asked).
    apprise.NotificationManager().load_modules()  # type: ignore[no-untyped-call]  # Apprise's manager has no hints
    held, limit = cap_memory(ANSWER_MEMORY)
    peak = address_space("VmPeak")
    sending.send(("ready",))
    try:
        _apprise_send(apprise, url, title, body, timeout)
    except PermanentDeliveryError as exc:
        sending.send(("permanent", str(exc), relayed.lines))
    except (DeliveryError, MemoryError) as exc:
        # Apprise takes a failed allocation for the service's error ("raised an exception"): the peak tells.
        if isinstance(exc, MemoryError) or ran_out_of_memory(held, limit, peak):
            sending.send(("transient", _TOO_LARGE, relayed.lines))
        else:
            sending.send(("transient", str(exc), relayed.lines))
    else:
        sending.send(("sent", "", relayed.lines))


class _Relayed(logging.Handler):
    """Apprise's warnings in a notification's process, redacted (:class:`_Redacting`), for the monitor to log."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _apprise_send(apprise: ModuleType, url: str, title: str, body: str, timeout: float) -> None:
    """Hand one notification over with Apprise, waiting at most ``timeout`` on its socket.

    Apprise's own limits (4 s to connect, 4 s to read) would cut off a service that answers in the
    channel's time: the notification it took would count as failed and be sent again at each retry.

    The title and body are plain text, page text among them, and said to be: Apprise then escapes them into a
    service's own format. Without a format it hands them over as they are, so a page's ``<a href=...>`` or
    ``[Reuters](...)`` became a link in a service that reads HTML (Telegram's default) or Markdown, and a lone
    ``<`` or ``&`` in a story made Telegram refuse the notification at every retry. Some services read plain text
    as Markdown all the same (Discord, Mattermost, Zulip): page text is first made inert (:func:`chat_inert`), for
    every service alike (a ``json://`` hook may feed any of them).

    A notification longer than the service takes is cut to its length (Apprise's ``overflow=truncate``) unless the
    URL says otherwise: Apprise hands it over whole by default, and Discord (2,000 characters), Telegram (4,096) or
    Mattermost refused it at every retry, a burst's dozens of alerts with it. A hostile site's near copies, each
    listed in its story's alert, made another outlet's story too long for them.

    Apprise's own limit on a call (``service_timeout``, 60 s by default) runs it in a thread pool of Apprise's,
    which the interpreter waits for at exit: a service that never finished answering held ``monitor once`` at its
    end for as long as it kept on. The limit is off; the call runs in a process of ours, given up at the channel's
    lease.
    """
    redacting = _Redacting(url)
    logging.getLogger("apprise").addFilter(redacting)
    try:
        _notify(apprise, url, title, body, timeout)
    finally:
        logging.getLogger("apprise").removeFilter(redacting)


def _notify(apprise: ModuleType, url: str, title: str, body: str, timeout: float) -> None:
    asset = apprise.AppriseAsset(service_timeout=0, http_redirects=False)
    service = apprise.Apprise.instantiate(url, asset=asset)
    if service is None:
        raise PermanentDeliveryError(f"not a URL Apprise can notify: {_scheme_of(url)}")
    service.socket_connect_timeout = service.socket_read_timeout = timeout
    # Apprise reads a URL's parameter names in any case ("?Overflow=split" splits).
    if not any(name.lower() == "overflow" for name in parse_qs(urlsplit(url).query, keep_blank_values=True)):
        service.overflow_mode = apprise.OverflowMode.TRUNCATE
    notifier = apprise.Apprise(asset=asset)
    notifier.add(service)
    said = _ApprisesWarnings()
    logging.getLogger("apprise").addHandler(said)
    notifying = _NOTIFYING.set(said)
    try:
        accepted = notifier.notify(title=chat_inert(title), body=chat_inert(body),
                                   body_format=apprise.NotifyFormat.TEXT)
    finally:
        _NOTIFYING.reset(notifying)
        logging.getLogger("apprise").removeHandler(said)
    if not accepted:
        why = "; ".join(dict.fromkeys(said.lines))[:_WHY_CHARS]
        if _REDIRECTED.search(why):
            why += " (a redirect: not followed unless the channel's URL says redirect=yes; or give the new address)"
        raise TransientDeliveryError(f"the service did not accept the notification: {why}" if why
                                     else "the service did not accept the notification (see the apprise log)")


def _scheme_of(url: str) -> str:
    """The URL's scheme, the rest left out (it may hold a token); a value with none (a variable set to a token alone,
    or to a word) was shown as "bogus://...", a scheme it does not have."""
    if "://" not in url:
        return "it has no scheme:// (as in json://host/path or tgram://token/chat)"
    return f"{url.split('://', 1)[0]}://..."


_WHY_CHARS = 300  # of Apprise's own words, in last_error and the line `once` ends with
# How Apprise's services report an HTTP answer they did not take: "... error=307." A redirect is not followed (the
# asset's http_redirects): requests re-posts the alert at each hop, 31 times round a loop, and takes it, and any token
# in the address, where the config never named.
_REDIRECTED = re.compile(r"\berror=3\d\d\b")


_HOST_NAME = re.compile(r"[\w-]+(?:\.[\w-]+)+")  # "hooks.example.org", "127.0.0.1": a token has no dots


class _Redacting(logging.Filter):
    """Apprise's log records with the parts of a channel's URL cut out: its warnings quote a URL's token ("An invalid
    Slack (third) Token (...) was specified"), and passed it to monitor's log, and to ``last_error`` and ``status``
    through :class:`_ApprisesWarnings`, when ``url_env`` was there to keep it out of files. A host name stays, as
    the operator's clue to which service failed ("A Connection error occurred sending JSON notification to
    hooks.example.org")."""

    def __init__(self, url: str) -> None:
        super().__init__()
        parts = re.split(r"[/:@?&=#]", url.split("://", 1)[-1])
        self.secrets = sorted({part for part in parts if len(part) >= 4 and not _HOST_NAME.fullmatch(part)},
                              key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = message
        for secret in self.secrets:
            redacted = redacted.replace(secret, "...")
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class _ApprisesWarnings(logging.Handler):
    """What Apprise warned of while notifying for one call: why the service refused, or could not be reached.

    Apprise returns only False; the cause ("error=401", "A Connection error occurred ...") went to the log alone,
    and ``channel_deliveries.last_error``, ``monitor status`` and the line ``once`` ends with said "see the apprise
    log" in its place. Other channels notify at the same time, and Apprise may notify from a thread of its own (with
    a copy of the caller's context): a record is this call's when it is logged in this call's context. Its
    "Socket Exception" debug line is taken too: "A Connection error occurred" alone said the same of a refused
    connection, a read timed out and a loop of redirects.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if _NOTIFYING.get() is self and (record.levelno >= logging.WARNING or message.startswith("Socket Exception")):
            self.lines.append(message.strip().rstrip("."))


_NOTIFYING: contextvars.ContextVar[_ApprisesWarnings | None] = contextvars.ContextVar("notifying", default=None)


def _claim(
    store: AlertStore, channel: str, alert_id: int, now: datetime, hold_until: datetime
) -> tuple[int, AlertContent] | None:
    """Claim an alert on a channel: its attempt number and its content, or None when another deliverer has it."""
    attempt = store.claim_on_channel(channel, alert_id, now, hold_until)
    return None if attempt is None else (attempt, store.alert_content(alert_id))


async def deliver_channels(
    archive: ArchiveAccess[AlertStore], channels: Sequence[ChannelSettings], now: datetime, send: Send = apprise_send
) -> dict[str, ChannelReport]:
    """Deliver every due alert on every channel, the channels side by side; a channel's failure holds back only
    that channel."""
    reports = {channel.name: ChannelReport() for channel in channels}
    await asyncio.gather(*(_deliver_channel(archive, channel, now, send, reports[channel.name])
                           for channel in channels))
    return reports


async def _deliver_channel(
    archive: ArchiveAccess[AlertStore], channel: ChannelSettings, now: datetime, send: Send, report: ChannelReport
) -> None:
    url = channel.resolved_url()
    name = channel.name
    due = await archive.run(lambda store: store.channel_due(name, now))
    if url is None:  # its due alerts are undelivered too: `once` exited 0 while they waited
        unset = channel.unset()
        report.failed = dict.fromkeys(due, unset)
        log.warning("channel %s: %s; its alerts wait", channel.name, unset)
    elif channel.burst and len(due) > channel.burst:
        await _deliver_burst(archive, channel, url, due, now, send, report)
    else:
        await _deliver_each(archive, channel, url, due, now, send, report)


async def _deliver_each(
    archive: ArchiveAccess[AlertStore], channel: ChannelSettings, url: str, due: list[int], now: datetime, send: Send,
    report: ChannelReport,
) -> None:
    name, clock = channel.name, run_clock(now)
    for alert_id in due:
        hold_until = clock() + lease(channel)
        claimed = await archive.run(partial(_claim, channel=name, alert_id=alert_id, now=now, hold_until=hold_until))
        if claimed is None:
            continue  # another deliverer has it
        attempt, content = claimed
        try:
            await notify(channel, send, url, *render_notification(content))
        except DeliveryError as exc:
            wait = retry_delay(attempt, RETRY_CAP)
            error = str(exc)
            retry = clock() + wait
            await archive.run(lambda store: store.mark_channel_failed(name, alert_id, error, retry))
            report.failed[alert_id] = error
            log.warning("channel %s: alert %d not delivered (try %d, next in %s): %s",
                        channel.name, alert_id, attempt, wait, exc)
            if isinstance(exc, TransientDeliveryError):
                break  # the service is down: the rest wait for the next run
            continue
        await archive.run(lambda store: store.mark_channel_sent(name, alert_id, now))
        report.sent.append(alert_id)
        log.info("channel %s: alert %d delivered", channel.name, alert_id)


async def _deliver_burst(
    archive: ArchiveAccess[AlertStore], channel: ChannelSettings, url: str, due: list[int], now: datetime, send: Send,
    report: ChannelReport,
) -> None:
    """More alerts due than the channel's ``burst``: one notification for them all (:func:`render_burst`), each
    claimed first and marked with its outcome, as one alert's would be."""
    name, hold_until, clock = channel.name, now + lease(channel), run_clock(now)

    def claim_all(store: AlertStore) -> dict[int, tuple[int, AlertContent]]:
        return {a: claimed for a in due if (claimed := _claim(store, name, a, now, hold_until)) is not None}

    claimed = await archive.run(claim_all)
    if not claimed:
        return

    def mark(store: AlertStore, error: str | None, next_attempt: datetime) -> None:
        for alert_id in claimed:
            if error is None:
                store.mark_channel_sent(name, alert_id, now)
            else:
                store.mark_channel_failed(name, alert_id, error, next_attempt)

    title, body = render_burst([content for _, content in claimed.values()])
    try:
        await notify(channel, send, url, title, body)
    except DeliveryError as exc:
        wait, error = retry_delay(max(attempt for attempt, _ in claimed.values()), RETRY_CAP), str(exc)
        retry = clock() + wait
        await archive.run(lambda store: mark(store, error, retry))
        report.failed.update(dict.fromkeys(claimed, error))
        log.warning("channel %s: %d alerts not delivered (next in %s): %s", channel.name, len(claimed), wait, exc)
        return
    await archive.run(lambda store: mark(store, None, now))
    report.sent += list(claimed)
    log.warning("channel %s: %d alerts due at once, more than its burst = %d: delivered as one notification",
                channel.name, len(claimed), channel.burst)
