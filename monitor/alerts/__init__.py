"""E-mail alerts: rendering (pure), SMTP delivery, and the outbox that ties them to the archive.

``render`` turns an alert into a message; ``smtp`` hands a message to the
server; ``outbox`` decides what is due, claims it, sends it and records the
outcome (see its docstring for the at-least-once guarantee).
"""

from monitor.alerts.outbox import DeliveryReport, deliver_digest, deliver_due, deliver_pending, retry_delay
from monitor.alerts.render import render_digest, render_message, render_text

__all__ = [
    "DeliveryReport",
    "deliver_digest",
    "deliver_due",
    "deliver_pending",
    "render_digest",
    "render_message",
    "render_text",
    "retry_delay",
]
