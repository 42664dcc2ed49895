"""The agent queue and the manager dashboard (the dashboard grows with the audit work)."""

from __future__ import annotations

from flask import current_app, render_template, request
from flask_login import current_user
from sqlalchemy import func, select

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models.marketplace import CRITERION_LABELS
from moderation_app.models.requests import DeletionRequest, Reason, RequestStatus
from moderation_app.models.users import Role
from moderation_app.permissions import role_required
from moderation_app.services.queue.listing import decode_cursor, parse_filters, queue_page
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
    filters = parse_filters(request.args)
    page = queue_page(filters, current_user._get_current_object(), request.args.get("after"),
                      current_app.config["PAGE_SIZE"], utcnow())
    return render_template(
        "staff/queue.html",
        page=page,
        is_later_page=decode_cursor(request.args.get("after")) is not None,
        reasons=list(Reason),
        statuses=list(RequestStatus),
        criterion_labels=CRITERION_LABELS,
        response_target_hours=current_app.config.get("RESPONSE_TARGET_HOURS", 48),
        # Claiming and the request page come with the claim work; link to them once they exist.
        has_claim_next="staff.claim_next" in current_app.view_functions,
        has_request_detail="staff.request_detail" in current_app.view_functions,
    )


@bp.route("/dashboard")
@role_required(Role.MANAGER)
def dashboard() -> str:
    return render_template("staff/dashboard.html", counts=_count_by_status())
