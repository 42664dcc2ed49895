"""Deletion requests counted per (status, reason), for the desk and per seller, from the counter
tables the database keeps (models/counters.py): a handful of rows instead of a million. (The
sellers' rating totals, kept the same way, are read by services/marketplace/ratings.py; the
dashboard's day rollups by services/dashboard/activity.py, decisions.py and signals.py.)

`rebuild()` recounts them from deletion_requests, for `flask --app wsgi counters rebuild` after a
restore or any write made with the triggers disabled; `drift()` says what a rebuild would change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import Enum

from sqlalchemy import ColumnElement, Date, Select, delete, func, insert, literal, select, text, update

from moderation_app.extensions import db
from moderation_app.models.counters import (
    AgentDayDecisions,
    RequestCount,
    RequestHourChanges,
    SellerDayRequests,
    SellerRatingTotals,
    SellerRequestCount,
)
from moderation_app.models.marketplace import Review
from moderation_app.models.requests import DecisionRecord, DeletionRequest, Reason, RequestStatus
from moderation_app.services.audit.log import record_event

Key = tuple[RequestStatus, Reason]


def counts(seller_ids: ColumnElement | None = None) -> dict[Key, int]:
    """Requests per (status, reason): the desk's, or (seller_ids: a subquery or list of ids)
    those sellers' only. Keys with no request are absent."""
    if seller_ids is None:
        query = select(RequestCount.status, RequestCount.reason, RequestCount.requests)
    else:
        query = (select(SellerRequestCount.status, SellerRequestCount.reason,
                        func.sum(SellerRequestCount.requests))
                 .where(SellerRequestCount.seller_id.in_(seller_ids))
                 .group_by(SellerRequestCount.status, SellerRequestCount.reason))
    return {(RequestStatus(status), Reason(reason)): int(count)
            for status, reason, count in db.session.execute(query) if count}


def _request_totals(*keys: ColumnElement) -> Select:
    """The requests counted from the rows, per `keys` (what the counters must equal)."""
    return select(*keys, func.count()).select_from(DeletionRequest).group_by(*keys)


def _rating_totals() -> Select:
    """Per seller, the visible reviews and their star sums, counted from the rows."""
    return (select(Review.seller_id, func.count(), func.sum(Review.rating_fulfillment),
                   func.sum(Review.rating_start_time), func.sum(Review.rating_communication))
            .where(Review.is_visible.is_(True)).group_by(Review.seller_id))


def _fresh(*keys: ColumnElement) -> dict[tuple, int]:
    return {tuple(row[:-1]): row[-1] for row in db.session.execute(_request_totals(*keys))}


def _kept(table: type[RequestCount] | type[SellerRequestCount], *keys: str) -> dict[tuple, int]:
    columns = [getattr(table, key) for key in keys]
    return {tuple(row[:-1]): row[-1] for row in db.session.execute(select(*columns, table.requests))
            if row[-1]}


