"""The webhook outbox's rules: what is due (never a review's event before its earlier ones are
delivered), what an attempt leaves behind (delivered, or an error and the next try backed off
exponentially until the give-up time), a manager's retry of a given-up event, and the lists the
managers' page reads. Nothing here commits or talks HTTP."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.orm import aliased, selectinload

from moderation_app.extensions import db
from moderation_app.models.users import User
from moderation_app.models.webhooks import WebhookAttempt, WebhookEvent, WebhookStatus
from moderation_app.services.audit.log import record_event
from moderation_app.services.errors import DomainError, NoSuchRecord
from moderation_app.services.keyset import KeysetPage, Position, newest_first

# What a manager reads is the answer's first line or so, not a whole error page.
ERROR_MAX_LENGTH = 500


@dataclass(frozen=True)
class RetryPolicy:
    """A failed attempt n (1-based) waits first_delay * 2**(n-1), at most max_delay; a failure
    at least give_up_after past the first failure of its run gives up. The defaults (30 s
    doubling to 1 h, for 24 h) make about 35 attempts over a day."""

    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    give_up_after: timedelta = timedelta(hours=24)

    def delay_after(self, failures: int) -> timedelta:
        return min(self.first_delay * 2 ** max(failures - 1, 0), self.max_delay)


@dataclass(frozen=True)
class AttemptResult:
    """One POST's outcome: a status (2xx: delivered) or an error without an answer."""

    duration_ms: int
    status_code: int | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class RetryRefused(DomainError):
    """Only a given-up event can be retried by hand; the message says why not."""


def _earlier_undelivered(event: type[WebhookEvent]):
    earlier = aliased(WebhookEvent)
    return exists().where(earlier.review_id == event.review_id, earlier.id < event.id,
                          earlier.status != WebhookStatus.DELIVERED)


def next_due(now: datetime, *, skip_locked: bool, exclude: Collection[int] = ()) -> WebhookEvent | None:
    """The oldest due event whose review has no earlier event undelivered (pending or given
    up): a review's events reach the marketplace in the order they were decided. skip_locked
    (PostgreSQL): lock it until the caller's commit, passing over rows another sender holds;
    the in-flight row is still pending, so no sender takes the same review's next event (on
    SQLite its lease, a later next_attempt_at, keeps it from being due itself)."""
    query = (select(WebhookEvent)
             .where(WebhookEvent.status == WebhookStatus.PENDING,
                    WebhookEvent.next_attempt_at <= now,
                    ~_earlier_undelivered(WebhookEvent))
             .order_by(WebhookEvent.next_attempt_at, WebhookEvent.id).limit(1))
    if exclude:
        query = query.where(WebhookEvent.id.not_in(list(exclude)))
    if skip_locked:
        query = query.with_for_update(skip_locked=True, of=WebhookEvent)
    return db.session.scalars(query).first()


def still_pending(event_id: int) -> WebhookEvent | None:
    """The row again, if nobody marked it meanwhile (the mark's guard on SQLite)."""
    event = db.session.get(WebhookEvent, event_id, populate_existing=True)
    if event is None or event.status is not WebhookStatus.PENDING:
        return None
    return event


def record_attempt(event: WebhookEvent, result: AttemptResult, now: datetime,
                   policy: RetryPolicy) -> WebhookAttempt:
    """The attempt's row, and the event's state after it."""
    error = None if result.succeeded else (result.error or f"HTTP {result.status_code}")
    attempt = WebhookAttempt(event=event, attempted_at=now, duration_ms=result.duration_ms,
                             status_code=result.status_code, succeeded=result.succeeded,
                             error=None if error is None else error[:ERROR_MAX_LENGTH])
    db.session.add(attempt)
    event.attempts += 1
    event.last_attempt_at = now
    if result.succeeded:
        event.status = WebhookStatus.DELIVERED
        event.delivered_at = now
        return attempt
    event.last_error = attempt.error
    if event.failing_since is None:
        event.failing_since = now
    if now >= event.failing_since + policy.give_up_after:
        event.status = WebhookStatus.FAILED
    else:
        failures = _failures_in_run(event, now)
        event.next_attempt_at = now + policy.delay_after(failures)
    return attempt


def _failures_in_run(event: WebhookEvent, now: datetime) -> int:
    """Failed attempts since the run began (this one included): the backoff's exponent."""
    return db.session.scalar(
        select(func.count()).select_from(WebhookAttempt)
        .where(WebhookAttempt.event_id == event.id, WebhookAttempt.succeeded.is_(False),
               WebhookAttempt.attempted_at >= event.failing_since)) or 1


def retry(manager: User, event_id: int, now: datetime) -> WebhookEvent:
    """A manager sends a given-up event again: due now, with a fresh day of retries, and the
    review's later events follow once it is delivered. Audited in the caller's transaction."""
    event = db.session.get(WebhookEvent, event_id, with_for_update=True, populate_existing=True)
    if event is None:
        raise NoSuchRecord("No such webhook event.")
    if event.status is not WebhookStatus.FAILED:
        raise RetryRefused(f"Event #{event.id} is {event.status.label.lower()}, not given up: "
                           "only a given-up event can be retried by hand.")
    event.status = WebhookStatus.PENDING
    event.next_attempt_at = now
    event.failing_since = None
    db.session.flush()
    record_event("webhook.retried", actor=manager, request_id=event.request_id,
                 review_id=event.review_id, details={
                     "event_id": event.id, "webhook_id": event.webhook_id,
                     "type": event.type.value, "attempts_before": event.attempts,
                     "last_error": event.last_error})
    return event


# --- what the managers' page reads ---------------------------------------------------------------

def undelivered(status: WebhookStatus | None = None) -> Select:
    """Events not delivered (pending and given up, or one of them), with their attempts."""
    statuses = [status] if status else [WebhookStatus.PENDING, WebhookStatus.FAILED]
    return (select(WebhookEvent)
            .options(selectinload(WebhookEvent.attempt_log))
            .where(WebhookEvent.status.in_(statuses)))


def undelivered_page(status: WebhookStatus | None, position: Position, size: int) -> KeysetPage:
    return newest_first(undelivered(status), WebhookEvent.created_at, WebhookEvent.id, position, size)


def undelivered_counts() -> dict[WebhookStatus, int]:
    rows = db.session.execute(
        select(WebhookEvent.status, func.count())
        .where(WebhookEvent.status != WebhookStatus.DELIVERED)
        .group_by(WebhookEvent.status))
    counts = {WebhookStatus.PENDING: 0, WebhookStatus.FAILED: 0}
    counts.update({status: count for status, count in rows})
    return counts


def blocked_by(events: Sequence[WebhookEvent]) -> dict[int, WebhookEvent]:
    """For each event on a page that waits behind an earlier undelivered event of its review,
    that earlier event (the first of them): one query for the page."""
    reviews = {event.review_id for event in events}
    if not reviews:
        return {}
    first = (select(WebhookEvent.review_id, func.min(WebhookEvent.id).label("first_id"))
             .where(WebhookEvent.review_id.in_(reviews),
                    WebhookEvent.status != WebhookStatus.DELIVERED)
             .group_by(WebhookEvent.review_id).subquery())
    heads = {event.review_id: event for event in db.session.scalars(
        select(WebhookEvent).join(first, and_(WebhookEvent.id == first.c.first_id)))}
    return {event.id: heads[event.review_id] for event in events
            if event.review_id in heads and heads[event.review_id].id < event.id}
