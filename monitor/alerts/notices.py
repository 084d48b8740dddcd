"""Operator notices: a source broke or recovered (see :mod:`monitor.drift`).

Rendering is pure; :func:`notify_operators` is the I/O edge. A notice goes to the
``email.operators`` addresses when there are any, and to the log otherwise (at
WARNING for a problem, INFO for a recovery). It is sent once, not queued: the
source's state in ``monitor status`` says the same thing until it changes, and a
failed delivery is logged with its cause.
"""

from __future__ import annotations

import logging
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from monitor.alerts.render import clean_header
from monitor.alerts.smtp import Mailer
from monitor.config import EmailSettings
from monitor.errors import DeliveryError
from monitor.models import SourceNotice

__all__ = ["notify_operators", "render_notice", "summary"]

log = logging.getLogger(__name__)


def summary(notice: SourceNotice) -> str:
    """One line: what changed for which source."""
    if notice.problem is None:
        return f"source {notice.source!r} recovered (it was: {notice.previous})"
    return f"source {notice.source!r}: {notice.problem}"


def render_notice(notice: SourceNotice, email: EmailSettings) -> EmailMessage:
    """A plain-text message to the operators."""
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = clean_header(f"[monitor] {summary(notice)}")
    message["From"] = clean_header(email.sender, 320)
    message["To"] = ", ".join(clean_header(address, 320) for address in email.operators)
    message["Date"] = format_datetime(notice.when)
    message["Message-ID"] = make_msgid(domain="monitor.local")
    message["Auto-Submitted"] = "auto-generated"
    action = (
        "Nothing to do: the source yields again."
        if notice.problem is None
        else "See `monitor status` for its last error and next check; the source is still checked."
    )
    message.set_content(f"{summary(notice)}\n\n{action}\n", charset="utf-8")
    return message


async def notify_operators(notice: SourceNotice, email: EmailSettings | None) -> None:
    """Tell the operators, by e-mail when ``email.operators`` is set, else in the log."""
    if email is None or not email.operators:
        log.log(logging.INFO if notice.problem is None else logging.WARNING, "%s", summary(notice))
        return
    operators = email.model_copy(update={"recipients": email.operators})
    try:
        async with Mailer(operators) as mailer:
            await mailer.send(render_notice(notice, operators))
    except DeliveryError as exc:
        log.error("%s; the notice to the operators failed: %s", summary(notice), exc)
        return
    log.info("operators told: %s", summary(notice))
