"""Requests whose state changed, oldest change first, in keyset pages: what the marketplace's API
client polls (GET /api/v1/requests, docs/api.md).

updated_at moves with every write to a request (the model's onupdate): each state change, and also
claims and releases, so a request may be listed again with the same status; the consumer keys on
(id, updated_at). Pages resume strictly after a (updated_at, id) position on
ix_deletion_requests_updated: rows sharing a time are split by id, so none is skipped or repeated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, tuple_

from moderation_app.extensions import db
from moderation_app.models.marketplace import Review
from moderation_app.models.requests import DeletionRequest, MessageKind, RequestMessage, RequestStatus
from moderation_app.models.users import User

# The decided states, and the decision each records.
_DECISIONS = {RequestStatus.APPROVED: "approve", RequestStatus.REJECTED: "reject"}


@dataclass(frozen=True)
class DecisionSummary:
    decision: str          # approve (the review is removed) or reject (it stays)
    decided_at: datetime
    note: str              # the statement of reasons the seller was sent
    on_appeal: bool        # the final decision on the seller's appeal


@dataclass(frozen=True)
class RequestChange:
    id: int
    review_id: str         # the marketplace's id of the review
    seller_email: str
    reason: str
    status: str
    submitted_at: datetime
    updated_at: datetime
    decision: DecisionSummary | None


@dataclass(frozen=True)
class ChangePage:
    items: list[RequestChange]
    has_more: bool


def changed_requests(*, since: datetime | None, after: tuple[datetime, int] | None,
                     until: datetime, limit: int) -> ChangePage:
    """Up to `limit` requests changed at or after `since` (or strictly after the position
    `after`, which wins), and not after `until`, ordered by (updated_at, id)."""
    key = tuple_(DeletionRequest.updated_at, DeletionRequest.id)
    query = (
        select(DeletionRequest.id, Review.external_id, User.email, DeletionRequest.reason,
               DeletionRequest.status, DeletionRequest.submitted_at, DeletionRequest.updated_at,
               DeletionRequest.decided_at, DeletionRequest.appealed_at)
        .join(Review, Review.id == DeletionRequest.review_id)
        .join(User, User.id == DeletionRequest.seller_id)
        .where(DeletionRequest.updated_at <= until)
        .order_by(DeletionRequest.updated_at, DeletionRequest.id)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(key > after)
    elif since is not None:
        query = query.where(DeletionRequest.updated_at >= since)
    rows = db.session.execute(query).all()
    rows, has_more = rows[:limit], len(rows) > limit
    notes = _decision_notes([row.id for row in rows if row.status in _DECISIONS])
    return ChangePage(items=[_change(row, notes) for row in rows], has_more=has_more)


def _decision_notes(request_ids: list[int]) -> dict[int, str]:
    """Each request's latest decision note (the last one wins: an appeal's decision follows the
    first one's)."""
    if not request_ids:
        return {}
    rows = db.session.execute(
        select(RequestMessage.request_id, RequestMessage.body)
        .where(RequestMessage.request_id.in_(request_ids),
               RequestMessage.kind == MessageKind.DECISION)
        .order_by(RequestMessage.id))
    return {request_id: body for request_id, body in rows}


def _change(row, notes: dict[int, str]) -> RequestChange:
    decision = None
    if row.status in _DECISIONS and row.decided_at is not None:
        decision = DecisionSummary(decision=_DECISIONS[row.status], decided_at=row.decided_at,
                                   note=notes.get(row.id, ""), on_appeal=row.appealed_at is not None)
    return RequestChange(id=row.id, review_id=row.external_id, seller_email=row.email,
                         reason=row.reason.value, status=row.status.value,
                         submitted_at=row.submitted_at, updated_at=row.updated_at,
                         decision=decision)
