"""What happened in the period: requests submitted and final decisions per UTC day, outcomes by
reason, and the time from submission to final decision. Final decisions are approve and reject
(request_info leaves the request open); they are read from the decisions table and its day
rollup, optionally only one agent's, through decisions.py's tally and ranks (shared with the
per-agent figures). Requests and final decisions per day are one statement over the day rollups
(see flow)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from sqlalchemy import CompoundSelect, Date, Integer, bindparam, func, literal, select, union_all

from moderation_app.extensions import db
from moderation_app.models.counters import AgentDayDecisions, SellerDayRequests
from moderation_app.models.requests import FINAL_DECISIONS, Decision, Reason
from moderation_app.services.dashboard.decisions import (
    Tally,
    percentile,
    percentile_ranks,
)
from moderation_app.services.dashboard.period import Period

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


@lru_cache(maxsize=2)
def _flow_statement(one_agent: bool) -> CompoundSelect:
    """Built once per shape, its values bound."""
    requests, decisions = SellerDayRequests, AgentDayDecisions
    since, until = bindparam("since", type_=Date), bindparam("until", type_=Date)
    submitted = (select(literal("submitted").label("kind"), requests.day.label("day"),
                        func.sum(requests.requests).label("count"))
                 .where(requests.day >= since, requests.day <= until)
                 .group_by(requests.day))
    decided = (select(literal("decided"), decisions.day, func.sum(decisions.decisions))
               .where(decisions.day >= since, decisions.day <= until,
                      decisions.decision.in_(sorted(FINAL_DECISIONS)),
                      *([decisions.agent_id == bindparam("agent", type_=Integer)]
                        if one_agent else []))
               .group_by(decisions.day))
    return union_all(submitted, decided)


def flow(period: Period, agent_id: int | None = None) -> list[FlowDay]:
    """One entry per day of the period, days without anything included as zeros: one statement
    summing the day rollups (models/counters.py), a few thousand rows for 30 days of a
    million-request desk instead of its 100,000 requests."""
    values = {"since": period.since, "until": period.until, "agent": agent_id}
    counts: dict[tuple[str, date], int] = {}
    for kind, day, count in db.session.execute(_flow_statement(agent_id is not None), values):
        # SQLite hands the union's days back as text.
        counts[kind, day if isinstance(day, date) else date.fromisoformat(day)] = int(count)
    return [FlowDay(day, counts.get(("submitted", day), 0), counts.get(("decided", day), 0))
            for day in period.days()]


def outcomes(tally: Tally) -> dict[str, Outcome]:
    """Approved and rejected by the request's reason (every reason, zeros too), then ALL."""
    counts = {reason: {Decision.APPROVE: 0, Decision.REJECT: 0} for reason in Reason}
    for row in tally.finals:
        counts[row.reason][row.decision] += row.count
    result = {reason.value: Outcome(kinds[Decision.APPROVE], kinds[Decision.REJECT],
                                    approval_rate(kinds[Decision.APPROVE], kinds[Decision.REJECT]))
              for reason, kinds in counts.items()}
    approved = sum(outcome.approved for outcome in result.values())
    rejected = sum(outcome.rejected for outcome in result.values())
    result[ALL] = Outcome(approved, rejected, approval_rate(approved, rejected))
    return result


SPEED_PERCENTILES = (50, 90)


def speed_size(tally: Tally) -> int:
    return sum(row.count for row in tally.finals)


def speed_ranks(tally: Tally) -> list[int]:
    """The ranks of the sorted durations that p50 and p90 interpolate between."""
    size = speed_size(tally)
    if not size:
        return []
    lows = [percentile_ranks(size, k)[0] for k in SPEED_PERCENTILES]
    return [rank for low in lows for rank in (low, low + 1)]


def speed(tally: Tally, values: dict[tuple[int, int], int], key: int) -> Speed:
    """`values`: the durations at `speed_ranks`, under `key`, as decisions.ranks returns them."""
    count = speed_size(tally)
    within = tally.within_target
    p50, p90 = (percentile(values, key, count, k) for k in SPEED_PERCENTILES)
    return Speed(
        count=count,
        p50=None if p50 is None else p50 / SECONDS_PER_HOUR,
        p90=None if p90 is None else p90 / SECONDS_PER_HOUR,
        within_target=within / count if count else None,
    )
