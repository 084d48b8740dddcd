"""Operator notices: a source broke or recovered (see :mod:`monitor.drift`), told durably.

A notice is queued in the archive with the health change that causes it (see
:class:`monitor.storage.NoticeStore`); :func:`deliver_notices` hands it on. Its targets
are the ``email.operators`` addresses and every ``[[channels]]`` entry, or, when none
is set, the log (at WARNING for a problem, INFO for a recovery). As with alerts, a
delivery is claimed before it is sent and marked once the target accepted it, and a
failure is retried with the outbox's backoff: a notice is not lost when the mail
server or a channel is down, and a target that took it does not get it again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from monitor.alerts.channels import RETRY_CAP, Send, apprise_send, lease, notify
from monitor.alerts.outbox import mail_lease, retry_delay, run_clock
from monitor.alerts.render import MAIL_POLICY, clean_header
from monitor.alerts.smtp import Mailer
from monitor.config import ChannelSettings, EmailSettings
from monitor.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from monitor.models import SourceNotice
from monitor.storage import ArchiveAccess, NoticeStore

__all__ = ["LOG", "deliver_notices", "render_notice", "summary"]

log = logging.getLogger(__name__)

LOG = "log"  # the target when neither operators nor channels are configured


def summary(notice: SourceNotice) -> str:
    """One line: what changed for which source."""
    if notice.problem is None:
        return f"source {notice.source!r} recovered (it was: {notice.previous})"
    return f"source {notice.source!r}: {notice.problem}"


def _body(notice: SourceNotice) -> str:
    action = (
        "Nothing to do: the source yields again."
        if notice.problem is None
        else "See `monitor status` for its last error and next check; the source is still checked."
    )
    return f"{summary(notice)}\n\n{action}\n"


def render_notice(notice: SourceNotice, email: EmailSettings, message_id: str) -> EmailMessage:
    """A plain-text message to the operators; ``message_id`` stays the same across retries."""
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = clean_header(f"[monitor] {summary(notice)}")
    message["From"] = clean_header(email.sender, 320)
    message["To"] = ", ".join(clean_header(address, 320) for address in email.operators)
    message["Date"] = format_datetime(notice.when)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_body(notice), charset="utf-8")
    return message


Deliver = Callable[[int, SourceNotice], Awaitable[None]]  # raises DeliveryError


@dataclass(frozen=True)
class _Target:
    name: str
    deliver: Deliver
    lease: timedelta  # how long a claim holds: longer than one delivery can take
    retry_cap: int  # seconds between tries at most


async def deliver_notices(
    archive: ArchiveAccess[NoticeStore], email: EmailSettings | None, channels: Sequence[ChannelSettings], now: datetime,
    send: Send = apprise_send,
) -> dict[str, list[int]]:
    """Deliver every due notice on every target, the targets side by side; the notices each target took, by target.

    A notice every target has taken is closed. A target that is down (a transient
    failure) is left for this run after its first failure: the rest would wait for it too.
    """
    async with AsyncExitStack() as stack:
        targets: list[_Target] = []
        if email is not None and email.operators:
            operators = email.model_copy(update={"recipients": email.operators})
            targets.append(_mail_target(operators, await stack.enter_async_context(Mailer(operators))))
        targets += [_channel_target(channel, send) for channel in channels]
        if not targets:
            targets.append(_Target(LOG, _log_notice, timedelta(minutes=1), RETRY_CAP))
        sent = await asyncio.gather(*(_deliver_on(archive, target, now) for target in targets))  # side by side
        delivered = {target.name: ids for target, ids in zip(targets, sent, strict=True)}
    names = [target.name for target in targets]
    await archive.run(lambda store: store.close_notices(names, now))
    return delivered


async def _deliver_on(archive: ArchiveAccess[NoticeStore], target: _Target, now: datetime) -> list[int]:
    sent: list[int] = []
    name, clock = target.name, run_clock(now)
    for notice_id, notice in await archive.run(lambda store: store.due_notices(name, now)):
        hold_until = clock() + target.lease
        attempt = await archive.run(lambda store: store.claim_notice(name, notice_id, now, hold_until))
        if attempt is None:
            continue  # another deliverer has it
        try:
            await target.deliver(notice_id, notice)
        except DeliveryError as exc:
            wait = retry_delay(attempt, target.retry_cap)
            error = str(exc)
            retry = clock() + wait
            await archive.run(lambda store: store.mark_notice_failed(name, notice_id, error, retry))
            level = logging.ERROR if isinstance(exc, PermanentDeliveryError) else logging.WARNING
            log.log(level, "%s; the notice on %s failed (try %d, next in %s): %s",
                    summary(notice), target.name, attempt, wait, exc)
            if isinstance(exc, TransientDeliveryError):
                break
            continue
        await archive.run(lambda store: store.mark_notice_sent(name, notice_id, now))
        sent.append(notice_id)
        if target.name != LOG:
            log.info("operators told on %s: %s", target.name, summary(notice))
    return sent


async def _log_notice(notice_id: int, notice: SourceNotice) -> None:
    log.log(logging.INFO if notice.problem is None else logging.WARNING, "%s", summary(notice))


def _mail_target(operators: EmailSettings, mailer: Mailer) -> _Target:
    async def deliver(notice_id: int, notice: SourceNotice) -> None:
        message_id = f"<notice-{notice_id}.{notice.when:%Y%m%d%H%M%S}@{operators.message_domain}>"
        await mailer.send(render_notice(notice, operators, message_id))

    return _Target("email", deliver, mail_lease(operators), operators.retry_max)


def _channel_target(channel: ChannelSettings, send: Send) -> _Target:
    async def deliver(notice_id: int, notice: SourceNotice) -> None:
        url = channel.resolved_url()
        if url is None:
            raise TransientDeliveryError(channel.unset())
        await notify(channel, send, url, f"[monitor] {summary(notice)}", _body(notice))

    return _Target(f"channel:{channel.name}", deliver, lease(channel), RETRY_CAP)
