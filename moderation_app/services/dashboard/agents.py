"""Per agent: everyone who decided something in the period, with their decisions, approval rate
and median minutes from claim to decision, and the outlier mark.

The counts and the median of each agent come from decisions.py's tally and ranks (the day rollup,
and two values of each agent's sorted claim times from ix_decisions_agent_decided_claim); one
statement adds the agents' emails.

The outlier rule, exactly: at least OUTLIER_MIN_DECISIONS decisions (approve + reject +
request_info) and an approval rate that differs from the rest of the team's by more than
OUTLIER_GAP (20 points). The rest of the team is everyone else who decided in the period; no mark
when either rate is undefined. The comparison is made on fractions, so exactly 20 points is not
more than 20 points.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models.requests import Decision
from moderation_app.models.users import User
from moderation_app.services.dashboard.activity import approval_rate
from moderation_app.services.dashboard.decisions import Tally, percentile, percentile_ranks

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


def claim_ranks(tally: Tally) -> dict[int, int]:
    """Per agent with timed decisions: the rank below the median of their claim times."""
    return {agent: percentile_ranks(size, 50)[0] for agent, size in _timed(tally).items() if size}


def _timed(tally: Tally) -> dict[int, int]:
    timed: dict[int, int] = {}
    for row in tally.agents:
        timed[row.agent_id] = timed.get(row.agent_id, 0) + row.timed
    return timed


def agent_figures(tally: Tally, values: dict[tuple[int, int], int],
                  agent_id: int | None = None) -> list[AgentFigures]:
    """Sorted by decisions, most first, then by email. `values`: the claim times at
    `claim_ranks`, as decisions.ranks returns them. With `agent_id`, the tally holds only that
    agent's decisions (never an outlier: there is no team to compare with)."""
    counts: dict[int, dict[Decision, int]] = {}
    for row in tally.agents:
        counts.setdefault(row.agent_id, dict.fromkeys(Decision, 0))[row.decision] += row.count
    timed = _timed(tally)
    # Emails in the database's order (its collation, as before), then a stable sort by decisions.
    emails = dict(db.session.execute(select(User.id, User.email).where(
        User.id.in_(sorted(counts))).order_by(User.email)).all())
    rows = sorted(((user_id, counts[user_id]) for user_id in emails),
                  key=lambda item: -sum(item[1].values()))

    team_approved = sum(kinds[Decision.APPROVE] for kinds in counts.values())
    team_rejected = sum(kinds[Decision.REJECT] for kinds in counts.values())
    figures = []
    for user_id, kinds in rows:
        approved, rejected = kinds[Decision.APPROVE], kinds[Decision.REJECT]
        decisions = sum(kinds.values())
        median = percentile(values, user_id, timed[user_id], 50)
        figures.append(AgentFigures(
            user_id=user_id, email=emails[user_id], decisions=decisions, approved=approved,
            rejected=rejected, info_requested=kinds[Decision.REQUEST_INFO],
            approval_rate=approval_rate(approved, rejected),
            median_minutes_claim_to_decision=(None if median is None
                                              else median / SECONDS_PER_MINUTE),
            outlier=agent_id is None and is_outlier(
                decisions, approved, rejected, team_approved - approved, team_rejected - rejected),
        ))
    return figures


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
