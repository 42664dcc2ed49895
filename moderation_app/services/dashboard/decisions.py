"""The period's decisions in two statements, however many there are: a tally, then the few values
the percentiles need.

The tally sums the day rollup agent_day_decisions (kept by triggers, models/counters.py): final
decisions per (reason, decision), and every decision per (agent, decision) with how many have a
claim time; and counts the final decisions made within the response target from
ix_decisions_decision_decided's entries alone. Outcomes, the speed's count and the agents' counts
are sums of these rows.

Knowing each group's size, Python works out the ranks a percentile interpolates between (see
percentile_ranks), and the second statement returns only the values at those ranks: two values of
the final decisions' sorted durations per percentile (p50 and p90), and two of each agent's sorted
claim-to-decision times (medians), each read from an index. Nothing is counted twice, and no row is
loaded to be sorted in Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Date,
    Integer,
    Select,
    bindparam,
    func,
    literal,
    select,
    union_all,
)

from moderation_app.database import UTCDateTime
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


@dataclass(frozen=True)
class Tally:
    finals: list[FinalCount]
    agents: list[AgentCount]
    within_target: int   # final decisions at most the response target after submission


def final() -> ColumnElement[bool]:
    return DecisionRecord.decision.in_(sorted(FINAL_DECISIONS))


@lru_cache(maxsize=2)
def _tally_statement(one_agent: bool) -> CompoundSelect:
    """Built once per shape, its values bound."""
    days = AgentDayDecisions
    agent = bindparam("agent", type_=Integer)
    in_days = [days.day >= bindparam("since", type_=Date), days.day <= bindparam("until", type_=Date),
               *([days.agent_id == agent] if one_agent else [])]
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
              .where(DecisionRecord.decided_at >= bindparam("start", type_=UTCDateTime),
                     DecisionRecord.decided_at < bindparam("end", type_=UTCDateTime), final(),
                     DecisionRecord.seconds_since_submission
                     <= bindparam("target_seconds", type_=Integer),
                     *([DecisionRecord.agent_id == agent] if one_agent else [])))
    return union_all(finals, agents, within)


def tally(period: Period, response_target: timedelta, agent_id: int | None = None) -> Tally:
    """One statement: the counts from the day rollup (a few rows per day of the period), and the
    final decisions within the target counted from ix_decisions_decision_decided, since the
    target is a setting the rollup cannot know."""
    values = {"since": period.since, "until": period.until, "start": period.start,
              "end": period.end, "agent": agent_id,
              "target_seconds": int(response_target // timedelta(seconds=1))}
    finals: list[FinalCount] = []
    agents: list[AgentCount] = []
    within_target = 0
    for kind, agent, reason, decision, count, extra in db.session.execute(
            _tally_statement(agent_id is not None), values):
        if kind == _WITHIN:
            within_target = int(count)
        elif not count:
            continue  # a rollup row back at zero
        elif kind == _FINAL:
            finals.append(FinalCount(Reason(reason), Decision(decision), int(count)))
        else:
            agents.append(AgentCount(agent, Decision(decision), int(count), int(extra)))
    return Tally(finals, agents, within_target)


def _at_rank(part: int, key: ColumnElement[int], agent: ColumnElement[int] | None,
             value: ColumnElement[int], *conditions: ColumnElement[bool]) -> Select:
    """The two values from rank `rank_{part}` (0-based, ascending) of the period's decisions that
    meet `conditions` (of agent `agent_{part}` if `agent` is given), with that rank, under `key`:
    the agent (claim times) or SPEED (durations)."""
    rank = bindparam(f"rank_{part}", type_=Integer)
    agent_id = bindparam(f"agent_{part}", type_=Integer)
    where = [DecisionRecord.decided_at >= bindparam("start", type_=UTCDateTime),
             DecisionRecord.decided_at < bindparam("end", type_=UTCDateTime), *conditions]
    if agent is not None:
        where.append(agent == agent_id)
    at = select(value.label("value")).where(*where).order_by(value).limit(2).offset(rank).subquery()
    return select(key.label("agent_id"), rank, at.c.value)


@lru_cache(maxsize=256)
def _ranks_statement(speed_parts: int, agents: int, one_agent: bool) -> CompoundSelect:
    """The union of `speed_parts` pairs of final decisions' durations (of one agent's decisions
    only, if `one_agent`) and one pair of claim times for each of `agents` agents. Built once per
    shape, its values bound: building two dozen subqueries cost more than running them."""
    record = DecisionRecord
    parts = [_at_rank(part, number(SPEED), record.agent_id if one_agent else None,
                      record.seconds_since_submission, final())
             for part in range(speed_parts)]
    parts += [_at_rank(part, bindparam(f"agent_{part}", type_=Integer), record.agent_id,
                       record.seconds_since_claim, record.seconds_since_claim.is_not(None))
              for part in range(speed_parts, speed_parts + agents)]
    return union_all(*parts)


def ranks(period: Period, agent_id: int | None, speed_ranks: Iterable[int],
          claim_ranks: dict[int, int]) -> dict[tuple[int, int], int]:
    """The values at the asked ranks: (0, rank) -> seconds from submission to final decision, of
    the sorted final decisions; (agent, rank) -> seconds from claim to decision, of that agent's
    sorted timed decisions, at rank and rank + 1 for each agent's `claim_ranks` entry.

    One statement of a sorted LIMIT 2 OFFSET rank per asked pair: each agent's from its range of
    ix_decisions_agent_decided_claim, the final decisions' from ix_decisions_decision_decided,
    without reading a row (window functions over every decision of the period cost five times as
    much on SQLite)."""
    asked = [(SPEED, low) for low in _pair_starts(sorted(set(speed_ranks)))]
    asked += sorted(claim_ranks.items())
    if not asked:
        return {}
    speed_parts = sum(1 for key, _ in asked if key == SPEED)
    values: dict[str, object] = {"start": period.start, "end": period.end}
    for part, (agent, rank) in enumerate(asked):
        values[f"rank_{part}"] = rank
        values[f"agent_{part}"] = agent_id if agent == SPEED else agent
    pairs: dict[tuple[int, int], list[int]] = {}
    statement = _ranks_statement(speed_parts, len(asked) - speed_parts, agent_id is not None)
    for agent, rank, value in db.session.execute(statement, values):
        pairs.setdefault((int(agent), int(rank)), []).append(value)
    # Of the two values from a rank, the lower is at it (ascending order), the other after it.
    return {(agent, rank + offset): value for (agent, rank), found in pairs.items()
            for offset, value in enumerate(sorted(found))}


def _pair_starts(ranks_: list[int]) -> list[int]:
    """The fewest starts of (rank, rank + 1) pairs covering every asked rank."""
    starts: list[int] = []
    for rank in ranks_:
        if not starts or rank > starts[-1] + 1:
            starts.append(rank)
    return starts


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