def _day(column: ColumnElement) -> ColumnElement:
    """The UTC day of a time column, as the rollups' triggers compute it."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.timezone("UTC", column).cast(Date)
    return func.date(column)


def _day_request_totals() -> Select:
    request = DeletionRequest
    day = _day(request.submitted_at).label("day")
    return (select(day, request.seller_id, request.status, func.count())
            .group_by(day, request.seller_id, request.status))


def _day_decision_totals() -> Select:
    record = DecisionRecord
    day = _day(record.decided_at).label("day")
    return (select(day, record.agent_id, record.reason, record.decision, func.count(),
                   func.count(record.seconds_since_claim))
            .group_by(day, record.agent_id, record.reason, record.decision))


def _rows(query: Select, keys: int) -> dict[tuple, tuple]:
    """key -> values of each row whose values are not all zero; days as ISO text (SQLite's
    date() gives text, the rollups' Date columns dates), enums as their values."""
    found = {}
    for row in db.session.execute(query):
        key = tuple(value.isoformat() if isinstance(value, date)
                    else value.value if isinstance(value, Enum) else value for value in row[:keys])
        values = tuple(int(value) for value in row[keys:])
        if any(values):
            found[key] = values
    return found


@dataclass(frozen=True)
class Drift:
    """Counter rows whose kept value differs from a fresh count: key -> (kept, counted)."""

    desk: dict[tuple, tuple[int, int]]
    sellers: dict[tuple, tuple[int, int]]
    # seller_id -> (kept, counted), each (visible reviews, fulfillment, start time, communication)
    ratings: dict[tuple, tuple[tuple, tuple]]
    # (day, seller, status) -> (kept, counted) requests; (day, agent, reason, decision) ->
    # (kept, counted), each (decisions, timed)
    seller_days: dict[tuple, tuple] = field(default_factory=dict)
    agent_days: dict[tuple, tuple] = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        return not (self.desk or self.sellers or self.ratings or self.seller_days
                    or self.agent_days)


def _differences(kept: dict, counted: dict, zero: object = 0) -> dict:
    return {key: (kept.get(key, zero), counted.get(key, zero)) for key in kept.keys() | counted.keys()
            if kept.get(key, zero) != counted.get(key, zero)}


_RATING_ZERO = (0, 0, 0, 0)


def _counted_ratings() -> dict[tuple, tuple]:
    return {(seller_id,): tuple(int(value) for value in sums)
            for seller_id, *sums in db.session.execute(_rating_totals())}


def _kept_ratings() -> dict[tuple, tuple]:
    totals = SellerRatingTotals
    return {(seller_id,): tuple(sums) for seller_id, *sums in db.session.execute(
        select(totals.seller_id, totals.reviews, totals.fulfillment, totals.start_time,
               totals.communication)) if tuple(sums) != _RATING_ZERO}


def drift() -> Drift:
    """What the counters say against COUNT(*) of the rows (a full read of deletion_requests)."""
    request = DeletionRequest
    return Drift(
        desk=_differences(_kept(RequestCount, "status", "reason"),
                          _fresh(request.status, request.reason)),
        sellers=_differences(_kept(SellerRequestCount, "seller_id", "status", "reason"),
                             _fresh(request.seller_id, request.status, request.reason)),
        ratings=_differences(_kept_ratings(), _counted_ratings(), _RATING_ZERO),
        seller_days=_differences(
            _rows(select(SellerDayRequests.day, SellerDayRequests.seller_id,
                         SellerDayRequests.status, SellerDayRequests.requests), 3),
            _rows(_day_request_totals(), 3), (0,)),
        agent_days=_differences(
            _rows(select(AgentDayDecisions.day, AgentDayDecisions.agent_id, AgentDayDecisions.reason,
                         AgentDayDecisions.decision, AgentDayDecisions.decisions,
                         AgentDayDecisions.timed), 4),
            _rows(_day_decision_totals(), 4), (0, 0)))


def _hold_writers() -> None:
    """PostgreSQL: no request or review changes until commit, so the recount is the truth when it
    lands."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text(
            "LOCK TABLE deletion_requests, reviews, decisions IN SHARE ROW EXCLUSIVE MODE"))


def _hour(column: ColumnElement) -> ColumnElement:
    """The UTC hour of a time column, as request_hour_changes' triggers compute it."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.timezone("UTC", func.date_trunc("hour", func.timezone("UTC", column)))
    return func.strftime("%Y-%m-%d %H:00:00.000000", column)


def _tell_kept_answers() -> None:
    """Add to every hour's request_hour_changes: each process's kept answer of the dashboard's
    buyers signal (services/dashboard/buyers.py) no longer matches and is recounted, which a
    write made with the triggers off could otherwise leave stale."""
    changes = RequestHourChanges
    db.session.execute(update(changes).values(changes=changes.changes + 1))
    hours = select(_hour(DeletionRequest.submitted_at).label("hour")).distinct().subquery()
    db.session.execute(insert(changes).from_select(
        ["hour", "changes"], select(hours.c.hour, literal(1))
        .where(hours.c.hour.not_in(select(changes.hour)))))


def rebuild() -> Drift:
    """Recount every counter from the rows in the caller's transaction, audited with what it
    corrected. Returns the drift found before the recount (the rows are read twice: once to
    report, once, set-based, to write)."""
    _hold_writers()
    found = drift()
    request = DeletionRequest
    db.session.execute(delete(RequestCount))
    db.session.execute(delete(SellerRequestCount))
    db.session.execute(insert(RequestCount).from_select(
        ["status", "reason", "requests"], _request_totals(request.status, request.reason)))
    db.session.execute(insert(SellerRequestCount).from_select(
        ["seller_id", "status", "reason", "requests"],
        _request_totals(request.seller_id, request.status, request.reason)))
    db.session.execute(delete(SellerRatingTotals))
    db.session.execute(insert(SellerRatingTotals).from_select(
        ["seller_id", "reviews", "fulfillment", "start_time", "communication"], _rating_totals()))
    db.session.execute(delete(SellerDayRequests))
    db.session.execute(insert(SellerDayRequests).from_select(
        ["day", "seller_id", "status", "requests"], _day_request_totals()))
    db.session.execute(delete(AgentDayDecisions))
    db.session.execute(insert(AgentDayDecisions).from_select(
        ["day", "agent_id", "reason", "decision", "decisions", "timed"], _day_decision_totals()))
    _tell_kept_answers()
    record_event("counters.rebuilt", details={
        "desk_rows_corrected": len(found.desk), "seller_rows_corrected": len(found.sellers),
        "ratings_corrected": len(found.ratings),
        "day_rows_corrected": len(found.seller_days) + len(found.agent_days)})
    return found
