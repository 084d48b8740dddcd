"""Alert channels besides e-mail: Slack, Matrix, Telegram, ntfy, Discord, webhooks, through Apprise.

Each ``[[channels]]`` entry is one Apprise URL. Delivery state is kept per alert and
channel (``channel_deliveries``), so a channel that is down delays only itself, and the
guarantees are the e-mail outbox's, channel by channel:

* **Nothing is lost.** An alert counts as delivered on a channel only once the service
  accepted it; a failure is retried with the outbox's backoff (60 s doubling, at most
  an hour).
* **At least once, at most one repeat.** Each attempt is claimed in a committed
  transaction before it is sent, and held for :func:`lease` (twice the channel's
  ``timeout``); a deliverer killed between
  the service's acceptance and the mark leaves the claim to run out, and only that
  notification can be sent again.
* **No backlog flood.** A channel delivers the alerts queued since it was first
  configured (``channels.first_seen``), not the archive's history.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from monitor.alerts.outbox import retry_delay
from monitor.alerts.render import render_text, subject_for
from monitor.config import ChannelSettings
from monitor.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from monitor.models import AlertContent
from monitor.storage import AlertStore, ArchiveAccess

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


def apprise_send(url: str, title: str, body: str, timeout: float) -> None:
    """Hand one notification to the service behind an Apprise URL, waiting at most ``timeout`` on its socket.

    Apprise's own limits (4 s to connect, 4 s to read) would cut off a service that answers in the
    channel's time: the notification it took would count as failed and be sent again at each retry.
    """
    import apprise

    service = apprise.Apprise.instantiate(url)
    if service is None:
        raise PermanentDeliveryError(f"not a URL Apprise can notify: {url.split(':', 1)[0]}://...")
    service.socket_connect_timeout = service.socket_read_timeout = timeout
    notifier = apprise.Apprise()
    notifier.add(service)
    if not notifier.notify(title=title, body=body):
        raise TransientDeliveryError("the service did not accept the notification (see the apprise log)")


def _claim(
    store: AlertStore, channel: str, alert_id: int, now: datetime, hold_until: datetime
) -> tuple[int, AlertContent] | None:
    """Claim an alert on a channel: its attempt number and its content, or None when another deliverer has it."""
    attempt = store.claim_on_channel(channel, alert_id, now, hold_until)
    return None if attempt is None else (attempt, store.alert_content(alert_id))


async def deliver_channels(
    archive: ArchiveAccess[AlertStore], channels: Sequence[ChannelSettings], now: datetime, send: Send = apprise_send
) -> dict[str, ChannelReport]:
    """Deliver every due alert on every channel; a channel's failure holds back only that channel."""
    reports: dict[str, ChannelReport] = {}
    for channel in channels:
        report = reports[channel.name] = ChannelReport()
        url = channel.resolved_url()
        name, hold_until = channel.name, now + lease(channel)
        if url is None:  # its due alerts are undelivered too: `once` exited 0 while they waited
            unset = f"${channel.url_env} is not set"
            report.failed = dict.fromkeys(await archive.run(lambda store: store.channel_due(name, now)), unset)
            log.warning("channel %s: %s; its alerts wait", channel.name, unset)
            continue
        for alert_id in await archive.run(lambda store: store.channel_due(name, now)):
            claimed = await archive.run(partial(_claim, channel=name, alert_id=alert_id, now=now, hold_until=hold_until))
            if claimed is None:
                continue  # another deliverer has it
            attempt, content = claimed
            try:
                await asyncio.to_thread(send, url, subject_for(content), render_text(content), channel.timeout)
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
    return reports
