"""The staff queue as a list: filters, keyset pages, counts per reason and per status.

Open tabs are keyed on (submitted_at, id), the columns of ix_deletion_requests_status_submitted
(the appealed tab on (appealed_at, id), ix_deletion_requests_status_appealed, oldest appeal first);
approved and rejected on (decided_at, id) (ix_deletion_requests_status_decided), withdrawn on
(updated_at, id) (ix_deletion_requests_withdrawn_updated: a withdrawal records no decision and is a
closed request's last change). So page 5,000 costs what page 1 costs: the database seeks to the
cursor instead of counting rows past it. Three or four queries a page, whatever its size and the
data's: the rows (with review, seller, live holder and decider joined in), the evidence counts for
those rows, and the counters per (status, reason) the database keeps (services/counters.py), from
which both the tab counts and the reason counts come, adjusted by the few live claims for the
assignee filter.

Ages count from `waiting_since`, when the request last changed hands: a submitted request has
waited on the agents since it was filed or the seller answered; one that needs information has
waited on the seller since the question, and is never overdue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select, tuple_, union_all
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm import aliased, contains_eager, defer

from moderation_app.extensions import db
from moderation_app.models.evidence import Evidence, EvidenceUpload, UploadStatus
from moderation_app.models.requests import FINAL_STATUSES, DeletionRequest, Reason, RequestStatus
from moderation_app.models.users import User
from moderation_app.services.counters import counts as request_counts
from moderation_app.services.keyset import decode_cursor, encode_cursor

ASSIGNEE_CHOICES = ("any", "me", "unassigned")
DEFAULT_STATUS = RequestStatus.SUBMITTED
DEFAULT_ASSIGNEE = "any"
# The tabs in the order an agent works them: appeals wait on the agents like new requests.
QUEUE_TABS = (RequestStatus.SUBMITTED, RequestStatus.NEEDS_INFO, RequestStatus.APPEALED,
              RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.WITHDRAWN)
# Statuses waiting on the desk, whose age can pass the response target.
AGENTS_COURT = frozenset({RequestStatus.SUBMITTED, RequestStatus.APPEALED})


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
    def narrows(self) -> bool:
        """Whether anything but the status tab narrows the list (an empty tab is then no news)."""
        return self.reason is not None or self.assignee != DEFAULT_ASSIGNEE or bool(self.seller)

    @property
    def newest_first(self) -> bool:
        """Open requests are worked oldest first; closed ones are looked back on, newest first."""
        return self.status in FINAL_STATUSES




# --- the page ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class QueueRow:
    request: DeletionRequest
    evidence_count: int
    # Large screenshots a job is still decoding (services/evidence/processing.py).
    processing_count: int
    # Open requests: how long they have waited in the current court (see waiting_since).
    # Closed ones: how long they took to close.
    age: timedelta
    # Past the response target; never while waiting on the seller (not the desk's delay).
    overdue: bool
    # Only while the lease runs; a lapsed claim is nobody's.
    holder_email: str | None
    # Closed requests: who closed it (the seller, for a withdrawal) and when.
    closed_by_email: str | None = None
    closed_at: datetime | None = None

    @property
    def answered(self) -> bool:
        """Back from the seller: a submitted request whose clock was restarted by an answer."""
        request = self.request
        return (request.status is RequestStatus.SUBMITTED
                and request.waiting_since > request.submitted_at)


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    next_cursor: str | None
    counts_by_reason: dict[Reason, int]
    filters: QueueFilters
    # What each status tab would list with the other filters (reason included).
    counts_by_status: dict[RequestStatus, int]

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


def sort_column(status: RequestStatus) -> InstrumentedAttribute[datetime]:
    """The time a tab is ordered and keyed by (with the id): see the module's docstring."""
    if status is RequestStatus.WITHDRAWN:
        return DeletionRequest.updated_at
    if status in FINAL_STATUSES:
        return DeletionRequest.decided_at
    if status is RequestStatus.APPEALED:
        return DeletionRequest.appealed_at  # ix_deletion_requests_status_appealed
    return DeletionRequest.submitted_at


