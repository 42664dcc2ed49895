"""`/notifications` for managers: every e-mail not yet accepted by an SMTP server, newest first,
with why (no SMTP_URL configured, waiting for its next attempt after an error, given up)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask.typing import ResponseReturnValue

from moderation_app.extensions import db
from moderation_app.models.notifications import NotificationKind, NotificationStatus
from moderation_app.models.users import Role
from moderation_app.permissions import role_required
from moderation_app.services.notifications.outbox import undelivered, undelivered_counts
from moderation_app.settings import page_size, retry_policy

bp = Blueprint("notifications", __name__)

MAX_PAGE = 1_000_000
KIND_LABELS = {
    NotificationKind.REQUEST_DECIDED: "Decision",
    NotificationKind.INFORMATION_REQUESTED: "Question",
    NotificationKind.APPEAL_DECIDED: "Appeal decision",
}


@bp.route("/notifications")
@role_required(Role.MANAGER)
def index() -> ResponseReturnValue:
    page_number = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    page = db.paginate(undelivered(), page=page_number, per_page=page_size(), max_per_page=100,
                       error_out=False)
    return render_template("notifications/index.html", page=page, counts=undelivered_counts(),
                           smtp_configured=bool(current_app.config.get("SMTP_URL")),
                           max_attempts=retry_policy().max_attempts,
                           statuses=NotificationStatus, kind_labels=KIND_LABELS)
