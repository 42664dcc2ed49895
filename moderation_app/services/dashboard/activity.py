"""What happened in the period: requests submitted and final decisions per UTC day, outcomes by
reason, and the time from submission to final decision. Final decisions are approve and reject
(request_info leaves the request open); they are read from the decisions table, optionally only
one agent's. One statement each, on ix_deletion_requests_submitted_seller_status and
ix_decisions_decision_decided (which carries reason and the duration, so no table row is read)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, func, literal, select, union_all

from moderation_app.extensions import db
from moderation_app.models.requests import (
    FINAL_DECISIONS,
    Decision,
    DecisionRecord,
    DeletionRequest,
    Reason,
)
from moderation_app.services.dashboard.period import Period
from moderation_app.services.dashboard.sql import count_where, percentile, ranked, utc_day

ALL = "all"
SECONDS_PER_HOUR = 3600


@dataclass(frozen=True)
class FlowDay:
    day: date
    submitted: int
    decided: int


@dataclass(frozen=True)
class Outcome:
    approved: int
    rejected: int
    approval_rate: float | None


@dataclass(frozen=True)
class Speed:
    """Hours from submission to final decision, for the final decisions made in the period."""

    count: int
    p50: float | None
    p90: float | None
    within_target: float | None   # share decided within the response target (at most, inclusive)


def approval_rate(approved: int, rejected: int) -> float | None:
    decided = approved + rejected
    return approved / decided if decided else None


def final_decisions(period: Period, agent_id: int | None) -> list[ColumnElement[bool]]:
    """Conditions for the final decisions made in the period (by the agent, if given)."""
    conditions = [DecisionRecord.decision.in_(sorted(FINAL_DECISIONS)),
                  DecisionRecord.decided_at >= period.start, DecisionRecord.decided_at < period.end]
    if agent_id is not None:
        conditions.append(DecisionRecord.agent_id == agent_id)
    return conditions


def flow(period: Period, agent_id: int | None = None) -> list[FlowDay]:
    """One entry per day of the period, days without anything included as zeros."""
    submitted_day = utc_day(DeletionRequest.submitted_at)
    decided_day = utc_day(DecisionRecord.decided_at)
    submitted = (select(literal("submitted").label("series"), submitted_day.label("day"),
                        func.count().label("count"))
                 .where(DeletionRequest.submitted_at >= period.start,
                        DeletionRequest.submitted_at < period.end)
                 .group_by(submitted_day))
    decided = (select(literal("decided"), decided_day, func.count())
               .where(*final_decisions(period, agent_id))
               .group_by(decided_day))
    counts: dict[str, dict[date, int]] = {"submitted": {}, "decided": {}}
    for series, day, count in db.session.execute(union_all(submitted, decided)):
        counts[series][date.fromisoformat(day)] = count
    return [FlowDay(day, counts["submitted"].get(day, 0), counts["decided"].get(day, 0))
            for day in period.days()]


def outcomes(period: Period, agent_id: int | None = None) -> dict[str, Outcome]:
    """Approved and rejected by the request's reason (every reason, zeros too), then ALL."""
    tally = {reason: {Decision.APPROVE: 0, Decision.REJECT: 0} for reason in Reason}
    for reason, decision, count in db.session.execute(
            select(DecisionRecord.reason, DecisionRecord.decision, func.count())
            .where(*final_decisions(period, agent_id))
            .group_by(DecisionRecord.reason, DecisionRecord.decision)):
        tally[Reason(reason)][Decision(decision)] = count
    result = {reason.value: Outcome(counts[Decision.APPROVE], counts[Decision.REJECT],
                                    approval_rate(counts[Decision.APPROVE], counts[Decision.REJECT]))
              for reason, counts in tally.items()}
    approved = sum(outcome.approved for outcome in result.values())
    rejected = sum(outcome.rejected for outcome in result.values())
    result[ALL] = Outcome(approved, rejected, approval_rate(approved, rejected))
    return result


def speed(period: Period, response_target: timedelta, agent_id: int | None = None) -> Speed:
    conditions = final_decisions(period, agent_id)
    rows = select(*ranked(DecisionRecord.seconds_since_submission)).where(*conditions).subquery()
    # Counted once (a CTE), however often the percentile expressions refer to it.
    sizes = select(func.count().label("size")).where(*conditions).cte("sizes")
    size = select(sizes.c.size).scalar_subquery()
    target_seconds = int(response_target // timedelta(seconds=1))
    count, p50, p90, within = db.session.execute(select(
        func.count(), percentile(rows, size, 50), percentile(rows, size, 90),
        count_where(rows.c.value <= target_seconds))).one()
    return Speed(
        count=count,
        p50=None if p50 is None else p50 / SECONDS_PER_HOUR,
        p90=None if p90 is None else p90 / SECONDS_PER_HOUR,
        within_target=within / count if count else None,
    )
