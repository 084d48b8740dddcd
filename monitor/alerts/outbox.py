"""The outbox: deliver queued alerts at least once, and never lose one.

Alert rows are written by the pipeline in the same transaction as the article
and mentions that cause them; this module hands them to SMTP afterwards.

Guarantees, and how they are kept
---------------------------------
* **Nothing is lost.** An alert leaves the queue only when ``sent`` is set, and
  ``sent`` is set only after the server answered 250 to the message. A failure
  (server down, 4xx, 5xx, a message that cannot even be rendered) records
  ``attempts`` and ``last_error`` and schedules ``next_attempt`` with a backoff of
  60 s doubling per attempt, capped at ``email.retry_max`` seconds. Permanent
  (5xx) failures are retried too, on the same schedule, and logged as errors:
  they need a person, but the alert must still go out once the person fixed it.
  Alerts that failed only because the server could not be reached do not wait
  out their backoffs once it is back: the first message it accepts releases them
  all, and the same run delivers them.
* **At least once, at most one repeat.** Each delivery attempt first *claims* its
  alerts in a committed transaction (``attempts + 1``, held until a lease runs
  out), then sends, then marks them sent. A process killed between the server's
  acceptance and the mark leaves the alert claimed but unsent; once the lease has
  run out (one SMTP timeout per protocol step, minutes at most) the next run sends
  it again under the same ``Message-ID``, so the repeat is recognisable and mail
  clients that deduplicate by Message-ID show it once. Only the message in flight
  at the kill can repeat: every earlier one was marked before the next was sent.
  The claim also lets ``monitor once`` run beside the daemon without double sends.
* **A retry is the same message.** Once claimed, an alert's content is fixed; new
  passages of the story found later go into a follow-up alert (see
  :meth:`Archive.queue_alert`), held until the earlier one is retried so it never
  arrives first.
* **One alert cannot hold up a digest.** A server that refuses a message for its content
  (5xx to DATA: a spam or virus filter's verdict on a link or a passage a hostile page
  put in an alert) would refuse a digest holding that alert at every retry, every other
  alert in it with it; so would an alert the renderer fails on. Such a digest is split in two (:meth:`AlertStore.split_digest`),
  each half sent as a message of its own, and a half refused again while the other went
  is split again, so the alerts that can go go in the same run, in about ``2·log2(n)``
  messages. When both halves are refused, each is retried (and split) at its own next
  attempt. An alert the server refuses alone goes as a notice that it exists, naming its
  rules and (defanged) sites and quoting nothing of the pages (:func:`render_refused`),
  the refusal kept as its note: a hostile copy joined to a real story puts its
  blocklisted link in that story's alert, which would otherwise never arrive.
* **Without ``[email]``** alerts stay queued and :func:`deliver_due` does nothing
  (the caller that queues an alert prints it with :func:`render_text`). Adding ``[email]`` later delivers the whole backlog, oldest first:
  one message per alert in instant mode (one digest past ``burst``), everything in the first digest in
  digest mode. To drop a backlog instead, before adding ``[email]``::

      sqlite-utils monitor.db "UPDATE alerts SET sent = strftime('%Y-%m-%dT%H:%M:%SZ', 'now'),
          last_error = 'skipped: backlog dropped by hand' WHERE sent IS NULL"

Modes: in instant mode :func:`deliver_due` sends one message per due alert, or, when more than
``email.burst`` are due at once, gathers them into one digest sent at once. In
digest mode :func:`deliver_digest` gathers every waiting alert into one message
when a ``digest_cron`` time has passed since the oldest of them was queued
(calling it often is harmless; a digest time missed while the daemon was down is
caught up); :func:`deliver_due` then only retries digests that failed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from functools import partial

from monitor.alerts.render import render_digest, render_message, render_refused
from monitor.alerts.smtp import Mailer, send_seconds
from monitor.config import EmailSettings, next_digest
from monitor.errors import ContentRefusedError, DeliveryError, MessageRefusedError, PermanentDeliveryError
from monitor.models import AlertContent
from monitor.storage import AlertStore, ArchiveAccess

log = logging.getLogger(__name__)

INTERRUPTED = "the send was cut short by a stop; tried again at the next run"  # its claim given back

FIRST_RETRY = timedelta(seconds=60)

Compose = Callable[[list[AlertContent]], EmailMessage]
Batches = Callable[[], Awaitable[list[tuple[list[int], Compose]]]]  # what is due now, asked again after a release
Alerts = ArchiveAccess[AlertStore]  # the archive, as the outbox reaches it


@dataclass
class DeliveryReport:
    """What one delivery run did, for logs and ``monitor once``."""

    messages: int = 0  # messages the server accepted
    sent: list[int] = field(default_factory=list)  # alerts marked sent
    failed: dict[int, str] = field(default_factory=dict)  # alert id -> error of this run
    queued: int = 0  # alerts still unsent after the run


def retry_delay(attempts: int, cap: int) -> timedelta:
    """Wait after the ``attempts``-th failed try: 60 s, doubling each time, at most ``cap`` seconds."""
    return min(FIRST_RETRY * (1 << min(max(attempts - 1, 0), 20)), timedelta(seconds=cap))


def mail_lease(email: EmailSettings) -> timedelta:
    """How long a claimed alert is held: as long as one send may take, so only a dead sender's alert is retaken."""
    return timedelta(seconds=send_seconds(email))


