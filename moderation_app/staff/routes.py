"""The agent queue; one request's views are in request_views."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user

from moderation_app.database import utcnow
from moderation_app.models.requests import Reason
from moderation_app.models.users import STAFF_ROLES
from moderation_app.permissions import role_required
from moderation_app.services.keyset import decode_cursor
from moderation_app.services.queue.listing import QUEUE_TABS, queue_page
from moderation_app.settings import page_size, response_target
from moderation_app.staff.queue_filters import queue_args, queue_filters_from

bp = Blueprint("staff", __name__)


@bp.context_processor
def queue_link_helpers() -> dict[str, object]:
    return {"queue_args": queue_args}


@bp.route("/queue")
@role_required(*STAFF_ROLES)
def queue() -> str:
    filters = queue_filters_from(request.args)
    page = queue_page(filters, current_user._get_current_object(), request.args.get("after"),
                      page_size(), utcnow(), response_target())
    return render_template(
        "staff/queue.html",
        page=page,
        is_later_page=decode_cursor(request.args.get("after")) is not None,
        reasons=list(Reason),
        statuses=QUEUE_TABS,
        response_target_hours=current_app.config["RESPONSE_TARGET_HOURS"],
    )

