"""`/webhooks` for managers: events not yet delivered to the marketplace (given up, waiting, or
waiting behind an earlier event of the same review), newest first in keyset pages, each with its
attempts; one event with its body and every attempt (`/webhooks/<id>`); and the retry of a
given-up event (`POST /webhooks/<id>/retry`: confirmed, audited, one commit)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models.users import Role
from moderation_app.models.webhooks import WebhookEvent, WebhookStatus
from moderation_app.permissions import role_required
from moderation_app.services.keyset import Position, Start, decode_cursor
from moderation_app.services.webhooks.outbox import (
    RetryRefused,
    blocked_by,
    retry,
    undelivered_counts,
    undelivered_page,
)
from moderation_app.settings import page_size, webhook_retry_policy
from moderation_app.webhooks.forms import RetryForm

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

# Attempts shown per event in the list; the event's own page shows them all.
LIST_ATTEMPTS = 3


def _position() -> Position:
    """`after=<cursor>` older rows, `before=<cursor>` newer ones, `page=last` the oldest;
    anything unreadable: the newest."""
    for name, start in (("after", Start.OLDER), ("before", Start.NEWER)):
        if name in request.args:
            cursor = decode_cursor(request.args.get(name))
            return Position(start, cursor) if cursor else Position()
    return Position(Start.OLDEST) if request.args.get("page") == "last" else Position()


def _context() -> dict[str, object]:
    return {"url_configured": bool(current_app.config.get("MARKETPLACE_WEBHOOK_URL")),
            "give_up_hours": webhook_retry_policy().give_up_after.total_seconds() / 3600,
            "statuses": WebhookStatus}


@bp.route("")
@role_required(Role.MANAGER)
def index() -> ResponseReturnValue:
    raw_status = request.args.get("status", "")
    status = WebhookStatus(raw_status) if raw_status in ("pending", "failed") else None
    page = undelivered_page(status, _position(), page_size())
    return render_template("webhooks/index.html", page=page, counts=undelivered_counts(),
                           blocked=blocked_by(page.items), status=status,
                           args={"status": status.value} if status else {},
                           list_attempts=LIST_ATTEMPTS, **_context())


def _event(event_id: int) -> WebhookEvent:
    event = db.session.get(WebhookEvent, event_id)
    if event is None:
        abort(404)
    return event


def _render_event(event: WebhookEvent, form: RetryForm, status: int = 200) -> ResponseReturnValue:
    return render_template("webhooks/show.html", event=event, form=form,
                           blocked=blocked_by([event]).get(event.id), **_context()), status


@bp.route("/<int:event_id>")
@role_required(Role.MANAGER)
def show(event_id: int) -> ResponseReturnValue:
    return _render_event(_event(event_id), RetryForm(formdata=None))


@bp.route("/<int:event_id>/retry", methods=["POST"])
@role_required(Role.MANAGER)
def retry_event(event_id: int) -> ResponseReturnValue:
    form = RetryForm()
    if not form.validate_on_submit():
        return _render_event(_event(event_id), form, 422)
    try:
        event = retry(current_user._get_current_object(), event_id, utcnow())
        db.session.commit()
    except RetryRefused as refusal:
        db.session.rollback()
        flash(str(refusal), "error")
        return _render_event(_event(event_id), RetryForm(formdata=None), 409)
    flash(f"Event #{event.id} ({event.type.value}) is due again: the sender posts it next, "
          "then the review's later events.", "success")
    return redirect(url_for(".show", event_id=event.id), 303)