def run_clock(now: datetime) -> Callable[[], datetime]:
    """The time as a delivery run goes on, from the ``now`` it started with: a claim's lease and a retry are counted
    from when they are decided. Counted from the run's start, a send failing at its deadline was retried 5 s later,
    not a minute later, and a long run claimed with a lease partly run out."""
    started = time.monotonic()
    return lambda: now + timedelta(seconds=time.monotonic() - started)


def digest_due(cron: str, since: datetime, now: datetime) -> bool:
    """Whether a ``cron`` time (UTC) came after ``since`` and no later than ``now``."""
    fire = next_digest(cron, since)
    return fire is not None and fire <= now


async def deliver_due(archive: Alerts, email: EmailSettings | None, now: datetime) -> DeliveryReport:
    """Send every alert whose time has come; with ``email`` None do nothing (alerts stay queued).

    Instant mode: one message per alert. Both modes: retry digests that failed.
    """
    if email is None:
        return DeliveryReport(queued=await archive.run(lambda store: store.queued_alert_count()))

    async def batches() -> list[tuple[list[int], Compose]]:
        singles: list[tuple[list[int], Compose]] = []
        if email.mode == "instant":
            alert_ids = await archive.run(lambda store: store.due_alerts(now))
            if email.burst and len(alert_ids) > email.burst:
                # A burst (a source's flood of matching stories, a first run's backlog, an outage's queue) goes as
                # one digest: a message each would bury the inbox, and use up the sender's quota.
                await archive.run(lambda store: store.gather_digest(now, email.message_domain, alert_ids))
                log.warning("%d alerts due at once, more than [email] burst = %d: sent as one digest",
                            len(alert_ids), email.burst)
            else:
                singles = [([alert_id], _single(email, now)) for alert_id in alert_ids]
        return await _digest_batches(archive, email, now) + singles

    return await _deliver(archive, email, now, batches)


async def deliver_digest(archive: Alerts, email: EmailSettings, now: datetime) -> DeliveryReport:
    """Gather and send the digest if a ``digest_cron`` time has passed since the oldest waiting alert.

    Sends nothing when no alert waits. Digests that failed earlier are retried too.
    """
    oldest = await archive.run(lambda store: store.oldest_undigested())
    if oldest is not None and digest_due(email.digest_cron, oldest, now):
        await archive.run(lambda store: store.gather_digest(now, email.message_domain))
    return await _deliver(archive, email, now, lambda: _digest_batches(archive, email, now))


async def deliver_pending(archive: Alerts, email: EmailSettings | None, now: datetime) -> DeliveryReport:
    """Whatever is due in the configured mode: instant alerts and retries, or a due digest."""
    if email is not None and email.mode == "digest":
        return await deliver_digest(archive, email, now)
    return await deliver_due(archive, email, now)


def _single(email: EmailSettings, now: datetime) -> Compose:
    return lambda contents: render_message(contents[0], sender=email.sender, recipients=email.recipients, date=now)


def _digest(email: EmailSettings, now: datetime, message_id: str) -> Compose:
    return lambda contents: render_digest(
        contents, sender=email.sender, recipients=email.recipients, message_id=message_id, date=now
    )


async def _digest_batches(archive: Alerts, email: EmailSettings, now: datetime) -> list[tuple[list[int], Compose]]:
    due = await archive.run(lambda store: store.due_digests(now))
    return [(alert_ids, _digest(email, now, message_id)) for message_id, alert_ids in due]