def rows_query(filters: QueueFilters, viewer: User, position: tuple[datetime, int] | None, limit: int,
               now: datetime) -> Select[tuple[DeletionRequest, str | None, str | None]]:
    """Up to `limit` requests after `position`, each with its live holder's email (or None) and
    its decider's (or None). Seeks along the tab's index (status, sort_column, id)."""
    seller = aliased(User, name="seller")
    holder = aliased(User, name="holder")
    decider = aliased(User, name="decider")
    moment = sort_column(filters.status)
    key = tuple_(moment, DeletionRequest.id)
    # PostgreSQL seeks the tab's index only when random reads are priced as on SSDs (see
    # config.postgresql_options).
    if filters.newest_first:
        order = (moment.desc(), DeletionRequest.id.desc())
    else:
        order = (moment.asc(), DeletionRequest.id.asc())
    query = (
        select(DeletionRequest, holder.email, decider.email)
        .join(DeletionRequest.review)
        .join(seller, DeletionRequest.seller_id == seller.id)
        .outerjoin(holder, and_(DeletionRequest.assignee_id == holder.id, _live_lease(now)))
        .outerjoin(decider, DeletionRequest.decided_by_id == decider.id)
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


def _evidence_counts(request_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Per request: (files stored, files still processing), in one statement."""
    if not request_ids:
        return {}
    stored = (select(Evidence.request_id, literal(False).label("processing"), func.count())
              .where(Evidence.request_id.in_(request_ids)).group_by(Evidence.request_id))
    held = (select(EvidenceUpload.request_id, literal(True), func.count())
            .where(EvidenceUpload.request_id.in_(request_ids),
                   EvidenceUpload.status == UploadStatus.PROCESSING)
            .group_by(EvidenceUpload.request_id))
    counts: dict[int, tuple[int, int]] = {}
    for request_id, processing, count in db.session.execute(union_all(stored, held)):
        done, waiting = counts.get(request_id, (0, 0))
        counts[request_id] = (done, count) if processing else (count, waiting)
    return counts


@dataclass(frozen=True)
class TabCounts:
    by_status: dict[RequestStatus, int]
    by_reason: dict[Reason, int]


def _matching_sellers(search: str) -> Select[tuple[int]]:
    return select(User.id).where(User.email.icontains(search, autoescape=True))


def _held(now: datetime, sellers: Select[tuple[int]] | None,
          holder: User | None = None) -> dict[tuple[RequestStatus, Reason], int]:
    """Requests under a live lease per (status, reason): few rows, read through
    ix_deletion_requests_assignee_lease (`assignee_id > 0`: SQLite never uses an index for IS NOT
    NULL; ids are positive). Grouped on coalesce(): on the bare columns SQLite reads all of
    ix_deletion_requests_status_reason_submitted to avoid a sort (880 ms at a million requests
    instead of 1 ms); neither column is ever NULL."""
    status, reason = func.coalesce(DeletionRequest.status, ""), func.coalesce(DeletionRequest.reason, "")
    query = (select(status, reason, func.count())
             .where(DeletionRequest.assignee_id == holder.id if holder is not None
                    else DeletionRequest.assignee_id > 0,
                    DeletionRequest.lease_expires_at > now)
             .group_by(status, reason))
    if sellers is not None:
        query = query.where(DeletionRequest.seller_id.in_(sellers))
    return {(RequestStatus(status), Reason(reason)): count
            for status, reason, count in db.session.execute(query)}


def tab_counts(filters: QueueFilters, viewer: User, now: datetime) -> TabCounts:
    """Counts per (status, reason) under the filters other than status and reason (every status
    and reason, zeros too): per reason within the current tab, and per tab within the reason
    filter, so each count is what its link lists.

    Never a count of the requests table: the desk's counters (or the matching sellers' counters)
    kept by the database (services/counters.py), less or only the few requests under a live lease
    for the assignee filter. One statement, two with "unassigned"."""
    sellers = _matching_sellers(filters.seller) if filters.seller else None
    if filters.assignee == "me":
        grouped = _held(now, sellers, holder=viewer)
    else:
        grouped = request_counts(sellers)
        if filters.assignee == "unassigned":
            for key, held in _held(now, sellers).items():
                grouped[key] = grouped.get(key, 0) - held
    by_status = dict.fromkeys(RequestStatus, 0)
    by_reason = dict.fromkeys(Reason, 0)
    for (status, reason), count in grouped.items():
        if status is filters.status:
            by_reason[reason] += count
        if filters.reason is None or reason is filters.reason:
            by_status[status] += count
    return TabCounts(by_status=by_status, by_reason=by_reason)


def counts_by_reason(filters: QueueFilters, viewer: User, now: datetime) -> dict[Reason, int]:
    """Matches per reason for the filters other than reason itself (every reason, zeros too)."""
    return tab_counts(filters, viewer, now).by_reason


def _closed_at(request: DeletionRequest) -> datetime | None:
    if request.status is RequestStatus.WITHDRAWN:
        return request.updated_at  # a withdrawal records no decided_at and is the last change
    return request.decided_at


def _row(request: DeletionRequest, evidence: tuple[int, int], holder_email: str | None,
         decider_email: str | None, now: datetime, response_target: timedelta) -> QueueRow:
    evidence_count, processing_count = evidence
    if request.status in FINAL_STATUSES:
        closed_at = _closed_at(request) or now
        closed_by = request.seller.email if request.status is RequestStatus.WITHDRAWN else decider_email
        age = closed_at - request.submitted_at
        return QueueRow(request=request, evidence_count=evidence_count,
                        processing_count=processing_count, age=age,
                        overdue=age > response_target, holder_email=None,
                        closed_by_email=closed_by, closed_at=closed_at)
    age = now - request.waiting_since
    return QueueRow(request=request, evidence_count=evidence_count,
                    processing_count=processing_count, age=age,
                    overdue=request.status in AGENTS_COURT and age > response_target,
                    holder_email=holder_email)


def queue_page(filters: QueueFilters, viewer: User, cursor: str | None, page_size: int,
               now: datetime, response_target: timedelta) -> QueuePage:
    """One page of requests matching `filters`, resuming after `cursor` (None or an unreadable
    cursor: the first page). Open statuses oldest submission first, closed ones newest closing
    first; a submitted request waiting longer than `response_target` is overdue."""
    page_size = max(int(page_size), 1)
    fetched = db.session.execute(
        rows_query(filters, viewer, decode_cursor(cursor), page_size + 1, now)).all()
    page, more = fetched[:page_size], len(fetched) > page_size
    evidence = _evidence_counts([request.id for request, _, _ in page])
    rows = [_row(request, evidence.get(request.id, (0, 0)), holder_email, decider_email, now,
                 response_target)
            for request, holder_email, decider_email in page]
    last = page[-1][0] if page else None
    # decide() always sets decided_at (and the migration backfilled it); a row written without one
    # sorts last and ends the pages instead of failing.
    last_moment = getattr(last, sort_column(filters.status).key) if last else None
    counts = tab_counts(filters, viewer, now)
    return QueuePage(
        rows=rows,
        next_cursor=encode_cursor(last_moment, last.id) if more and last and last_moment else None,
        counts_by_reason=counts.by_reason,
        filters=filters,
        counts_by_status=counts.by_status,
    )


@dataclass(frozen=True)
class Unavailable:
    """Why `n` found nothing for an agent: requests waiting on an agent that others hold, and
    appeals of the agent's own decisions (which only someone else may take)."""

    held_by_others: int
    own_appeals: int


def unavailable_to(agent: User) -> Unavailable:
    """Only asked when `n` found nothing, so two counts on the status index are cheap enough."""
    waiting = db.session.scalar(
        select(func.count()).select_from(DeletionRequest)
        .where(DeletionRequest.status.in_((RequestStatus.SUBMITTED, RequestStatus.APPEALED)))) or 0
    own = db.session.scalar(
        select(func.count()).select_from(DeletionRequest)
        .where(DeletionRequest.status == RequestStatus.APPEALED,
               DeletionRequest.first_decided_by_id == agent.id)) or 0
    return Unavailable(held_by_others=waiting - own, own_appeals=own)
