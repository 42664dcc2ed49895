"""The staff queue as a list: filters, keyset pages, counts per reason and per status.

Pages are keyed on (submitted_at, id), the columns of ix_deletion_requests_status_submitted, so page
5,000 costs what page 1 costs: the database seeks to the cursor instead of counting rows past it.
Three queries a page, whatever its size: the rows (with review, seller and live holder joined in),
the evidence counts for those rows, and the counts per reason.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, tuple_
from sqlalchemy.orm import aliased, contains_eager, defer

from moderation_app.database import MAX_ROW_ID
from moderation_app.extensions import db
from moderation_app.models.evidence import Evidence
from moderation_app.models.requests import FINAL_STATUSES, DeletionRequest, Reason, RequestStatus
from moderation_app.models.users import User

ASSIGNEE_CHOICES = ("any", "me", "unassigned")
DEFAULT_STATUS = RequestStatus.SUBMITTED
DEFAULT_ASSIGNEE = "any"
# A cursor is a timestamp and an id; anything much longer is not one of ours.
MAX_CURSOR_LENGTH = 128


# --- filters -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class QueueFilters:
    reason: Reason | None = None
    status: RequestStatus = DEFAULT_STATUS
    assignee: str = DEFAULT_ASSIGNEE
    seller: str = ""

    @property
    def is_default(self) -> bool:
        return self == QueueFilters()

    @property
    def newest_first(self) -> bool:
        """Open requests are worked oldest first; closed ones are looked back on, newest first."""
        return self.status in FINAL_STATUSES


# --- cursor ------------------------------------------------------------------------------------

def encode_cursor(submitted_at: datetime, request_id: int) -> str:
    """The position after a row, opaque to the browser: urlsafe base64 of "iso-time|id"."""
    raw = f"{submitted_at.astimezone(UTC).isoformat()}|{request_id}".encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(raw: str | None) -> tuple[datetime, int] | None:
    """The position encode_cursor wrote, or None for anything else (which means: first page).
    Not signed: a cursor grants nothing, it only says where a list the viewer may read resumes."""
    if not raw or len(raw) > MAX_CURSOR_LENGTH:
        return None
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
        moment_text, id_text = text.split("|")
        if not id_text.isdigit():  # no sign, no spaces, no underscores
            return None
        request_id = int(id_text)
        moment = datetime.fromisoformat(moment_text)
        if moment.tzinfo is None:
            return None
        moment = moment.astimezone(UTC)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        return None
    if not 0 < request_id <= MAX_ROW_ID:
        return None
    return moment, request_id


# --- the page ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class QueueRow:
    request: DeletionRequest
    evidence_count: int
    # Open requests: how long they have waited. Closed ones: how long they took to close.
    age: timedelta
    overdue: bool
    # Only while the lease runs; a lapsed claim is nobody's.
    holder_email: str | None


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    next_cursor: str | None
    counts_by_reason: dict[Reason, int]
    filters: QueueFilters

    @property
    def total(self) -> int:
        """Matches for the filters other than reason (what the counts add up to)."""
        return sum(self.counts_by_reason.values())


def _live_lease(now: datetime) -> ColumnElement[bool]:
    return and_(DeletionRequest.assignee_id.is_not(None), DeletionRequest.lease_expires_at > now)


def _conditions(filters: QueueFilters, viewer: User, now: datetime, seller: type[User],
                *, with_reason: bool) -> list[ColumnElement[bool]]:
    """WHERE clauses for the filters; the seller search refers to `seller`, which the caller joins."""
    conditions: list[ColumnElement[bool]] = [DeletionRequest.status == filters.status]
    if with_reason and filters.reason is not None:
        conditions.append(DeletionRequest.reason == filters.reason)
    if filters.assignee == "me":
        conditions.append(and_(DeletionRequest.assignee_id == viewer.id,
                               DeletionRequest.lease_expires_at > now))
    elif filters.assignee == "unassigned":
        conditions.append(or_(DeletionRequest.assignee_id.is_(None),
                              DeletionRequest.lease_expires_at.is_(None),
                              DeletionRequest.lease_expires_at <= now))
    if filters.seller:
        conditions.append(seller.email.icontains(filters.seller, autoescape=True))
    return conditions


def rows_query(filters: QueueFilters, viewer: User, position: tuple[datetime, int] | None, limit: int,
               now: datetime) -> Select[tuple[DeletionRequest, str | None]]:
    """Up to `limit` requests after `position`, each with its live holder's email (or None).
    Seeks along ix_deletion_requests_status_submitted: (status, submitted_at, id)."""
    seller = aliased(User, name="seller")
    holder = aliased(User, name="holder")
    key = tuple_(DeletionRequest.submitted_at, DeletionRequest.id)
    if filters.newest_first:
        order = (DeletionRequest.submitted_at.desc(), DeletionRequest.id.desc())
    else:
        order = (DeletionRequest.submitted_at.asc(), DeletionRequest.id.asc())
    query = (
        select(DeletionRequest, holder.email)
        .join(DeletionRequest.review)
        .join(seller, DeletionRequest.seller_id == seller.id)
        .outerjoin(holder, and_(DeletionRequest.assignee_id == holder.id, _live_lease(now)))
        .options(
            contains_eager(DeletionRequest.review),
            contains_eager(DeletionRequest.seller.of_type(seller)),
            # The list never shows these; loading them for every row of a page would be waste,
            # and touching them from the template should fail loudly rather than query per row.
            defer(DeletionRequest.explanation, raiseload=True),
            defer(DeletionRequest.review_snapshot, raiseload=True),
        )
        .where(*_conditions(filters, viewer, now, seller, with_reason=True))
        .order_by(*order)
        .limit(limit)
    )
    if position is not None:
        query = query.where(key < position if filters.newest_first else key > position)
    return query


def _evidence_counts(request_ids: list[int]) -> dict[int, int]:
    if not request_ids:
        return {}
    return dict(db.session.execute(
        select(Evidence.request_id, func.count())
        .where(Evidence.request_id.in_(request_ids))
        .group_by(Evidence.request_id)
    ).all())


def counts_by_reason(filters: QueueFilters, viewer: User, now: datetime) -> dict[Reason, int]:
    """Matches per reason for the filters other than reason itself (every reason, zeros too)."""
    seller = aliased(User, name="seller")
    query = select(DeletionRequest.reason, func.count()).group_by(DeletionRequest.reason)
    if filters.seller:
        query = query.join(seller, DeletionRequest.seller_id == seller.id)
    query = query.where(*_conditions(filters, viewer, now, seller, with_reason=False))
    counts = dict.fromkeys(Reason, 0)
    counts.update(db.session.execute(query).all())
    return counts


def _age(request: DeletionRequest, now: datetime) -> timedelta:
    if request.status in FINAL_STATUSES:
        # Withdrawals set no decided_at; the withdrawal was the request's last change.
        closed_at = request.decided_at or request.updated_at or now
        return closed_at - request.submitted_at
    return now - request.submitted_at


def queue_page(filters: QueueFilters, viewer: User, cursor: str | None, page_size: int,
               now: datetime, response_target: timedelta) -> QueuePage:
    """One page of requests matching `filters`, resuming after `cursor` (None or an unreadable
    cursor: the first page). Open statuses oldest first, closed ones newest first; a row older
    than `response_target` is overdue."""
    page_size = max(int(page_size), 1)
    fetched = db.session.execute(
        rows_query(filters, viewer, decode_cursor(cursor), page_size + 1, now)).all()
    page, more = fetched[:page_size], len(fetched) > page_size
    evidence = _evidence_counts([request.id for request, _ in page])
    rows = []
    for request, holder_email in page:
        age = _age(request, now)
        rows.append(QueueRow(request=request, evidence_count=evidence.get(request.id, 0), age=age,
                             overdue=age > response_target, holder_email=holder_email))
    last = page[-1][0] if page else None
    return QueuePage(
        rows=rows,
        next_cursor=encode_cursor(last.submitted_at, last.id) if more and last else None,
        counts_by_reason=counts_by_reason(filters, viewer, now),
        filters=filters,
    )
