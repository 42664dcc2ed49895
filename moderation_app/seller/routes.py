"""Seller views: their reviews and rating, and their deletion requests from filing to decision."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from moderation_app.extensions import db
from moderation_app.models.marketplace import Review
from moderation_app.models.requests import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    DeletionRequest,
    Reason,
    RequestStatus,
)
from moderation_app.models.users import Role, User
from moderation_app.permissions import role_required
from moderation_app.seller.forms import (
    AnswerForm,
    AppealForm,
    DeletionRequestForm,
    WithdrawForm,
    length_bounds,
)
from moderation_app.seller.list_pages import list_position
from moderation_app.seller.nav import known_waiting_count
from moderation_app.seller.review_filters import STAR_CHOICES, review_filters_from
from moderation_app.seller.uploads import (
    RefusedUploads,
    charge_unused,
    forget_passed,
    log_refusal,
    passed_before,
    prepare_evidence,
    process_held,
    remember_passed,
    storage_down,
)
from moderation_app.services.counters import counts as request_counts
from moderation_app.services.errors import DomainError
from moderation_app.services.evidence.backends import StorageUnavailable
from moderation_app.services.evidence.storage import EvidenceRejected, StagedFiles
from moderation_app.services.marketplace.ratings import seller_offers, seller_rating, seller_reviews
from moderation_app.services.requests.filing import (
    RequestClosed,
    Uploads,
    answer_request,
    latest_requests_on,
    refusal_for,
    review_snapshot,
    seller_request,
    seller_requests,
    seller_review,
    submit_request,
    withdraw_request,
)
from moderation_app.services.requests.appeals import (
    AppealRefused,
    appeal,
    appeal_deadline,
    appeal_refusal,
)
from moderation_app.services.requests.statement import last_final_decision, statement_of_reasons
from moderation_app.services.requests.timeline import request_evidence, timeline
from moderation_app.settings import (
    daily_upload_quota,
    evidence_limits,
    evidence_store,
    page_size,
    response_target,
)
from moderation_app.transactions import reads_first, writing
from moderation_app.web import CONTENT_SECURITY_POLICY, accepts_uploads, viewer_time_zone

bp = Blueprint("seller", __name__, url_prefix="/seller")
# Set up with the blueprint, in create_app: the count of each seller's refused uploads.
bp.record_once(lambda state: RefusedUploads(state.app))

STATUS_FILTERS = {
    "open": OPEN_STATUSES,
    "closed": FINAL_STATUSES,
}
CHANGED_MEANWHILE = "The request changed while you were working on it. Here it is as it stands now."
# The forms with files (static/js/uploads.js) preview the chosen screenshots from blob: URLs the
# page's own script makes; every other part of the policy stays as web.py sets it.
PREVIEW_ENDPOINTS = frozenset({"seller.new_request", "seller.request_detail", "seller.answer",
                               "seller.appeal_request"})
PREVIEW_POLICY = f"{CONTENT_SECURITY_POLICY}; img-src 'self' blob:"


@bp.after_request
def _allow_previews(response: Response) -> Response:
    if request.endpoint in PREVIEW_ENDPOINTS:
        response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    return response


def _see_other(url: str) -> ResponseReturnValue:
    """Redirect after POST. uploads.js sends its forms with X-Requested-With: an XMLHttpRequest
    cannot be kept from following a redirect, and following it would show (and use up) the flash
    message before the browser gets there. So the script is told where to go (204 + Location)."""
    if request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return "", 204, {"Location": url}
    return redirect(url, 303)


def _seller() -> User:
    return current_user._get_current_object()


def _uploaded_files(field_name: str) -> list[tuple[str | None, object]]:
    # A file input left empty still sends one part with no filename.
    return [(upload.filename, upload.stream) for upload in request.files.getlist(field_name)
            if upload.filename]


def _prepare_evidence(seller: User, field_name: str, required: bool) -> Uploads:
    files = _uploaded_files(field_name)
    if not files and not required:
        return []
    return prepare_evidence(seller, files, limits=evidence_limits(), quota=daily_upload_quota())


def _commit_with_evidence(seller: User, form: AnswerForm | AppealForm, request_id: int,
                          act: Callable[[Uploads, StagedFiles], object]) -> bool:
    """A follow-up with optional screenshots (an answer, an appeal): checks the form's files,
    stores them and runs `act(images, staged)` in one transaction. False when a file was refused
    (the reason is on the form's field, nothing was kept); the caller handles the rest."""
    try:
        images = _prepare_evidence(seller, form.evidence.name, required=False)
        with writing(), evidence_store().transaction() as staged:
            act(images, staged)
            db.session.commit()
        process_held(request_id, images)
    except EvidenceRejected as error:
        db.session.rollback()
        log_refusal(seller, error)
        form.evidence.errors = [str(error)]
        return False
    except StorageUnavailable as error:
        storage_down(form.evidence, error)
        return False
    return True


@bp.route("/reviews")
@role_required(Role.SELLER)
def reviews() -> str:
    seller = _seller()
    offers = seller_offers(seller.id)
    # Days in the zone the list shows its dates in (the seller's choice, else their browser's).
    listed, filters, filter_errors = review_filters_from(request.args, offers, viewer_time_zone().key)
    position, page_note = list_position(request.args, page_size())
    page = seller_reviews(seller.id, filters, position, page_size())
    # The latest request on each review of this page, to link to it instead of offering a new one.
    latest_requests = latest_requests_on([review.id for review in page.items])
    return render_template(
        "seller/reviews.html",
        page=page,
        page_note=page_note,
        rating=seller_rating(seller.id),
        latest_requests=latest_requests,
        open_statuses=OPEN_STATUSES,
        offers=offers,
        listed=listed,
        filter_errors=filter_errors,
        star_choices=STAR_CHOICES,
    )


def _render_form(form: DeletionRequestForm, review: Review, refusal: str | None,
                 files_passed: bool = False) -> ResponseReturnValue:
    status = 422 if request.method == "POST" else 200
    return render_template("seller/request_form.html", form=form, review=review,
                           snapshot=review_snapshot(review), refusal=refusal,
                           reasons={reason.value: reason for reason in Reason},
                           limits=evidence_limits(), files_passed=files_passed,
                           response_hours=_response_hours(),
                           explanation_bounds=length_bounds(form.explanation)), status


def _response_hours() -> int:
    return int(response_target() // timedelta(hours=1))


@bp.route("/reviews/<review_id>/deletion-request", methods=["GET", "POST"])
@role_required(Role.SELLER)
@accepts_uploads
@reads_first  # decoding screenshots takes seconds: not while holding SQLite's write lock
def new_request(review_id: str) -> ResponseReturnValue:
    seller = _seller()
    review = seller_review(seller, review_id)
    form = DeletionRequestForm()
    refusal = refusal_for(review)
    if refusal is not None or not form.is_submitted():
        return _render_form(form, review, refusal)
    text_valid = form.validate()
    if form.csrf_token.errors:  # a forged or stale form: its files are not even read
        return _render_form(form, review, refusal)
    files, limits = _uploaded_files(form.evidence.name), evidence_limits()
    if not text_valid and passed_before(seller, files, limits):
        # The same screenshots again while the text is fixed: checked and charged once already.
        return _render_form(form, review, refusal, files_passed=True)
    # The files are checked whatever the text, so every error comes in one round.
    try:
        images = prepare_evidence(seller, files, limits=limits, quota=daily_upload_quota())
    except EvidenceRejected as error:
        db.session.rollback()
        log_refusal(seller, error)
        form.evidence.errors = [str(error)]
        return _render_form(form, review, refusal)
    if not text_valid:
        charge_unused(seller, len(images))
        remember_passed(seller, files, limits)
        return _render_form(form, review, refusal, files_passed=True)
    try:
        # The rules are checked again inside, on the request as it stands now.
        with writing(), evidence_store().transaction() as staged:
            deletion_request = submit_request(seller, review, Reason(form.reason.data),
                                              form.explanation.data, images, staged,
                                              daily_quota=daily_upload_quota())
            db.session.commit()  # last statement in the block: a failed commit removes the files
    except EvidenceRejected as error:
        db.session.rollback()
        log_refusal(seller, error)
        form.evidence.errors = [str(error)]
    except StorageUnavailable as error:
        storage_down(form.evidence, error)
    except IntegrityError:
        # Another request for this review was opened at the same moment.
        db.session.rollback()
        refusal = refusal_for(review) or "This review already has an open deletion request."
    except DomainError as error:
        db.session.rollback()
        refusal = str(error)
    else:
        forget_passed()
        process_held(deletion_request.id, images)
        flash("Your request was submitted. Customer service will look at it and you can follow "
              "it here.", "success")
        return _see_other(url_for(".request_detail", request_id=deletion_request.id))
    return _render_form(form, review, refusal)


def _tab_counts(seller_id: int) -> dict[str, int]:
    """Each tab's requests, from the counters the database keeps per seller: one statement, which
    also answers the navigation's count of requests waiting on the seller."""
    by_key = request_counts([seller_id])
    known_waiting_count(sum(count for (status, _), count in by_key.items()
                            if status is RequestStatus.NEEDS_INFO))
    return {tab: sum(count for (status, _), count in by_key.items()
                     if tab == "all" or status in STATUS_FILTERS[tab])
            for tab in ("all", *STATUS_FILTERS)}


@bp.route("/requests")
@role_required(Role.SELLER)
def requests() -> str:
    status_filter = request.args.get("status", "all")
    if status_filter not in STATUS_FILTERS:
        status_filter = "all"
    seller = _seller()
    position, page_note = list_position(request.args, page_size())
    page = seller_requests(seller, STATUS_FILTERS.get(status_filter), position, page_size())
    return render_template("seller/requests.html", page=page, page_note=page_note,
                           status_filter=status_filter, tab_counts=_tab_counts(seller.id))


def _statement(deletion_request: DeletionRequest):
    """The statement of reasons for the decision that stands (the appealed one while an appeal
    is pending); None for a request never decided or withdrawn."""
    if deletion_request.status is RequestStatus.WITHDRAWN:
        return None
    record = last_final_decision(deletion_request)
    if record is None:
        return None
    return statement_of_reasons(deletion_request, record, on_appeal=record.on_appeal)


def _render_detail(deletion_request: DeletionRequest, answer_form: AnswerForm | None = None,
                   status: int = 200, appeal_form: AppealForm | None = None) -> ResponseReturnValue:
    if answer_form is None and deletion_request.status is RequestStatus.NEEDS_INFO:
        answer_form = AnswerForm(formdata=None)
    cannot_appeal = appeal_refusal(deletion_request)
    if appeal_form is None and cannot_appeal is None:
        appeal_form = AppealForm(formdata=None)
    evidence = request_evidence(deletion_request)
    return render_template(
        "seller/request_detail.html",
        deletion_request=deletion_request,
        snapshot=deletion_request.review_snapshot,
        evidence=evidence,
        uploads=deletion_request.held_uploads,
        entries=timeline(deletion_request, evidence=evidence),
        answer_form=answer_form,
        statement=_statement(deletion_request),
        appeal_form=appeal_form if cannot_appeal is None else None,
        appeal_deadline=appeal_deadline(deletion_request),
        cannot_appeal=cannot_appeal,
        appeal_bounds=length_bounds(appeal_form.message) if appeal_form else (None, None),
        limits=evidence_limits(),
        response_hours=_response_hours(),
    ), status


@bp.route("/requests/<int:request_id>")
@role_required(Role.SELLER)
def request_detail(request_id: int) -> ResponseReturnValue:
    return _render_detail(seller_request(_seller(), request_id))


@bp.route("/requests/<int:request_id>/evidence", methods=["POST"])
@role_required(Role.SELLER)
@accepts_uploads
@reads_first
def answer(request_id: int) -> ResponseReturnValue:
    seller = _seller()
    deletion_request = seller_request(seller, request_id)
    form = AnswerForm()
    if deletion_request.status is not RequestStatus.NEEDS_INFO:
        flash("Customer service has not asked a question on this request, so there is nothing to "
              "answer right now.", "error")
        return _render_detail(deletion_request, status=409)
    if not form.validate_on_submit():
        return _render_detail(deletion_request, form, status=422)
    try:
        stored = _commit_with_evidence(seller, form, request_id, lambda images, staged: answer_request(
            seller, deletion_request, form.message.data, images, staged,
            daily_quota=daily_upload_quota()))
    except (StaleDataError, RequestClosed):
        # Withdrawn, or decided, while the screenshots were being checked.
        db.session.rollback()
        flash(CHANGED_MEANWHILE, "error")
        return _see_other(url_for(".request_detail", request_id=request_id))
    if not stored:
        return _render_detail(deletion_request, form, status=422)
    flash("Thank you. Your answer is with customer service, and the request keeps its place in the "
          "queue.", "success")
    return _see_other(url_for(".request_detail", request_id=request_id))


@bp.route("/requests/<int:request_id>/appeal", methods=["POST"])
@role_required(Role.SELLER)
@accepts_uploads
@reads_first
def appeal_request(request_id: int) -> ResponseReturnValue:
    seller = _seller()
    deletion_request = seller_request(seller, request_id)  # another seller's: 404
    refusal = appeal_refusal(deletion_request)
    if refusal is not None:
        flash(refusal, "error")
        return _render_detail(deletion_request, status=409)
    form = AppealForm()
    if not form.validate_on_submit():
        return _render_detail(deletion_request, appeal_form=form, status=422)

    def lodge(images: Uploads, staged: StagedFiles) -> None:
        # PostgreSQL: a second appeal sent at the same moment waits here, then is refused.
        db.session.refresh(deletion_request, with_for_update=True)
        appeal(seller, deletion_request, form.message.data, images, staged,
               daily_quota=daily_upload_quota())

    try:
        stored = _commit_with_evidence(seller, form, request_id, lodge)
    except (StaleDataError, AppealRefused) as error:
        db.session.rollback()
        flash(str(error) if isinstance(error, AppealRefused) else CHANGED_MEANWHILE, "error")
        return _render_detail(seller_request(seller, request_id), status=409)
    if not stored:
        return _render_detail(deletion_request, appeal_form=form, status=422)
    flash("Your appeal is with customer service. An agent other than the one who rejected your "
          "request will decide it, and that decision is final.", "success")
    return _see_other(url_for(".request_detail", request_id=request_id))


@bp.route("/requests/<int:request_id>/withdraw", methods=["GET", "POST"])
@role_required(Role.SELLER)
def withdraw(request_id: int) -> ResponseReturnValue:
    seller = _seller()
    deletion_request = seller_request(seller, request_id)
    if not deletion_request.is_open:
        flash("This request is already closed.", "error")
        return redirect(url_for(".request_detail", request_id=request_id), 303)
    form = WithdrawForm()
    if form.validate_on_submit():
        try:
            withdraw_request(seller, deletion_request, form.reason.data or "")
            db.session.commit()
        except StaleDataError:
            db.session.rollback()
            flash(CHANGED_MEANWHILE, "error")
            return redirect(url_for(".request_detail", request_id=request_id), 303)
        flash("You withdrew the request. The review stays as it is.", "success")
        return redirect(url_for(".request_detail", request_id=request_id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("seller/withdraw.html", form=form, deletion_request=deletion_request), status