async def _deliver(archive: Alerts, email: EmailSettings, now: datetime, batches: Batches) -> DeliveryReport:
    """Send one message per due batch over one SMTP session.

    When the server cannot be reached, the batches left are not tried (each would
    wait for the same timeout) but recorded as failed with the same error. When it
    accepted a message, it is up: alerts held back by an earlier outage are released
    and sent in the same session.
    """
    report = DeliveryReport()
    clock = run_clock(now)
    async with Mailer(email) as mailer:
        reachable = await _send_batches(archive, email, now, await batches(), mailer, clock, report)
        if report.messages and reachable and await archive.run(lambda store: store.release_after_outage(now)):
            log.info("the SMTP server is back: delivering the alerts held back by the outage")
            await _send_batches(archive, email, now, await batches(), mailer, clock, report)
    report.queued = await archive.run(lambda store: store.queued_alert_count())
    return report


async def _send_batches(
    archive: Alerts, email: EmailSettings, now: datetime, batches: Sequence[tuple[list[int], Compose]],
    mailer: Mailer, clock: Callable[[], datetime], report: DeliveryReport,
) -> bool:
    """Claim, render and send each batch, recording what failed; whether the server was still reachable at the end."""
    unreachable: DeliveryError | None = None
    for alert_ids, compose in batches:
        hold_until = clock() + mail_lease(email)
        claimed = await archive.run(lambda store: store.claim_alerts(alert_ids, now, hold_until, email.message_domain))
        if not claimed:
            continue  # sent or claimed meanwhile by another deliverer
        if unreachable is not None:
            await _record_failure(archive, email, claimed, unreachable, clock(), report, outage=True)
            continue
        try:
            gone = await _attempt(archive, email, now, claimed, compose, mailer, clock, report)
        except asyncio.CancelledError:
            # A stop (SIGTERM, Ctrl-C) in the middle of a send, of a refused digest's halves or of a notice standing in:
            # the claims are given back, due at once (a half already delivered stays sent). Held for its lease, an
            # alert waited minutes after a restart, which sent nothing and said nothing. The server may have taken
            # the message: the one repeat the lease allows.
            await asyncio.shield(archive.run(lambda store: store.mark_failed(list(claimed), INTERRUPTED, now)))
            raise
        unreachable = unreachable or gone
    return unreachable is None


async def _attempt(
    archive: Alerts, email: EmailSettings, now: datetime, claimed: dict[int, int], compose: Compose, mailer: Mailer,
    clock: Callable[[], datetime], report: DeliveryReport,
) -> DeliveryError | None:
    """Render and send one claimed batch, split when refused for its content, recording what failed; the failure that
    showed the server gone, if one did."""
    message = await _render(archive, list(claimed), compose)
    error = message if isinstance(message, DeliveryError) else await _send(
        archive, mailer, list(claimed), message, now, report)
    failures = [] if error is None else [(claimed, error)]
    if isinstance(error, MessageRefusedError) and len(claimed) > 1:
        failures = await _split(archive, email, now, claimed, error, mailer, report)
    unreachable: DeliveryError | None = None
    for failed, refusal in failures:
        failure: DeliveryError | None = refusal
        if len(failed) == 1 and isinstance(refusal, ContentRefusedError):
            failure = await _stand_in(archive, email, now, failed, refusal, mailer, report)
        if failure is None:
            continue
        if not mailer.connected and not isinstance(failure, MessageRefusedError):  # the server went away
            unreachable = failure
        await _record_failure(archive, email, failed, failure, clock(), report,
                              outage=unreachable is not None or _session_refused(failure))
    return unreachable


async def _split(
    archive: Alerts, email: EmailSettings, now: datetime, claimed: dict[int, int], error: DeliveryError,
    mailer: Mailer, report: DeliveryReport,
) -> list[tuple[dict[int, int], DeliveryError]]:
    """Split a digest refused for its content in two and send each half, again while one half is refused and the
    other went (see the module's docstring); the halves that failed, with their errors, for the caller to record.

    The alerts stay claimed throughout: the halves are this attempt's, under its lease.
    """
    while True:
        log.warning("alerts %s refused for their content (%s): sent in two halves", list(claimed), error)
        halves = await archive.run(partial(_split_digest, alert_ids=list(claimed), now=now, domain=email.message_domain))
        failed: list[tuple[dict[int, int], DeliveryError]] = []
        for message_id, alert_ids in halves:
            message = await _render(archive, alert_ids, _digest(email, now, message_id))
            outcome = message if isinstance(message, DeliveryError) else await _send(
                archive, mailer, alert_ids, message, now, report)
            if outcome is not None:
                failed.append(({alert_id: claimed[alert_id] for alert_id in alert_ids}, outcome))
        if len(failed) != 1 or len(halves) != 2 or len(failed[0][0]) < 2 or not isinstance(failed[0][1],
                                                                                         MessageRefusedError):
            return failed
        claimed, error = failed[0]  # its sibling went: what the filter refuses is in this half


