"""Every figure of the dashboard for one period, and the JSON the marketplace's reporting reads.

`dashboard_figures` runs a fixed number of aggregate statements (twelve for a manager, eight for an
agent's own dashboard) whatever the volume: the database counts, groups and ranks; Python only
zero-fills days and reasons and compares the few per-agent rows. See docs/dashboard.md for what
each figure means.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from moderation_app.services.dashboard.activity import (
    ALL,
    FlowDay,
    Outcome,
    Speed,
    flow,
    outcomes,
    speed,
    speed_ranks,
)
from moderation_app.services.dashboard.agents import AgentFigures, agent_figures, claim_ranks
from moderation_app.services.dashboard.appeals import AppealFigures, appeal_figures
from moderation_app.services.dashboard.backlog import Backlog, backlog, target_hours
from moderation_app.services.dashboard.decisions import SPEED, ranks, tally
from moderation_app.services.dashboard.period import Period
from moderation_app.services.dashboard.signals import (
    BuyerSignal,
    ReusedEvidence,
    SellerSignal,
    Signals,
    signals,
)

__all__ = [
    "ALL", "AgentFigures", "AppealFigures", "Backlog", "BuyerSignal", "DashboardFigures", "FlowDay", "Outcome",
    "ReusedEvidence", "SellerSignal", "Signals", "Speed", "dashboard_figures",
]

# The keys of one agent in the JSON, as the issue fixes them (user ids stay internal).
AGENT_KEYS = ("email", "decisions", "approved", "rejected", "info_requested", "approval_rate",
              "median_minutes_claim_to_decision", "outlier")


@dataclass(frozen=True)
class DashboardFigures:
    period: Period
    backlog: Backlog
    flow: list[FlowDay]
    outcomes: dict[str, Outcome]
    speed: Speed
    agents: list[AgentFigures]
    signals: Signals | None
    response_target_hours: int
    appeals: AppealFigures

    def to_json(self) -> dict[str, Any]:
        backlog_ = self.backlog
        return {
            "period": {"since": self.period.since.isoformat(),
                       "until": self.period.until.isoformat()},
            "backlog": {
                "open": backlog_.open,
                "by_reason": {reason.value: count for reason, count in backlog_.by_reason.items()},
                "by_status": {status.value: count for status, count in backlog_.by_status.items()},
                "by_age": dict(backlog_.by_age),
                "unclaimed": backlog_.unclaimed,
                "oldest_open_id": backlog_.oldest_open_id,
            },
            "flow": [{"date": day.day.isoformat(), "submitted": day.submitted,
                      "decided": day.decided} for day in self.flow],
            "outcomes": {key: asdict(outcome) for key, outcome in self.outcomes.items()},
            "time_to_decision_hours": asdict(self.speed),
            "agents": [{key: getattr(agent, key) for key in AGENT_KEYS} for agent in self.agents],
            "signals": None if self.signals is None else asdict(self.signals),
            "response_target_hours": self.response_target_hours,
            "appeals": {**asdict(self.appeals.total),
                        "overturn_rate": self.appeals.total.overturn_rate,
                        "agents": [{**asdict(agent), "overturn_rate": agent.overturn_rate}
                                   for agent in self.appeals.agents]},
        }


def dashboard_figures(period: Period, now: datetime, response_target: timedelta,
                      agent_id: int | None = None) -> DashboardFigures:
    """The whole desk's figures; with `agent_id`, an agent's own: decisions per day, outcomes,
    speed and the agents list count only that agent's decisions, and there are no signals. The
    backlog is always the whole desk's, as it stands at `now`."""
    decided = tally(period, response_target, agent_id)
    values = ranks(period, agent_id, speed_ranks(decided), claim_ranks(decided))
    return DashboardFigures(
        period=period,
        backlog=backlog(now, response_target),
        flow=flow(period, agent_id),
        outcomes=outcomes(decided),
        speed=speed(decided, values, SPEED),
        agents=agent_figures(decided, values, agent_id),
        signals=signals(period, now) if agent_id is None else None,
        response_target_hours=target_hours(response_target),
        appeals=appeal_figures(period, agent_id),
    )
