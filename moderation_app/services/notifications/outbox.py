"""The outbox's rules: enqueue in the caller's transaction, what is due, claiming a due row, and
what an attempt leaves behind (sent, or an error with the next try backed off exponentially,
until the last allowed attempt gives up). Nothing here commits or talks to SMTP."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload

from moderation_app.extensions import db
from moderation_app.models.notifications import Notification, NotificationKind, NotificationStatus
from moderation_app.models.requests import Decision, DecisionRecord, DeletionRequest

# What a manager reads is the error's first line or so; a server's whole transcript is noise.
ERROR_MAX_LENGTH = 500


@dataclass(frozen=True)
class RetryPolicy:
    """Attempt n (1-based) that fails waits first_delay * 2**(n-1), at most max_delay; the
    max_attempts-th failure gives up. The defaults span about 4 h 15 min of retries."""

    first_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(hours=2)
    max_attempts: int = 8

    def delay_after(self, attempts: int) -> timedelta:
        return min(self.first_delay * 2 ** max(attempts - 1, 0), self.max_delay)


def kind_for(decision: Decision, *, on_appeal: bool = False) -> NotificationKind:
    if decision is Decision.REQUEST_INFO:
        return NotificationKind.INFORMATION_REQUESTED
    return NotificationKind.APPEAL_DECIDED if on_appeal else NotificationKind.REQUEST_DECIDED


def enqueue(deletion_request: DeletionRequest, record: DecisionRecord, *,
            on_appeal: bool = False) -> Notification:
    """The seller's e-mail about `record`, added to the caller's session: it commits with the
    decision or not at all. The same event twice fails on the unique constraint."""
    notification = Notification(kind=kind_for(record.decision, on_appeal=on_appeal),
                                request=deletion_request, decision=record,
                                recipient_id=deletion_request.seller_id)
    db.session.add(notification)
    return notification


def next_due(now: datetime, *, skip_locked: bool, exclude: Collection[int] = ()) -> Notification | None:
    """The oldest due notification. skip_locked (PostgreSQL): lock it until the caller's commit,
    passing over rows another sender holds, so two senders never send the same row."""
    query = (select(Notification)
             .where(Notification.status == NotificationStatus.PENDING,
                    Notification.next_attempt_at <= now)
             .order_by(Notification.next_attempt_at, Notification.id).limit(1))
    if exclude:
        query = query.where(Notification.id.not_in(list(exclude)))
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    return db.session.scalars(query).first()


def still_pending(notification_id: int) -> Notification | None:
    """The row again, if nobody marked it meanwhile (the mark's guard on SQLite)."""
    notification = db.session.get(Notification, notification_id, populate_existing=True)
    if notification is None or notification.status is not NotificationStatus.PENDING:
        return None
    return notification


def mark_sent(notification: Notification, now: datetime) -> None:
    notification.attempts += 1
    notification.last_attempt_at = now
    notification.status = NotificationStatus.SENT
    notification.sent_at = now


def record_failure(notification: Notification, error: BaseException, now: datetime,
                   policy: RetryPolicy) -> None:
    notification.attempts += 1
    notification.last_attempt_at = now
    notification.last_error = describe_error(error)
    if notification.attempts >= policy.max_attempts:
        notification.status = NotificationStatus.FAILED
    else:
        notification.next_attempt_at = now + policy.delay_after(notification.attempts)


def describe_error(error: BaseException) -> str:
    smtp_code = getattr(error, "smtp_code", None)
    smtp_error = getattr(error, "smtp_error", None)
    if smtp_code is not None:
        text = smtp_error.decode("utf-8", "replace") if isinstance(smtp_error, bytes) \
            else str(smtp_error)
        detail = f"{smtp_code} {text}"
    else:
        detail = str(error) or type(error).__name__
    return f"{type(error).__name__}: {detail}"[:ERROR_MAX_LENGTH]


def undelivered() -> Select:
    """Every notification not (yet) accepted by an SMTP server, newest first, with its recipient
    (the list shows each one's address: one statement, not one per seller)."""
    return (select(Notification)
            .options(joinedload(Notification.recipient))
            .where(Notification.status != NotificationStatus.SENT)
            .order_by(Notification.created_at.desc(), Notification.id.desc()))


def undelivered_counts() -> dict[NotificationStatus, int]:
    rows = db.session.execute(
        select(Notification.status, func.count())
        .where(Notification.status != NotificationStatus.SENT)
        .group_by(Notification.status))
    counts = {NotificationStatus.PENDING: 0, NotificationStatus.FAILED: 0}
    counts.update({status: count for status, count in rows})
    return counts