async def _stand_in(
    archive: Alerts, email: EmailSettings, now: datetime, claimed: dict[int, int], error: DeliveryError,
    mailer: Mailer, report: DeliveryReport,
) -> DeliveryError | None:
    """Send an alert the server refused alone for its content as a notice quoting none of it (:func:`render_refused`):
    None once it went, the alert then marked sent with the refusal as its note; else the error to record.

    Retried whole, such an alert was refused at every attempt and never reached the analyst: a hostile copy joined to
    a real story puts its blocklisted link in that story's alert.
    """
    [alert_id] = claimed
    notice = await _render(archive, [alert_id], lambda contents: render_refused(
        contents[0], sender=email.sender, recipients=email.recipients, date=now))
    if isinstance(notice, DeliveryError):
        return error
    note = f"refused for its content, sent as a notice: {error}"
    failure = await _send(archive, mailer, [alert_id], notice, now, report, note)
    if failure is not None:
        return error if isinstance(failure, MessageRefusedError) else failure
    log.warning("alert %d %s", alert_id, note)
    return None


def _split_digest(store: AlertStore, alert_ids: list[int], now: datetime, domain: str) -> list[tuple[str, list[int]]]:
    return store.split_digest(alert_ids, now, domain)


async def _render(archive: Alerts, alert_ids: list[int], compose: Compose) -> EmailMessage | DeliveryError:
    """The message for ``alert_ids``, or the error to record: a bug on one alert must not hold up the others."""
    try:
        contents = await archive.run(lambda store: [store.alert_content(alert_id) for alert_id in alert_ids])
        return compose(contents)
    except Exception as exc:
        log.exception("alerts %s: cannot render the message", alert_ids)
        return MessageRefusedError(f"cannot render the message: {exc!r}")


async def _send(
    archive: Alerts, mailer: Mailer, alert_ids: list[int], message: EmailMessage, now: datetime,
    report: DeliveryReport, about: str | None = None,
) -> DeliveryError | None:
    """Send one message, marking its alerts sent once the server accepted it, with ``about`` (what the message
    stands for) and the recipients it refused as their note."""
    try:
        refused = await mailer.send(message)
    except DeliveryError as exc:
        return exc
    notes = [about] if about else []
    notes += [f"refused {rcpt}: {reply}" for rcpt, reply in refused.items()]
    note = "; ".join(notes) or None
    await archive.run(lambda store: store.mark_sent(alert_ids, now, note))
    report.messages += 1
    report.sent += alert_ids
    log.info("alerts %s sent as %s%s", alert_ids, message["Message-ID"], f" ({note})" if note else "")
    if refused:  # said at INFO alone, hidden by -q: a recipient mistyped or gone never got an alert, and nobody knew
        log.warning("alerts %s: the server refused %s (the others got them; the alerts are not sent again): %s",
                    alert_ids, ", ".join(refused), "; ".join(f"{rcpt}: {reply}" for rcpt, reply in refused.items()))
    return None


def _session_refused(error: DeliveryError) -> bool:
    """A failure of the server's or the settings' (a wrong password, TLS, relaying denied), not of this message."""
    return isinstance(error, PermanentDeliveryError) and not isinstance(error, MessageRefusedError)


async def _record_failure(
    archive: Alerts, email: EmailSettings, claimed: dict[int, int], error: DeliveryError, failed_at: datetime,
    report: DeliveryReport, *, outage: bool = False,
) -> None:
    """``outage``: the failure was the server's or its settings', not this message's (see
    :meth:`Archive.release_after_outage`)."""
    retry = failed_at + retry_delay(max(claimed.values()), email.retry_max)
    await archive.run(lambda store: store.mark_failed(list(claimed), str(error), retry, outage=outage))
    report.failed.update(dict.fromkeys(claimed, str(error)))
    level = logging.ERROR if isinstance(error, PermanentDeliveryError) else logging.WARNING
    # As monitor shows every time: "2026-12-05T09:41:14Z", not isoformat's "+00:00" and microseconds.
    log.log(level, "alerts %s not delivered (retry at %s): %s", list(claimed), f"{retry:%Y-%m-%dT%H:%M:%SZ}", error)
