"""Agent queue and manager dashboard (their full versions arrive with the queue and audit work)."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import func, select

from moderation_app.extensions import db
from moderation_app.models.requests import DeletionRequest, RequestStatus
from moderation_app.models.users import Role
from moderation_app.permissions import role_required
from moderation_app.staff import bp


def _count_by_status() -> dict[str, int]:
    rows = db.session.execute(
        select(DeletionRequest.status, func.count()).group_by(DeletionRequest.status)
    ).all()
    counts = {status.value: 0 for status in RequestStatus}
    counts.update({status.value: count for status, count in rows})
    return counts


@bp.route("/queue")
@role_required(Role.AGENT, Role.MANAGER)
def queue() -> str:
    return render_template("staff/queue.html", counts=_count_by_status())


@bp.route("/dashboard")
@role_required(Role.MANAGER)
def dashboard() -> str:
    return render_template("staff/dashboard.html", counts=_count_by_status())
