"""The dashboard's figures as CSV tables: a header row and plain cells, one table per download.
Rates are fractions from 0 to 1 and durations decimal hours or minutes, as in the JSON; an
undefined figure is an empty cell. Text cells are neutralized like the audit export's, so a
spreadsheet never reads an email or a buyer's name as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable

from moderation_app.services.audit.export import neutralize
from moderation_app.services.dashboard.figures import DashboardFigures

Row = list[object]


def _backlog(figures: DashboardFigures) -> Iterable[Row]:
    backlog = figures.backlog
    yield ["group", "key", "requests"]
    yield ["open", "all", backlog.open]
    yield from (["reason", reason.value, count] for reason, count in backlog.by_reason.items())
    yield from (["status", status.value, count] for status, count in backlog.by_status.items())
    yield from (["age", band, count] for band, count in backlog.by_age.items())
    yield ["claim", "unclaimed", backlog.unclaimed]
    yield ["claim", "claimed", backlog.claimed]
    yield ["oldest_open", "request_id", backlog.oldest_open_id]


def _flow(figures: DashboardFigures) -> Iterable[Row]:
    yield ["date", "submitted", "decided"]
    yield from ([day.day.isoformat(), day.submitted, day.decided] for day in figures.flow)


def _outcomes(figures: DashboardFigures) -> Iterable[Row]:
    yield ["reason", "approved", "rejected", "approval_rate"]
    yield from ([key, outcome.approved, outcome.rejected, outcome.approval_rate]
                for key, outcome in figures.outcomes.items())


def _speed(figures: DashboardFigures) -> Iterable[Row]:
    speed = figures.speed
    yield ["count", "p50_hours", "p90_hours", "within_target", "response_target_hours"]
    yield [speed.count, speed.p50, speed.p90, speed.within_target, figures.response_target_hours]


def _agents(figures: DashboardFigures) -> Iterable[Row]:
    yield ["email", "decisions", "approved", "rejected", "info_requested", "approval_rate",
           "median_minutes_claim_to_decision", "outlier"]
    yield from ([agent.email, agent.decisions, agent.approved, agent.rejected,
                 agent.info_requested, agent.approval_rate,
                 agent.median_minutes_claim_to_decision, "yes" if agent.outlier else "no"]
                for agent in figures.agents)


def _signals(figures: DashboardFigures) -> Iterable[Row]:
    signals = figures.signals
    yield ["signal", "subject", "requests", "sellers", "approved", "rejected", "approval_rate",
           "request_ids"]
    if signals is None:
        return
    yield from (["top_seller", seller.email, seller.requests, None, seller.approved,
                 seller.rejected, seller.approval_rate, None] for seller in signals.top_sellers)
    yield from (["reported_buyer", buyer.username, buyer.requests, buyer.sellers, None, None, None,
                 None] for buyer in signals.buyers)
    yield from ([f"reused_{reused.kind}", reused.value, reused.requests, None, None, None, None,
                 " ".join(str(request_id) for request_id in reused.request_ids)]
                for reused in signals.reused_evidence)


def _appeals(figures: DashboardFigures) -> Iterable[Row]:
    """Appeals of each first decider's rejections; the first row is the whole desk."""
    yield ["first_decider", "appealed", "overturned", "upheld", "pending", "withdrawn",
           "overturn_rate"]
    for name, counts in [("all", figures.appeals.total),
                         *((agent.email, agent) for agent in figures.appeals.agents)]:
        yield [name, counts.appealed, counts.overturned, counts.upheld, counts.pending,
               counts.withdrawn, counts.overturn_rate]


TABLES: dict[str, Callable[[DashboardFigures], Iterable[Row]]] = {
    "backlog": _backlog, "flow": _flow, "outcomes": _outcomes, "speed": _speed,
    "agents": _agents, "signals": _signals, "appeals": _appeals,
}
# What an agent's own dashboard offers: no signals, which are about sellers and buyers.
AGENT_TABLES = ("backlog", "flow", "outcomes", "speed", "agents", "appeals")


def csv_text(name: str, figures: DashboardFigures) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in TABLES[name](figures):
        writer.writerow(["" if cell is None else neutralize(cell) for cell in row])
    return buffer.getvalue()


def csv_filename(name: str, figures: DashboardFigures) -> str:
    period = figures.period
    return f"dashboard-{name}-{period.since.isoformat()}-to-{period.until.isoformat()}.csv"
