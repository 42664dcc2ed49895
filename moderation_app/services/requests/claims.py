"""Who works on a request: claims are leases that lapse, so nothing stays stuck with an agent who left.

Safe under concurrency without blocking: PostgreSQL picks the next request with
`FOR UPDATE SKIP LOCKED`; every claim also goes through the request's version column, so two
agents racing for one request on any database end with exactly one holder (the other gets
StaleDataError, and the caller retries in a fresh transaction).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models.audit import AuditEvent
from moderation_app.models.requests import OPEN_STATUSES, DeletionRequest, RequestStatus
from moderation_app.models.users import Role, User
from moderation_app.services.audit.log import record_event
from moderation_app.services.errors import DomainError
from moderation_app.services.requests.appeals import refuse_first_decider
from moderation_app.services.requests.events import latest_events

# The audit action a page reads back (see events.latest_events).
CLAIMED = "request.claimed"


class ClaimRefused(DomainError):
    """Someone else holds the request, or it is closed."""


def live_holder_id(deletion_request: DeletionRequest, now: datetime | None = None) -> int | None:
    """The holder's id while the lease runs; None when unclaimed or lapsed."""
    now = now or utcnow()
    if deletion_request.assignee_id is None or deletion_request.lease_expires_at is None:
        return None
    return deletion_request.assignee_id if deletion_request.lease_expires_at > now else None


def holds(user: User, deletion_request: DeletionRequest, now: datetime | None = None) -> bool:
    return live_holder_id(deletion_request, now) == user.id


def _grant(agent: User, deletion_request: DeletionRequest, now: datetime, lease: timedelta,
           **details: object) -> None:
    renewing = holds(agent, deletion_request, now)
    deletion_request.assignee_id = agent.id
    if not renewing:
        deletion_request.claimed_at = now
    deletion_request.lease_expires_at = now + lease
    db.session.flush()  # the version check happens here
    if not renewing:
        record_event("request.claimed", actor=agent, request_id=deletion_request.id,
                     review_id=deletion_request.review_id,
                     details={"lease_expires_at": deletion_request.lease_expires_at.isoformat(),
                              **details})


def renew(agent: User, deletion_request: DeletionRequest, lease: timedelta) -> None:
    """The holder's activity extends the lease (not an audit event: it changes nobody's rights)."""
    now = utcnow()
    if holds(agent, deletion_request, now):
        deletion_request.lease_expires_at = now + lease


def claim(agent: User, deletion_request: DeletionRequest, lease: timedelta) -> None:
    """Claim one request for `lease`. A manager may take over a request someone else holds; an
    agent may not."""
    now = utcnow()
    if not deletion_request.is_open:
        raise ClaimRefused("This request is closed; there is nothing to claim.")
    refuse_first_decider(agent, deletion_request)  # before a manager's take-over, too
    holder_id = live_holder_id(deletion_request, now)
    if holder_id is not None and holder_id != agent.id:
        holder = db.session.get(User, holder_id)
        if agent.role is not Role.MANAGER:
            raise ClaimRefused(f"{holder.email} holds this request until "
                               f"{deletion_request.lease_expires_at:%H:%M} UTC.")
        _grant(agent, deletion_request, now, lease, taken_over_from=holder.email)
        return
    _grant(agent, deletion_request, now, lease)


@dataclass(frozen=True)
class TakeOver:
    """A manager's take-over of someone's claim, as its request.claimed event recorded it."""

    by_email: str
    at: datetime


def taken_over_from(user: User, deletion_request: DeletionRequest,
                    latest: dict[str, AuditEvent] | None = None) -> TakeOver | None:
    """The request's latest claim if it took the request over from `user`, else None: how an
    agent's stale tab (and their next visit) learns who took it and when. The audit log is the
    record: every claim writes an event, a take-over names the holder it displaced. `latest`:
    the request's newest events by action (events.latest_events), when the caller read them."""
    if latest is None:
        latest = latest_events(deletion_request.id, CLAIMED)
    event = latest.get(CLAIMED)
    if event is None or json.loads(event.details).get("taken_over_from") != user.email:
        return None
    return TakeOver(by_email=event.actor_email, at=event.occurred_at)


