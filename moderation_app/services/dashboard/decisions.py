"""The period's decisions in two statements, however many there are: a tally, then the few values
the percentiles need.

The tally sums the day rollup agent_day_decisions (kept by triggers, models/counters.py): final
decisions per (reason, decision), and every decision per (agent, decision) with how many have a
claim time; and counts the final decisions made within the response target from
ix_decisions_decision_decided's entries alone. Outcomes, the speed's count and the agents' counts
are sums of these rows.

Knowing each group's size, Python works out the ranks a percentile interpolates between (see
percentile_ranks), and the second statement returns only the values at those ranks: the final decisions'
durations sorted once (p50 and p90), and each agent's claim-to-decision times sorted once
(medians). Nothing is counted twice, and no row is loaded to be sorted in Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, Select, case, func, literal, select, union_all

from moderation_app.extensions import db
from moderation_app.models.counters import AgentDayDecisions
from moderation_app.models.requests import FINAL_DECISIONS, Decision, DecisionRecord, Reason
from moderation_app.services.dashboard.period import Period
from moderation_app.services.dashboard.sql import number

# The tally's and the ranks' two kinds of rows; `agent_id` of the speed's rows (ids are positive).
_FINAL, _AGENT, _WITHIN = "final", "agent", "within"
SPEED = 0


@dataclass(frozen=True)
class FinalCount:
    """Final decisions of one kind, for one reason."""

    reason: Reason
    decision: Decision
    count: int


@dataclass(frozen=True)
class AgentCount:
    """One agent's decisions of one kind; `timed` of them have a claim time."""

    agent_id: int
    decision: Decision
    count: int
    timed: int


@dataclass
class Tally:
    finals: list[FinalCount]
    agents: list[AgentCount]
    within_target: int   # final decisions at most the response target after submission


def in_period(period: Period, agent_id: int | None,
              *extra: ColumnElement[bool]) -> list[ColumnElement[bool]]:
    """Conditions for the decisions made in the period (by the agent, if given)."""
    conditions = [DecisionRecord.decided_at >= period.start, DecisionRecord.decided_at < period.end,
                  *extra]
    if agent_id is not None:
        conditions.append(DecisionRecord.agent_id == agent_id)
    return conditions


def final() -> ColumnElement[bool]:
    return DecisionRecord.decision.in_(sorted(FINAL_DECISIONS))


def tally(period: Period, response_target: timedelta, agent_id: int | None = None) -> Tally:
    """One statement: the counts from the day rollup (a few rows per day of the period), and the
    final decisions within the target counted from ix_decisions_decision_decided, since the
    target is a setting the rollup cannot know."""
    target_seconds = int(response_target // timedelta(seconds=1))
    days = AgentDayDecisions
    in_days = [days.day >= period.since, days.day <= period.until,
               *([days.agent_id == agent_id] if agent_id is not None else [])]
    finals = (select(literal(_FINAL).label("kind"), literal(None).label("agent_id"),
                     days.reason.label("reason"), days.decision.label("decision"),
                     func.sum(days.decisions).label("count"), literal(0).label("extra"))
              .where(*in_days, days.decision.in_(sorted(FINAL_DECISIONS)))
              .group_by(days.reason, days.decision))
    agents = (select(literal(_AGENT), days.agent_id, literal(None), days.decision,
                     func.sum(days.decisions), func.sum(days.timed))
              .where(*in_days)
              .group_by(days.agent_id, days.decision))
    within = (select(literal(_WITHIN), literal(None), literal(None), literal(None), func.count(),
                     literal(0))
              .where(*in_period(period, agent_id, final(),
                                DecisionRecord.seconds_since_submission <= number(target_seconds))))
    result = Tally([], [], 0)
    for kind, agent, reason, decision, count, extra in db.session.execute(
            union_all(finals, agents, within)):
        if kind == _WITHIN:
            result.within_target = int(count)
        elif not count:
            continue  # a rollup row back at zero
        elif kind == _FINAL:
            result.finals.append(FinalCount(Reason(reason), Decision(decision), int(count)))
        else:
            result.agents.append(AgentCount(agent, Decision(decision), int(count), int(extra)))
    return result


def _ranked(value: ColumnElement[int], conditions: list[ColumnElement[bool]],
            agent: ColumnElement[int] | None) -> Select:
    """The values with their 0-based rank in ascending order (within the agent's, if given)."""
    over = {"partition_by": agent} if agent is not None else {}
    return select((agent if agent is not None else number(SPEED)).label("agent_id"),
                  value.label("value"),
                  (func.row_number().over(order_by=value, **over) - number(1)).label("value_rank")
                  ).where(*conditions)


def ranks(period: Period, agent_id: int | None, speed_ranks: Iterable[int],
          claim_ranks: dict[int, int]) -> dict[tuple[int, int], int]:
    """The values at the asked ranks: (0, rank) -> seconds from submission to final decision, of
    the sorted final decisions; (agent, rank) -> seconds from claim to decision, of that agent's
    sorted timed decisions, at rank and rank + 1 for each agent's `claim_ranks` entry."""
    speed = _ranked(DecisionRecord.seconds_since_submission,
                    in_period(period, agent_id, final()), None).subquery()
    claims = _ranked(DecisionRecord.seconds_since_claim,
                     in_period(period, agent_id, DecisionRecord.seconds_since_claim.is_not(None)),
                     DecisionRecord.agent_id).subquery()
    # Never a rank: what an agent without an entry (there is none) or no agent at all compares to.
    low: ColumnElement[int] = number(-2)
    if claim_ranks:
        low = case({agent: number(rank) for agent, rank in sorted(claim_ranks.items())},
                   value=claims.c.agent_id, else_=number(-2))
    asked = sorted(set(speed_ranks)) or [-1]
    statement = union_all(
        select(speed.c.agent_id, speed.c.value, speed.c.value_rank)
        .where(speed.c.value_rank.in_([number(rank) for rank in asked])),
        select(claims.c.agent_id, claims.c.value, claims.c.value_rank)
        .where((claims.c.value_rank - low).in_([number(0), number(1)])))
    return {(int(agent), rank): value for agent, value, rank in db.session.execute(statement)}


def percentile_ranks(size: int, k: int) -> tuple[int, int]:
    """The rank below the k-th percentile of `size` sorted values and the remainder (out of 100)
    towards the next rank.

    Percentiles interpolate between ranks, as PostgreSQL's percentile_cont: for k percent of n
    sorted values v[0..n-1], the position is k(n-1)/100; with lo = ⌊k(n-1)/100⌋ and the remainder
    r = k(n-1) mod 100, the percentile is v[lo] + (v[lo+1] - v[lo]) · r/100 (when r is 0, v[lo+1]
    may not exist and is not needed)."""
    return divmod(k * (size - 1), 100)


def percentile(values: dict[tuple[int, int], int], key: int, size: int, k: int) -> float | None:
    """The k-th percentile of the group `key` of `values` (as `ranks` returns them): None for an
    empty group. The floating-point steps are those the SQL computing it before took (low +
    difference · remainder / 100.0, in doubles), so the figures are the same to the last bit."""
    if size == 0:
        return None
    low_rank, remainder = percentile_ranks(size, k)
    low = values[key, low_rank]
    high = values.get((key, low_rank + 1), low)
    return float(low) + float(high - low) * float(remainder) / 100.0
