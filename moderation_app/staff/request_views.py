"""One request as staff see it: claim, release, notes, and "take the next"; deciding is in
decision_views."""

from __future__ import annotations

from dataclasses import replace

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm import joinedload

from moderation_app.database import is_lock_contention
from moderation_app.extensions import db
from moderation_app.models.marketplace import Order, Review
from moderation_app.models.requests import DeletionRequest, RequestMessage
from moderation_app.models.users import STAFF_ROLES, User
from moderation_app.permissions import role_required
from moderation_app.services.errors import DomainError, NoSuchRecord
from moderation_app.services.queue.listing import Unavailable, unavailable_to
from moderation_app.services.queue.signals import request_signals
from moderation_app.services.requests.appeals import FirstDeciderRefused, appeal_summary
from moderation_app.services.requests.claims import (
    CLAIMED,
    claim,
    claim_next,
    live_holder_id,
    release,
    taken_over_from,
)
from moderation_app.services.requests.decisions import DECIDED, add_note, recorded_decision
from moderation_app.services.requests.events import latest_events
from moderation_app.services.requests.timeline import request_evidence, timeline
from moderation_app.settings import claim_lease
from moderation_app.staff.forms import ActionForm, DecisionForm, NoteForm
from moderation_app.staff.routes import bp

CLAIM_ATTEMPTS = 5
RACED = ("Another agent changed this request at the same moment. Here it is as it stands now; "
         "nothing of yours was recorded.")


def staff_user() -> User:
    return current_user._get_current_object()


def load_request(request_id: int, *, lock: bool = False) -> DeletionRequest:
    # lock: PostgreSQL holds a row lock until commit, so a concurrent decision waits, then
    # sees the request as decided. SQLite ignores it; the version column catches the race there.
    # Reading: the request with its seller, first decider, review, order, offer, buyer, its few
    # messages with their authors and any screenshots still processing, in one statement (the
    # page shows them all). A lock takes the request's row alone.
    review = joinedload(DeletionRequest.review)
    everything = [joinedload(DeletionRequest.seller), joinedload(DeletionRequest.first_decided_by),
                  review.joinedload(Review.order).joinedload(Order.offer), review.joinedload(Review.buyer),
                  joinedload(DeletionRequest.messages).joinedload(RequestMessage.author),
                  joinedload(DeletionRequest.held_uploads)]
    deletion_request = db.session.get(DeletionRequest, request_id, with_for_update=lock,
                                      populate_existing=lock, options=[] if lock else everything)
    if deletion_request is None:
        raise NoSuchRecord("No such request.")
    return deletion_request


def to_detail(request_id: int) -> ResponseReturnValue:
    return redirect(url_for("staff.request_detail", request_id=request_id), 303)


def take_next() -> ResponseReturnValue:
    """Claim the next request and open it; retried when another agent won the same row."""
    agent = staff_user()
    for _ in range(CLAIM_ATTEMPTS):
        try:
            next_request = claim_next(agent, claim_lease())
            db.session.commit()
        except (StaleDataError, OperationalError) as error:
            if isinstance(error, OperationalError) and not is_lock_contention(error):
                raise  # a lost database is not a race to retry: the 503 handler answers
            db.session.rollback()
            agent = staff_user()
            continue
        if next_request is None:
            # Nothing free is not nothing left: others may hold every waiting request, and the
            # rest may be appeals of this agent's own decisions.
            left = unavailable_to(agent)
            if left.held_by_others or left.own_appeals:
                flash(_nothing_to_take(left), "info")
            else:
                flash("The queue is empty: no open request is waiting. Well done.", "success")
            return redirect(url_for("staff.queue"), 303)
        return to_detail(next_request.id)
    flash("The queue is very busy right now; press the button again.", "error")
    return redirect(url_for("staff.queue"), 303)


