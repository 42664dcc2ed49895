"""Per agent: everyone who decided something in the period, with their decisions, approval rate
and median minutes from claim to decision, and the outlier mark.

One statement: the counts and the median of each agent come from the period's decisions (read
from ix_decisions_decided_agent alone), joined to the users for their email.

The outlier rule, exactly: at least OUTLIER_MIN_DECISIONS decisions (approve + reject +
request_info) and an approval rate that differs from the rest of the team's by more than
OUTLIER_GAP (20 points). The rest of the team is everyone else who decided in the period; no mark
when either rate is undefined. The comparison is made on fractions, so exactly 20 points is not
more than 20 points.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy import ColumnElement, func, select

from moderation_app.extensions import db
from moderation_app.models.requests import Decision, DecisionRecord
from moderation_app.models.users import User
from moderation_app.services.dashboard.activity import approval_rate
from moderation_app.services.dashboard.period import Period
from moderation_app.services.dashboard.sql import count_where, percentile, ranked

OUTLIER_MIN_DECISIONS = 20
OUTLIER_GAP = Fraction(20, 100)
SECONDS_PER_MINUTE = 60


@dataclass(frozen=True)
class AgentFigures:
    user_id: int
    email: str
    decisions: int
    approved: int
    rejected: int
    info_requested: int
    approval_rate: float | None
    median_minutes_claim_to_decision: float | None
    outlier: bool


def _in_period(period: Period, agent_id: int | None) -> list[ColumnElement[bool]]:
    conditions = [DecisionRecord.decided_at >= period.start, DecisionRecord.decided_at < period.end]
    if agent_id is not None:
        conditions.append(DecisionRecord.agent_id == agent_id)
    return conditions


def agent_figures(period: Period, agent_id: int | None = None) -> list[AgentFigures]:
    """Sorted by decisions, most first, then by email. With `agent_id`, only that agent's row
    (never an outlier: there is no team to compare with)."""
    decision = DecisionRecord.decision
    counts = (select(DecisionRecord.agent_id.label("agent_id"),
                     func.count().label("decisions"),
                     count_where(decision == Decision.APPROVE).label("approved"),
                     count_where(decision == Decision.REJECT).label("rejected"),
                     count_where(decision == Decision.REQUEST_INFO).label("info_requested"),
                     func.count(DecisionRecord.seconds_since_claim).label("timed"))
              .where(*_in_period(period, agent_id))
              .group_by(DecisionRecord.agent_id).cte("agent_counts"))
    claim_times = (select(DecisionRecord.agent_id.label("agent_id"),
                          *ranked(DecisionRecord.seconds_since_claim, DecisionRecord.agent_id))
                   .where(*_in_period(period, agent_id),
                          DecisionRecord.seconds_since_claim.is_not(None))
                   .subquery())
    medians = (select(claim_times.c.agent_id,
                      percentile(claim_times, counts.c.timed, 50).label("median"))
               .join(counts, counts.c.agent_id == claim_times.c.agent_id)
               .group_by(claim_times.c.agent_id).subquery())
    rows = db.session.execute(
        select(User.id, User.email, counts.c.decisions, counts.c.approved, counts.c.rejected,
               counts.c.info_requested, medians.c.median)
        .join(counts, counts.c.agent_id == User.id)
        .outerjoin(medians, medians.c.agent_id == User.id)
        .order_by(counts.c.decisions.desc(), User.email)).all()

    team_approved = sum(row.approved for row in rows)
    team_rejected = sum(row.rejected for row in rows)
    return [AgentFigures(
        user_id=row.id, email=row.email, decisions=row.decisions, approved=row.approved,
        rejected=row.rejected, info_requested=row.info_requested,
        approval_rate=approval_rate(row.approved, row.rejected),
        median_minutes_claim_to_decision=(None if row.median is None
                                          else row.median / SECONDS_PER_MINUTE),
        outlier=agent_id is None and is_outlier(
            row.decisions, row.approved, row.rejected,
            team_approved - row.approved, team_rejected - row.rejected),
    ) for row in rows]


def _exact_rate(approved: int, rejected: int) -> Fraction | None:
    decided = approved + rejected
    return Fraction(approved, decided) if decided else None


def is_outlier(decisions: int, approved: int, rejected: int, rest_approved: int,
               rest_rejected: int) -> bool:
    """The rule of the module docstring, for one agent against the rest of the team."""
    if decisions < OUTLIER_MIN_DECISIONS:
        return False
    own, rest = _exact_rate(approved, rejected), _exact_rate(rest_approved, rest_rejected)
    if own is None or rest is None:
        return False
    return abs(own - rest) > OUTLIER_GAP
