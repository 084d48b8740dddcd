"""Every way of delivery at once: e-mail, each channel, and the operators' notices."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime

from monitor.alerts.channels import ChannelReport, deliver_channels
from monitor.alerts.notices import deliver_notices
from monitor.alerts.outbox import DeliveryReport, deliver_pending
from monitor.config import ChannelSettings, EmailSettings
from monitor.storage import ArchiveAccess, DeliveryStore

__all__ = ["deliver_all", "start_delivering"]

log = logging.getLogger(__name__)


async def start_delivering(archive: ArchiveAccess[DeliveryStore], channels: Sequence[ChannelSettings],
                           now: datetime) -> None:
    """At the start of ``once`` or ``run``: the configured channels registered, and made due now the alerts held back
    by the mail server's absence or a refusal of its session (a wrong password, TLS, relaying), and those a channel
    failed to deliver. A start often follows a fix of the server or the settings (a channel's token), and they waited
    out their backoff, up to ``email.retry_max`` or an hour. None claimed by a deliverer at work is released, so none
    is sent twice."""
    names = [channel.name for channel in channels]

    def start(store: DeliveryStore) -> tuple[int, int]:
        store.register_channels(names, now)
        return store.release_after_outage(now), store.release_channel_retries(now)

    mailed, posted = await archive.run(start)
    if mailed:
        log.info("%d alert(s) held back by the mail server or its settings are tried now", mailed)
    if posted:
        log.info("%d channel deliveries waiting to be retried are tried now", posted)


async def deliver_all(
    archive: ArchiveAccess[DeliveryStore], email: EmailSettings | None, channels: Sequence[ChannelSettings],
    now: datetime,
) -> tuple[DeliveryReport, dict[str, ChannelReport]]:
    """What is due on e-mail and on each channel, and the notices: what e-mail and each channel did.

    Side by side, each send within a deadline (:func:`~monitor.alerts.smtp.send_seconds`,
    :func:`~monitor.alerts.channels.notify`): a server that is slow to answer, or answers a byte at a time, holds
    back only its own deliveries. One after another, a trickling SMTP server held every channel's alerts.
    """
    mailed, posted, _ = await asyncio.gather(
        deliver_pending(archive, email, now), deliver_channels(archive, channels, now),
        deliver_notices(archive, email, channels, now))
    return mailed, posted
