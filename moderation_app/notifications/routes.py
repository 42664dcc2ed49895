"""`/notifications` for managers: every e-mail not yet accepted by an SMTP server, newest first,
with why (no SMTP_URL configured, waiting for its next attempt after an error, given up); and
each e-mail as its seller receives it (`/notifications/<id>`), delivered or not."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from moderation_app.extensions import db
from moderation_app.database import utcnow
from moderation_app.models.notifications import Notification, NotificationKind, NotificationStatus
from moderation_app.models.users import Role
from moderation_app.permissions import role_required
from moderation_app.services.notifications.messages import compose
from moderation_app.services.notifications.outbox import undelivered, undelivered_counts
from moderation_app.settings import mail_settings, page_size, retry_policy

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


# The e-mail's HTML is framed by its own page only: no script, no request anywhere (a message's
# images would be fetched from the seller's point of view, not ours), its inline styles allowed.
MESSAGE_POLICY = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; "
                  "frame-ancestors 'self'; base-uri 'none'; form-action 'none'")


def _composed(notification_id: int):
    notification = db.session.get(Notification, notification_id)
    if notification is None:
        abort(404)
    return notification, compose(notification, mail_settings(), render_template, utcnow())


@bp.route("/notifications/<int:notification_id>")
@role_required(Role.MANAGER)
def show(notification_id: int) -> ResponseReturnValue:
    """The e-mail as composed for its seller now (the same templates the sender uses)."""
    notification, message = _composed(notification_id)
    text = message.get_body(("plain",)).get_content()
    return render_template("notifications/show.html", notification=notification, message=message,
                           text=text, kind_labels=KIND_LABELS, statuses=NotificationStatus,
                           smtp_configured=bool(current_app.config.get("SMTP_URL")))


@bp.route("/notifications/<int:notification_id>/message.html")
@role_required(Role.MANAGER)
def message_html(notification_id: int) -> Response:
    _, message = _composed(notification_id)
    response = Response(message.get_body(("html",)).get_content(), mimetype="text/html")
    response.headers["Content-Security-Policy"] = MESSAGE_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response
