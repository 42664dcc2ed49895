"""The seller's side of a request without HTTP: refusal_for, submit_request, answer_request and
withdraw_request. Each checks that the seller owns what they touch (NoSuchRecord otherwise, exactly
as for a missing id), changes the session and appends its audit event there; the service commits
nothing. The seller's forms are tested through HTTP in tests/views/seller/."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from moderation_app.extensions import db
from moderation_app.models import (
    AuditEvent,
    DeletionRequest,
    Evidence,
    MessageKind,
    OrderStatus,
    Reason,
    RequestMessage,
    RequestStatus,
    Review,
    User,
)
from moderation_app.services.errors import NoSuchRecord
from moderation_app.services.evidence.storage import (
    EvidenceRejected,
    PreparedImage,
    StagedFiles,
    prepare_images,
)
from moderation_app.services.requests.filing import (
    RequestClosed,
    answer_request,
    refusal_for,
    review_snapshot,
    seller_request,
    seller_review,
    submit_request,
    withdraw_request,
)
from moderation_app.settings import evidence_store
from tests.helpers.images import image_bytes
from tests.helpers.marketplace import add_review, hide_review, set_order_status
from tests.helpers.requests import (
    CLOSED,
    EXPLANATION,
    OPEN,
    add_request,
    ask_for_information,
    set_holder,
)
from tests.helpers.stored import NOTHING, audit_details, load, row_counts, stored_files

QUOTA = 20
SUBMITTED_AT = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def screenshots(count: int = 1) -> list[PreparedImage]:
    return prepare_images([(f"chat{seed}.png", io.BytesIO(image_bytes(seed=seed))) for seed in range(count)])


@contextmanager
def seller_session(app, seller: User) -> Iterator[tuple[User, StagedFiles]]:
    """An app context with the seller's row and an evidence transaction on the app's store."""
    with app.app_context(), evidence_store().transaction() as staged:
        yield db.session.get(User, seller.id), staged


def review_row(external_id: str) -> Review:
    return db.session.scalars(select(Review).where(Review.external_id == external_id)).one()


def session_count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- refusal_for ---------------------------------------------------------------------------------

def test_a_visible_review_on_a_finished_order_without_an_open_request_may_be_challenged(app, seller):
    review_id = add_review(app, seller)

    with app.app_context():
        assert refusal_for(review_row(review_id)) is None


def test_a_hidden_review_cannot_be_challenged(app, seller):
    review_id = add_review(app, seller)
    hide_review(app, review_id)

    with app.app_context():
        assert refusal_for(review_row(review_id)) == "This review is already hidden from your page."


@pytest.mark.parametrize("status", [OrderStatus.DISPUTED, OrderStatus.IN_PROGRESS, OrderStatus.PAID])
def test_a_review_on_an_order_not_finished_refunded_or_canceled_cannot_be_challenged(app, seller, status):
    review_id = add_review(app, seller)
    set_order_status(app, review_id, status)

    with app.app_context():
        assert refusal_for(review_row(review_id)) == (
            f"The order's status is {status.label.lower()}; only reviews on finished, refunded or "
            "canceled orders can be challenged.")


@pytest.mark.parametrize("status", OPEN)
def test_a_review_with_an_open_request_cannot_be_challenged_again(app, seller, status):
    review_id = add_review(app, seller)
    add_request(app, seller, review_id, status=status)

    with app.app_context():
        assert refusal_for(review_row(review_id)) == (
            "This review already has an open deletion request. Follow it on your requests page.")


@pytest.mark.parametrize("status", CLOSED)
def test_a_review_whose_earlier_request_is_closed_may_be_challenged_again(app, seller, status):
    review_id = add_review(app, seller)
    add_request(app, seller, review_id, status=status)

    with app.app_context():
        assert refusal_for(review_row(review_id)) is None


# --- lookups -------------------------------------------------------------------------------------

def test_another_sellers_review_and_request_are_no_such_record_like_missing_ones(app, seller, other_seller):
    theirs = add_review(app, other_seller)
    their_request = add_request(app, other_seller, theirs)

    with app.app_context():
        me = db.session.get(User, seller.id)
        for review_id in (theirs, "R-does-not-exist", "R-1\x00"):
            with pytest.raises(NoSuchRecord, match="^No such review.$"):
                seller_review(me, review_id)
        for request_id in (their_request, their_request + 1000):
            with pytest.raises(NoSuchRecord, match="^No such request.$"):
                seller_request(me, request_id)


# --- submit_request ------------------------------------------------------------------------------

def test_submit_request_files_the_request_with_its_evidence_and_a_snapshot_of_the_review(app, seller):
    review_id = add_review(app, seller, text="Terrible, never again.")

    with seller_session(app, seller) as (me, staged):
        review = review_row(review_id)
        deletion_request = submit_request(me, review, Reason.BLACKMAIL, f"  {EXPLANATION}  ",
                                          screenshots(2), staged, daily_quota=QUOTA)
        snapshot = review_snapshot(review)
        db.session.commit()
        request_id = deletion_request.id

    filed = load(app, DeletionRequest, request_id)
    assert (filed.status, filed.reason, filed.seller_id) == (RequestStatus.SUBMITTED, Reason.BLACKMAIL, seller.id)
    assert filed.explanation == EXPLANATION
    assert filed.review_snapshot == snapshot
    assert (snapshot["review_id"], snapshot["text"]) == (review_id, "Terrible, never again.")
    with app.app_context():
        evidence = db.session.scalars(select(Evidence).order_by(Evidence.id)).all()
        assert [(item.request_id, item.uploaded_by_id, item.message_id) for item in evidence] == [
            (request_id, seller.id, None)] * 2
        names = sorted(name for item in evidence for name in (item.stored_name, item.thumbnail_name))
        expected_evidence = [{"id": item.id, "sha256": item.sha256, "format": item.format,
                              "bytes": item.byte_size} for item in evidence]
    assert stored_files(app) == names
    assert audit_details(app, "request.submitted", request_id=request_id) == [{
        "reason": "blackmail", "explanation_length": len(EXPLANATION), "evidence": expected_evidence}]


def test_submit_request_writes_its_event_in_the_callers_session_and_commits_nothing(app, seller):
    review_id = add_review(app, seller)

    with seller_session(app, seller) as (me, staged):
        submit_request(me, review_row(review_id), Reason.WRONG_OFFER, EXPLANATION, screenshots(),
                       staged, daily_quota=QUOTA)
        assert db.session.scalars(select(AuditEvent.action).where(
            AuditEvent.action.like("request.%"))).all() == ["request.submitted"]
        db.session.rollback()

    assert row_counts(app) == NOTHING


def test_a_seller_cannot_file_against_another_sellers_review(app, seller, other_seller):
    theirs = add_review(app, other_seller)

    with seller_session(app, seller) as (me, staged):
        with pytest.raises(NoSuchRecord, match="^No such review.$"):
            submit_request(me, review_row(theirs), Reason.WRONG_OFFER, EXPLANATION, screenshots(),
                           staged, daily_quota=QUOTA)
        assert staged.names == []
        assert session_count(DeletionRequest) == 0


def test_submit_request_refuses_what_refusal_for_refuses(app, seller):
    review_id = add_review(app, seller)
    hide_review(app, review_id)

    with seller_session(app, seller) as (me, staged):
        with pytest.raises(RequestClosed, match="^This review is already hidden from your page.$"):
            submit_request(me, review_row(review_id), Reason.WRONG_OFFER, EXPLANATION, screenshots(),
                           staged, daily_quota=QUOTA)
        assert session_count(DeletionRequest) == 0


def test_a_request_without_evidence_is_refused(app, seller):
    review_id = add_review(app, seller)

    with seller_session(app, seller) as (me, staged):
        with pytest.raises(EvidenceRejected, match="^Attach at least one screenshot.$"):
            submit_request(me, review_row(review_id), Reason.WRONG_OFFER, EXPLANATION, [], staged,
                           daily_quota=QUOTA)
        assert session_count(DeletionRequest) == 0


def test_the_daily_quota_counts_the_sellers_files_of_the_last_24_hours(app, seller):
    first, second = add_review(app, seller), add_review(app, seller)
    with seller_session(app, seller) as (me, staged):
        submit_request(me, review_row(first), Reason.WRONG_OFFER, EXPLANATION, screenshots(2), staged,
                       daily_quota=3)
        db.session.commit()

    with seller_session(app, seller) as (me, staged):
        with pytest.raises(EvidenceRejected) as refusal:
            submit_request(me, review_row(second), Reason.WRONG_OFFER, EXPLANATION, screenshots(2),
                           staged, daily_quota=3)
    assert str(refusal.value) == ("You can upload at most 3 screenshots in 24 hours; you have 1 left. "
                                  "Try again later.")
    assert row_counts(app)["requests"] == 1


# --- answer_request ------------------------------------------------------------------------------

def test_an_answer_returns_the_request_to_the_queue_at_its_old_place(app, seller, agent):
    request_id = add_request(app, seller, add_review(app, seller), submitted_at=SUBMITTED_AT)
    ask_for_information(app, request_id, agent)

    with seller_session(app, seller) as (me, staged):
        reply = answer_request(me, db.session.get(DeletionRequest, request_id), "  It was by phone.  ",
                               screenshots(1), staged, daily_quota=QUOTA)
        db.session.commit()
        reply_id = reply.id
        evidence = db.session.scalars(select(Evidence)).one()
        evidence_details = [{"id": evidence.id, "sha256": evidence.sha256, "format": evidence.format,
                             "bytes": evidence.byte_size}]
        assert (evidence.request_id, evidence.message_id) == (request_id, reply_id)

    answered = load(app, DeletionRequest, request_id)
    assert (answered.status, answered.submitted_at) == (RequestStatus.SUBMITTED, SUBMITTED_AT)
    reply = load(app, RequestMessage, reply_id)
    assert (reply.kind, reply.body, reply.author_id) == (MessageKind.SELLER_REPLY, "It was by phone.", seller.id)
    assert audit_details(app, "request.evidence_added", request_id=request_id) == [{
        "message_id": reply_id, "status_before": "needs_info", "status_after": "submitted",
        "evidence": evidence_details}]


def test_an_answer_may_come_without_new_evidence(app, seller, agent):
    request_id = add_request(app, seller, add_review(app, seller))
    ask_for_information(app, request_id, agent)

    with seller_session(app, seller) as (me, staged):
        answer_request(me, db.session.get(DeletionRequest, request_id), "No more screenshots, sorry.",
                       [], staged, daily_quota=QUOTA)
        db.session.commit()

    assert load(app, DeletionRequest, request_id).status is RequestStatus.SUBMITTED
    assert [details["evidence"] for details in audit_details(app, "request.evidence_added")] == [[]]


@pytest.mark.parametrize("status", [RequestStatus.SUBMITTED, *CLOSED])
def test_an_answer_when_no_question_is_pending_is_refused(app, seller, status):
    request_id = add_request(app, seller, add_review(app, seller), status=status)

    with seller_session(app, seller) as (me, staged):
        with pytest.raises(RequestClosed, match="^Customer service has not asked a question on this request"):
            answer_request(me, db.session.get(DeletionRequest, request_id), "Here.", [], staged,
                           daily_quota=QUOTA)
        assert session_count(RequestMessage) == 0


def test_a_seller_cannot_answer_another_sellers_request(app, seller, other_seller, agent):
    request_id = add_request(app, other_seller, add_review(app, other_seller))
    ask_for_information(app, request_id, agent)

    with seller_session(app, seller) as (me, staged):
        with pytest.raises(NoSuchRecord, match="^No such request.$"):
            answer_request(me, db.session.get(DeletionRequest, request_id), "Here.", screenshots(),
                           staged, daily_quota=QUOTA)
        assert staged.names == []

    assert load(app, DeletionRequest, request_id).status is RequestStatus.NEEDS_INFO


def test_answer_request_commits_nothing(app, seller, agent):
    request_id = add_request(app, seller, add_review(app, seller))
    ask_for_information(app, request_id, agent)

    with seller_session(app, seller) as (me, staged):
        answer_request(me, db.session.get(DeletionRequest, request_id), "Here.", [], staged,
                       daily_quota=QUOTA)
        db.session.rollback()

    assert load(app, DeletionRequest, request_id).status is RequestStatus.NEEDS_INFO
    assert audit_details(app, "request.evidence_added") == []
    assert row_counts(app)["messages"] == 1  # the question only


# --- withdraw_request ----------------------------------------------------------------------------

@pytest.mark.parametrize("status", OPEN)
def test_withdrawing_closes_an_open_request_and_frees_its_holder(app, seller, agent, status):
    request_id = add_request(app, seller, add_review(app, seller), status=status)
    set_holder(app, request_id, agent, lease_left=timedelta(minutes=20))

    with app.app_context():
        withdraw_request(db.session.get(User, seller.id), db.session.get(DeletionRequest, request_id),
                         "  Sorted it out with the buyer.  ")
        db.session.commit()

    withdrawn = load(app, DeletionRequest, request_id)
    assert (withdrawn.status, withdrawn.assignee_id, withdrawn.lease_expires_at) == (
        RequestStatus.WITHDRAWN, None, None)
    with app.app_context():
        message = db.session.scalars(select(RequestMessage)).one()
        assert (message.kind, message.body, message.author_id) == (
            MessageKind.WITHDRAWN, "Sorted it out with the buyer.", seller.id)
    assert audit_details(app, "request.withdrawn", request_id=request_id) == [
        {"status_before": status.value, "status_after": "withdrawn"}]


@pytest.mark.parametrize("status", CLOSED)
def test_withdrawing_a_closed_request_is_refused(app, seller, status):
    request_id = add_request(app, seller, add_review(app, seller), status=status)

    with app.app_context():
        with pytest.raises(RequestClosed, match="^This request is already closed.$"):
            withdraw_request(db.session.get(User, seller.id), db.session.get(DeletionRequest, request_id))
        assert session_count(RequestMessage) == 0

    assert load(app, DeletionRequest, request_id).status is status


def test_a_seller_cannot_withdraw_another_sellers_request(app, seller, other_seller):
    request_id = add_request(app, other_seller, add_review(app, other_seller))

    with app.app_context():
        with pytest.raises(NoSuchRecord, match="^No such request.$"):
            withdraw_request(db.session.get(User, seller.id), db.session.get(DeletionRequest, request_id))

    assert load(app, DeletionRequest, request_id).status is RequestStatus.SUBMITTED


def test_withdraw_request_commits_nothing(app, seller):
    request_id = add_request(app, seller, add_review(app, seller))

    with app.app_context():
        withdraw_request(db.session.get(User, seller.id), db.session.get(DeletionRequest, request_id))
        db.session.rollback()

    assert load(app, DeletionRequest, request_id).status is RequestStatus.SUBMITTED
    assert audit_details(app, "request.withdrawn") == []
    assert row_counts(app)["messages"] == 0
