"""`/dashboard` (managers: the whole desk; agents: their own figures and the backlog),
`/dashboard.json` for the marketplace's reporting (managers) and `/dashboard/<figure>.csv`."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask_login import current_user

from moderation_app.dashboard.charts import dashboard_charts, outcome_rows
from moderation_app.dashboard.tables import AGENT_TABLES, TABLES, csv_filename, csv_text
from moderation_app.database import utcnow
from moderation_app.models.requests import RequestStatus
from moderation_app.models.users import Role
from moderation_app.permissions import role_required
from moderation_app.services.dashboard.figures import DashboardFigures, dashboard_figures
from moderation_app.services.dashboard.period import (
    BadPeriod,
    Period,
    default_period,
    period_from,
)
from moderation_app.settings import response_target

bp = Blueprint("dashboard", __name__)

QUICK_DAYS = (7, 30, 90)
# Given whole as content_type: as a mimetype, Werkzeug would add a second charset.
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"


def _is_manager() -> bool:
    return current_user.role is Role.MANAGER


def _figures(period: Period) -> DashboardFigures:
    """A manager's figures are the desk's; an agent's are their own (the backlog is everyone's)."""
    return dashboard_figures(period, utcnow(), response_target(),
                             agent_id=None if _is_manager() else current_user.id)


def _requested_period(today: date) -> Period:
    return period_from(request.args.get("since"), request.args.get("until"), today)


def _period_args(period: Period) -> dict[str, str]:
    return {"since": period.since.isoformat(), "until": period.until.isoformat()}


@bp.route("/dashboard")
@role_required(Role.AGENT, Role.MANAGER)
def index() -> str:
    today = utcnow().date()
    error = None
    try:
        period = _requested_period(today)
    except BadPeriod as refused:
        error, period = str(refused), default_period(today)
    tables = TABLES if _is_manager() else AGENT_TABLES
    figures = _figures(period)
    return render_template(
        "dashboard/index.html",
        figures=figures,
        charts=dashboard_charts(figures),
        outcome_rows=outcome_rows(figures.outcomes),
        statuses=RequestStatus,
        now=utcnow(),
        json_url=url_for("dashboard.as_json", **_period_args(period)),
        period=period,
        is_manager=_is_manager(),
        quick_links=[(f"Last {days} days", url_for(
            "dashboard.index", **_period_args(default_period(today, days))))
            for days in QUICK_DAYS],
        csv_links={name: url_for("dashboard.csv", figure=name, **_period_args(period))
                   for name in tables},
        error=error,
    )


def _json(payload: object, status: int = 200) -> Response:
    # In the order the issue documents (Flask's provider would sort the keys).
    response = Response(current_app.json.dumps(payload, sort_keys=False), status=status,
                        mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/dashboard.json")
@role_required(Role.MANAGER)
def as_json() -> Response:
    try:
        period = _requested_period(utcnow().date())
    except BadPeriod as refused:
        return _json({"error": str(refused)}, 400)
    return _json(_figures(period).to_json())


@bp.route("/dashboard/<figure>.csv")
@role_required(Role.AGENT, Role.MANAGER)
def csv(figure: str) -> Response:
    if figure not in TABLES:
        abort(404)
    if not _is_manager() and figure not in AGENT_TABLES:
        abort(403)
    try:
        period = _requested_period(utcnow().date())
    except BadPeriod as refused:
        return Response(f"{refused}\n", status=400, content_type="text/plain; charset=utf-8")
    figures = _figures(period)
    return Response(csv_text(figure, figures), content_type=CSV_CONTENT_TYPE, headers={
        "Content-Disposition": f'attachment; filename="{csv_filename(figure, figures)}"',
        "Cache-Control": "no-store",
    })

