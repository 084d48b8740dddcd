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
  ``timeout``); a deliverer killed between
  the service's acceptance and the mark leaves the claim to run out, and only that
  notification can be sent again.
* **No backlog flood.** A channel delivers the alerts queued since it was first
  configured (``channels.first_seen``), not the archive's history.
* **No flood at all.** More alerts due at once than the channel's ``burst`` (a source's
  flood of matching stories, an outage's queue) go as one notification listing them
  (:func:`~monitor.alerts.render.render_burst`), each alert claimed and marked as one alone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from monitor.alerts.outbox import retry_delay
from monitor.alerts.render import chat_inert, render_burst, render_notification
from monitor.config import ChannelSettings
from monitor.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError, shortened
from monitor.models import AlertContent
from monitor.storage import AlertStore, ArchiveAccess
from monitor.threads import DaemonThreads

log = logging.getLogger(__name__)

RETRY_CAP = 3600  # seconds between tries at most, as the e-mail outbox's default

Send = Callable[[str, str, str, float], None]  # (url, title, body, timeout in seconds); raises DeliveryError


@dataclass
class ChannelReport:
    """What one delivery run did on one channel."""

    sent: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


def lease(channel: ChannelSettings) -> timedelta:
    """How long a claimed notification is held: longer than one can take, so only a dead deliverer's is retaken."""
    return timedelta(seconds=2 * channel.timeout)


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
    lease (:func:`apprise_send` kills its process then; the service may yet have taken it: the one repeat the lease
    allows).
    """
    seconds = lease(channel).total_seconds()
    try:
        await asyncio.wait_for(_threads_of(channel.name).run(send, url, title, body, channel.timeout), seconds)
    except TimeoutError:
        raise TransientDeliveryError(f"the service did not answer within {seconds:.0f} s") from None


def apprise_send(url: str, title: str, body: str, timeout: float) -> None:
    """Hand one notification to the service behind an Apprise URL, in a process of its own (:mod:`monitor.notifier`),
    killed past twice ``timeout`` (the channel's lease) and capped at :data:`NOTIFIER_MB` beyond what it starts with.

    In the monitor's process a service that trickled its answer held the call's thread for good, and one answering
    500 MB took the process to 1.1 GB: a process can be killed and bounded, a thread cannot.

    The title and body are plain text, page text among them, and said to be: Apprise then escapes them into a
    service's own format. Without a format it hands them over as they are, so a page's ``<a href=...>`` or
    ``[Reuters](...)`` became a link in a service that reads HTML (Telegram's default) or Markdown, and a lone
    ``<`` or ``&`` in a story made Telegram refuse the notification at every retry. Some services read plain text
    as Markdown all the same (Discord, Mattermost, Zulip): page text is first made inert (:func:`chat_inert`), for
    every service alike (a ``json://`` hook may feed any of them).
    """
    request = {"url": url, "title": chat_inert(title), "body": chat_inert(body), "timeout": timeout,
               "memory_mb": NOTIFIER_MB}
    seconds = 2 * timeout
    try:
        done = subprocess.run([sys.executable, "-m", "monitor.notifier"], input=json.dumps(request).encode(),
                              capture_output=True, timeout=seconds, check=False)
    except subprocess.TimeoutExpired:
        raise TransientDeliveryError(f"the service did not answer within {seconds:.0f} s") from None
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise TransientDeliveryError(f"the notifying process failed: {shortened(last, 300)}") from None
    if answer["outcome"] == "invalid":
        raise PermanentDeliveryError(answer["why"])
    if answer["outcome"] != "sent":
        raise TransientDeliveryError(f"the service did not accept the notification: {answer['why']}")


# Memory a notification's process may take beyond what it starts with: Apprise reads a service's answer whole.
NOTIFIER_MB = 256


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
        unset = f"${channel.url_env} is not set"
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
    name, hold_until = channel.name, now + lease(channel)
    for alert_id in due:
        claimed = await archive.run(partial(_claim, channel=name, alert_id=alert_id, now=now, hold_until=hold_until))
        if claimed is None:
            continue  # another deliverer has it
        attempt, content = claimed
        try:
            await notify(channel, send, url, *render_notification(content))
        except DeliveryError as exc:
            wait = retry_delay(attempt, RETRY_CAP)
            error = str(exc)
            await archive.run(lambda store: store.mark_channel_failed(name, alert_id, error, now + wait))
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
    name, hold_until = channel.name, now + lease(channel)

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
        await archive.run(lambda store: mark(store, error, now + wait))
        report.failed.update(dict.fromkeys(claimed, error))
        log.warning("channel %s: %d alerts not delivered (next in %s): %s", channel.name, len(claimed), wait, exc)
        return
    await archive.run(lambda store: mark(store, None, now))
    report.sent += list(claimed)
    log.warning("channel %s: %d alerts due at once, more than its burst = %d: delivered as one notification",
                channel.name, len(claimed), channel.burst)
