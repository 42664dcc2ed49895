"""Deciding a request. The request page's form posts to the page's own URL, so a refused or
invalid decision comes back on that page with what was typed; POST /requests/<id>/decision stays
for anything that posts there (it answers a refusal with a redirect and a message, as before)."""

from __future__ import annotations

from flask import flash
from flask.typing import ResponseReturnValue
from sqlalchemy.orm.exc import StaleDataError

from moderation_app.extensions import db
from moderation_app.jobs import nudge
from moderation_app.jobs.tasks import deliver_emails, deliver_webhooks
from moderation_app.models.requests import DeletionRequest
from moderation_app.models.users import STAFF_ROLES, User
from moderation_app.permissions import role_required
from moderation_app.services.errors import DomainError
from moderation_app.services.replies import template_used
from moderation_app.services.requests.appeals import FirstDeciderRefused
from moderation_app.services.requests.claims import holds, live_holder_id, taken_over_from
from moderation_app.services.requests.decisions import Decision, decide
from moderation_app.staff.forms import DecisionForm
from moderation_app.staff.request_views import (
    RACED,
    load_request,
    render_request,
    staff_user,
    take_next,
    to_detail,
)
from moderation_app.staff.routes import bp
from moderation_app.web import localtime_text

NOTHING_RECORDED = "nothing of yours was recorded."


def holder_refusal(actor: User, deletion_request: DeletionRequest) -> str | None:
    """Why `actor` cannot decide an open request they do not hold, naming who holds it now (a
    stale tab otherwise only learns "claim it first"); None when they hold it or it is closed."""
    if not deletion_request.is_open or holds(actor, deletion_request):
        return None
    takeover = taken_over_from(actor, deletion_request)
    holder_id = live_holder_id(deletion_request)
    if takeover is not None:
        still = "" if holder_id is not None else " They have let it go since: claim it to decide it."
        return (f"{takeover.by_email} took this request over from you at "
                f"{localtime_text(takeover.at, '%H:%M')}; {NOTHING_RECORDED}{still}")
    if holder_id is not None:
        holder = db.session.get(User, holder_id)
        return (f"{holder.email} holds this request (claimed at "
                f"{localtime_text(deletion_request.claimed_at, '%H:%M')}); {NOTHING_RECORDED}")
    if deletion_request.assignee_id == actor.id and deletion_request.lease_expires_at is not None:
        return (f"Your claim lapsed at {localtime_text(deletion_request.lease_expires_at, '%H:%M')}; "
                f"{NOTHING_RECORDED} Claim the request again to decide it.")
    return None


def _decide(request_id: int, *, on_page: bool) -> ResponseReturnValue:
    deletion_request = load_request(request_id, lock=True)
    form = DecisionForm()
    actor = staff_user()
    if not form.validate_on_submit():
        # A stale tab's empty note matters less than the request having changed hands.
        return render_request(deletion_request, decision_form=form, status=422,
                       refusal=holder_refusal(actor, deletion_request))
    try:
        decision = Decision(form.decision.data)
        template = template_used(form.reply_template.data, deletion_request.reason, decision)
        outcome = decide(actor, deletion_request, decision, form.note.data,
                         form.internal_note.data or "", reply_template=template,
                         evidence_shown=_count(form.evidence_shown.data))
        db.session.commit()
    except (DomainError, StaleDataError) as error:
        db.session.rollback()
        if isinstance(error, StaleDataError):
            refusal = RACED
        elif isinstance(error, FirstDeciderRefused):
            refusal = str(error)
            on_page = True  # never a race or a lapsed claim: 409 on the page, either endpoint
        else:
            refusal = holder_refusal(actor, deletion_request) or str(error)
        if on_page:
            return render_request(load_request(request_id), decision_form=form, status=409, refusal=refusal)
        flash(refusal, "error")
        return to_detail(request_id)
    # With a job queue the marketplace and the seller hear within seconds; without one (or with
    # Redis down) the polling senders deliver on their next round, as always.
    nudge(deliver_webhooks)
    nudge(deliver_emails)
    if outcome.decision is Decision.APPROVE:
        before, after = outcome.rating_before.overall, outcome.rating_after.overall
        flash(f"Approved #{request_id}: the review is hidden. Seller rating {before} → {after}.",
              "success")
    elif outcome.decision is Decision.REJECT:
        flash(f"Rejected #{request_id}: the review stays.", "success")
    else:
        flash(f"Asked the seller for more information on #{request_id}.", "success")
    if form.submit_and_next.data:
        return take_next()
    return to_detail(request_id)


def _count(value: str | None) -> int | None:
    """The form's evidence_shown; None (not checked) when absent, as from a script's post."""
    return int(value) if value and value.isdigit() and len(value) < 7 else None


@bp.route("/requests/<int:request_id>", methods=["POST"], endpoint="decide_on_page")
@role_required(*STAFF_ROLES)
def decide_on_page(request_id: int) -> ResponseReturnValue:
    return _decide(request_id, on_page=True)


@bp.route("/requests/<int:request_id>/decision", methods=["POST"])
@role_required(*STAFF_ROLES)
def decide_request(request_id: int) -> ResponseReturnValue:
    return _decide(request_id, on_page=False)