def render_request(deletion_request: DeletionRequest, decision_form: DecisionForm | None = None,
            note_form: NoteForm | None = None, status: int = 200,
            refusal: str | None = None) -> ResponseReturnValue:
    """The request page. `refusal` says why a decision was not recorded; the form it came from
    (`decision_form`) is shown again with what was typed."""
    viewer = staff_user()
    holder_id = live_holder_id(deletion_request)
    is_holder = holder_id == viewer.id
    evidence = request_evidence(deletion_request)
    entries = timeline(deletion_request, for_staff=True, evidence=evidence)
    # The explanation is shown once, under "The seller's case"; the timeline keeps the filing.
    entries[0] = replace(entries[0], body="")
    latest = latest_events(deletion_request.id, DECIDED, CLAIMED)
    return render_template(
        "staff/request_detail.html",
        deletion_request=deletion_request,
        review=deletion_request.review,
        snapshot=deletion_request.review_snapshot,
        evidence=evidence,
        uploads=deletion_request.held_uploads,
        signals=request_signals(deletion_request, evidence),
        entries=entries,
        holder=db.session.get(User, holder_id) if holder_id else None,
        is_holder=is_holder,
        taken_over=None if is_holder else taken_over_from(viewer, deletion_request, latest),
        refusal=refusal,
        decision_form=decision_form or DecisionForm(formdata=None),
        note_form=note_form or NoteForm(formdata=None),
        action_form=ActionForm(),
        decision_event=recorded_decision(deletion_request, latest),
        appeal=appeal_summary(deletion_request, evidence),
    ), status


def _nothing_to_take(left: Unavailable) -> str:
    parts = []
    if left.held_by_others:
        parts.append(f"{left.held_by_others} waiting request"
                     f"{'s are' if left.held_by_others != 1 else ' is'} held by other agents")
    if left.own_appeals:
        parts.append(f"{left.own_appeals} appeal{'s' if left.own_appeals != 1 else ''} of your own "
                     f"decision{'s' if left.own_appeals != 1 else ''} "
                     f"wait{'s' if left.own_appeals == 1 else ''} for another agent")
    return f"Nothing for you to take right now: {'; '.join(parts)}."


@bp.route("/queue/next", methods=["POST"], endpoint="claim_next")
@role_required(*STAFF_ROLES)
def claim_next_request() -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        flash("The form had expired; press the button again.", "error")
        return redirect(url_for("staff.queue"), 303)
    return take_next()


@bp.route("/requests/<int:request_id>")
@role_required(*STAFF_ROLES)
def request_detail(request_id: int) -> ResponseReturnValue:
    return render_request(load_request(request_id))


def _claim_action(request_id: int, action, success: str) -> ResponseReturnValue:
    """Claim or release: one button, one transaction, the outcome as a flash message."""
    deletion_request = load_request(request_id, lock=True)
    if ActionForm().validate_on_submit():
        try:
            action(staff_user(), deletion_request)
            db.session.commit()
            flash(success, "success")
        except FirstDeciderRefused as error:
            # Not a race to retry: this person may never take it (409, the page as it stands).
            db.session.rollback()
            flash(str(error), "error")
            return render_request(load_request(request_id), status=409)
        except DomainError as error:
            db.session.rollback()
            flash(str(error), "error")
        except StaleDataError:
            db.session.rollback()
            flash(RACED, "error")
    return to_detail(request_id)


@bp.route("/requests/<int:request_id>/claim", methods=["POST"])
@role_required(*STAFF_ROLES)
def claim_request(request_id: int) -> ResponseReturnValue:
    lease = claim_lease()
    return _claim_action(request_id, lambda agent, deletion_request: claim(agent, deletion_request, lease),
                         "You hold this request now. Your claim lapses after "
                         f"{lease.total_seconds() // 60:.0f} minutes without activity.")


@bp.route("/requests/<int:request_id>/release", methods=["POST"])
@role_required(*STAFF_ROLES)
def release_request(request_id: int) -> ResponseReturnValue:
    return _claim_action(request_id, release,
                         "Released: the request is back in the queue for anyone.")


@bp.route("/requests/<int:request_id>/notes", methods=["POST"])
@role_required(*STAFF_ROLES)
def add_request_note(request_id: int) -> ResponseReturnValue:
    deletion_request = load_request(request_id, lock=True)
    form = NoteForm()
    if not form.validate_on_submit():
        return render_request(deletion_request, note_form=form, status=422)
    try:
        add_note(staff_user(), deletion_request, form.note.data, claim_lease())
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        flash(RACED, "error")
        return to_detail(request_id)
    flash("Note added (staff only).", "success")
    return to_detail(request_id)
