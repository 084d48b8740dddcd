"""Every way of delivery at once: e-mail, each channel, and the operators' notices."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from monitor.alerts.channels import ChannelReport, deliver_channels
from monitor.alerts.notices import deliver_notices
from monitor.alerts.outbox import DeliveryReport, deliver_pending
from monitor.config import ChannelSettings, EmailSettings
from monitor.storage import ArchiveAccess, DeliveryStore

__all__ = ["deliver_all"]


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