# What `n` takes: requests waiting on an agent, not on the seller.
_AGENTS_TURN = (RequestStatus.SUBMITTED, RequestStatus.APPEALED)


def claim_next(agent: User, lease: timedelta) -> DeletionRequest | None:
    """The agent's own live claim if they have one, else the oldest free appeal the agent did not
    first decide, else the oldest free submitted request.

    Appeals come first: their seller has already waited through one decision, and an internal
    complaint is owed a timely answer (DSA Art. 20). They are few, so they never starve the queue.
    Each candidate is one seek on its tab's index; the first decider's appeals are skipped, not
    refused, so `n` never lands on a request the agent may not touch."""
    now = utcnow()
    held = db.session.scalar(
        select(DeletionRequest)
        .where(DeletionRequest.assignee_id == agent.id, DeletionRequest.lease_expires_at > now,
               DeletionRequest.status.in_(_AGENTS_TURN))
        .order_by(DeletionRequest.submitted_at, DeletionRequest.id).limit(1)
    )
    if held is not None:
        renew(agent, held, lease)
        return held
    free = or_(DeletionRequest.assignee_id.is_(None), DeletionRequest.lease_expires_at <= now)
    appeal = select(DeletionRequest).where(
        DeletionRequest.status == RequestStatus.APPEALED, free,
        or_(DeletionRequest.first_decided_by_id.is_(None),
            DeletionRequest.first_decided_by_id != agent.id),
    ).order_by(DeletionRequest.appealed_at, DeletionRequest.id)
    submitted = select(DeletionRequest).where(
        DeletionRequest.status == RequestStatus.SUBMITTED, free,
    ).order_by(DeletionRequest.submitted_at, DeletionRequest.id)
    for candidates in (appeal, submitted):
        # PostgreSQL: rows other agents are claiming right now are skipped, not waited for.
        candidate = db.session.scalar(candidates.limit(1).with_for_update(skip_locked=True))
        if candidate is not None:
            _grant(agent, candidate, now, lease)
            return candidate
    return None


def release(actor: User, deletion_request: DeletionRequest) -> None:
    now = utcnow()
    holder_id = live_holder_id(deletion_request, now)
    if holder_id is None:
        raise ClaimRefused("Nobody holds this request.")
    if holder_id != actor.id and actor.role is not Role.MANAGER:
        raise ClaimRefused("Only the holder or a manager can release this request.")
    deletion_request.assignee_id = None
    deletion_request.lease_expires_at = None
    db.session.flush()
    record_event("request.released", actor=actor, request_id=deletion_request.id,
                 review_id=deletion_request.review_id, details={"holder_id": holder_id})


def _held_by(holder: User, now: datetime):
    """Open requests on which `holder`'s claim is live."""
    return (DeletionRequest.assignee_id == holder.id, DeletionRequest.lease_expires_at > now,
            DeletionRequest.status.in_(OPEN_STATUSES))


def held_count(holder: User) -> int:
    return db.session.scalar(select(func.count()).select_from(DeletionRequest)
                             .where(*_held_by(holder, utcnow()))) or 0


def release_all_held(holder: User, actor: User | None, why: str) -> list[int]:
    """Hand back every open request `holder` holds a live claim on, each with its
    request.released event; for an account that can no longer work them (deactivated, or no
    longer staff). Returns the released requests' ids."""
    held = db.session.scalars(
        select(DeletionRequest).where(*_held_by(holder, utcnow())).order_by(DeletionRequest.id)
        # PostgreSQL: a decision on one of them waits for us, then finds it released.
        .with_for_update()
    ).all()
    for deletion_request in held:
        deletion_request.assignee_id = None
        deletion_request.lease_expires_at = None
        db.session.flush()  # the version check, as in release()
        record_event("request.released", actor=actor, request_id=deletion_request.id,
                     review_id=deletion_request.review_id,
                     details={"holder_id": holder.id, "why": why})
    return [deletion_request.id for deletion_request in held]
