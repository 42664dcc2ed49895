"""decide and add_note without HTTP: what each decision does to the request, the review and the
seller's rating; who may decide and when; and the audit event written into the caller's session,
so the decision and its record commit together or not at all (the service never commits). The
decision form is tested through HTTP in tests/views/staff/test_decisions.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models import (
    AuditEvent,
    DeletionRequest,
    MessageKind,
    RequestMessage,
    RequestStatus,
    Review,
    Role,
    User,
)
from moderation_app.services.errors import DomainError
from moderation_app.services.marketplace.ratings import SellerRating
from moderation_app.services.requests.decisions import (
    Decision,
    DecisionRefused,
    add_note,
    decide,
    recorded_decision,
)
from tests.helpers.accounts import make_user
from tests.helpers.marketplace import add_review
from tests.helpers.requests import CLOSED, add_request, set_holder
from tests.helpers.stored import audit_details, audit_events, load

LEASE = timedelta(minutes=30)


@pytest.fixture
def held(app, seller, agent) -> int:
    """A submitted request on a (1, 1, 1) review, held by the agent; the seller has one other
    visible review, rated (5, 5, 5)."""
    add_review(app, seller, stars=(5, 5, 5))
    request_id = add_request(app, seller, add_review(app, seller, stars=(1, 1, 1)),
                             submitted_at=datetime(2026, 11, 1, 9, 0, tzinfo=UTC))
    set_holder(app, request_id, agent, lease_left=timedelta(minutes=20))
    return request_id


def decided(app, actor: User, request_id: int, decision: Decision, note: str,
            internal_note: str = ""):
    """decide() in a fresh session, committed as a view would."""
    with app.app_context():
        outcome = decide(db.session.get(User, actor.id), db.session.get(DeletionRequest, request_id),
                         decision, note, internal_note)
        db.session.commit()
        return outcome


def messages(app, request_id: int) -> list[tuple[MessageKind, str, int]]:
    with app.app_context():
        return [(message.kind, message.body, message.author_id) for message in db.session.scalars(
            select(RequestMessage).where(RequestMessage.request_id == request_id).order_by(RequestMessage.id))]


def review_visible(app, request_id: int) -> bool:
    with app.app_context():
        return db.session.get(DeletionRequest, request_id).review.is_visible


# --- what each decision does ---------------------------------------------------------------------

def test_approval_hides_the_review_closes_the_request_and_frees_it(app, agent, held):
    before = utcnow()
    outcome = decided(app, agent, held, Decision.APPROVE, "  The chat shows the blackmail.  ")

    request = load(app, DeletionRequest, held)
    assert request.status is RequestStatus.APPROVED
    assert review_visible(app, held) is False
    assert request.decided_by_id == agent.id
    assert before <= request.decided_at <= utcnow()
    assert (request.assignee_id, request.lease_expires_at) == (None, None)
    assert messages(app, held) == [(MessageKind.DECISION, "The chat shows the blackmail.", agent.id)]
    assert (outcome.decision, outcome.status_before, outcome.status_after) == (
        Decision.APPROVE, RequestStatus.SUBMITTED, RequestStatus.APPROVED)


def test_approval_reports_the_sellers_rating_before_and_after(app, agent, held):
    outcome = decided(app, agent, held, Decision.APPROVE, "Blackmail.")

    assert outcome.rating_before == SellerRating(review_count=2, overall=3.0, fulfillment=3.0,
                                                 start_time=3.0, communication=3.0)
    assert outcome.rating_after == SellerRating(review_count=1, overall=5.0, fulfillment=5.0,
                                                start_time=5.0, communication=5.0)


def test_rejection_keeps_the_review_and_files_the_internal_note_apart(app, agent, held):
    outcome = decided(app, agent, held, Decision.REJECT, "No demand for a discount in the chat.",
                      internal_note=" Third rejected request this month. ")

    assert load(app, DeletionRequest, held).status is RequestStatus.REJECTED
    assert review_visible(app, held) is True
    assert outcome.rating_before == outcome.rating_after
    assert outcome.rating_after.review_count == 2
    assert messages(app, held) == [
        (MessageKind.DECISION, "No demand for a discount in the chat.", agent.id),
        (MessageKind.INTERNAL_NOTE, "Third rejected request this month.", agent.id),
    ]


def test_asking_for_information_sends_the_question_and_leaves_the_request_open(app, agent, held):
    outcome = decided(app, agent, held, Decision.REQUEST_INFO, "Please show the chat with the demand.")

    request = load(app, DeletionRequest, held)
    assert request.status is RequestStatus.NEEDS_INFO
    assert (request.decided_at, request.decided_by_id) == (None, None)
    assert (request.assignee_id, request.lease_expires_at) == (None, None)
    assert review_visible(app, held) is True
    assert messages(app, held) == [
        (MessageKind.INFO_REQUESTED, "Please show the chat with the demand.", agent.id)]
    assert outcome.status_after is RequestStatus.NEEDS_INFO


# --- the audit event and the transaction ---------------------------------------------------------

def test_the_decision_event_records_what_changed(app, agent, held):
    outcome = decided(app, agent, held, Decision.APPROVE, "Blackmail.", internal_note="Obvious one.")

    (event,) = audit_events(app, "request.decided")
    assert (event.actor_id, event.request_id) == (agent.id, held)
    details = json.loads(event.details)
    assert {key: details[key] for key in ("decision", "note", "internal_note", "status_before",
                                          "status_after")} == {
        "decision": "approve", "note": "Blackmail.", "internal_note": "Obvious one.",
        "status_before": "submitted", "status_after": "approved"}
    assert details["rating_before"]["review_count"] == 2
    assert details["rating_after"] == {"review_count": 1, "overall": 5.0, "fulfillment": 5.0,
                                       "start_time": 5.0, "communication": 5.0}
    with app.app_context():
        assert recorded_decision(db.session.get(DeletionRequest, held)) == outcome


def test_decide_writes_its_event_in_the_callers_session_and_commits_nothing(app, agent, held):
    with app.app_context():
        decide(db.session.get(User, agent.id), db.session.get(DeletionRequest, held),
               Decision.APPROVE, "Blackmail.")
        pending = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "request.decided"))
        assert [event.request_id for event in pending] == [held]
        db.session.rollback()

    request = load(app, DeletionRequest, held)
    assert (request.status, request.assignee_id, request.decided_at) == (RequestStatus.SUBMITTED, agent.id,
                                                                         None)
    assert review_visible(app, held) is True
    assert messages(app, held) == []
    assert audit_events(app, "request.decided") == []
    with app.app_context():
        assert recorded_decision(db.session.get(DeletionRequest, held)) is None


# --- refusals ------------------------------------------------------------------------------------

def refused(app, actor: User, request_id: int, note: str = "Fits the policy.",
            decision: Decision = Decision.APPROVE) -> str:
    """The refusal's message; asserts the refusal left nothing in the session either."""
    with app.app_context():
        with pytest.raises(DecisionRefused) as refusal:
            decide(db.session.get(User, actor.id), db.session.get(DeletionRequest, request_id),
                   decision, note)
        db.session.flush()
        assert db.session.scalar(select(func.count()).select_from(RequestMessage)) == 0
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "request.decided")) == 0
        return str(refusal.value)


@pytest.mark.parametrize("status", CLOSED)
def test_a_closed_request_cannot_be_decided_again(app, agent, held, status):
    with app.app_context():
        db.session.get(DeletionRequest, held).status = status
        db.session.commit()

    message = refused(app, agent, held)

    assert message == (f"This request is already {status.label.lower()}; "
                       "a decided request cannot be decided again.")
    assert load(app, DeletionRequest, held).status is status


@pytest.mark.parametrize("holder, lease_left", [
    (None, None),
    ("other.agent@example.com", timedelta(minutes=20)),
    ("agent@example.com", -timedelta(seconds=1)),
], ids=["nobody holds it", "another agent holds it", "the agent's lease lapsed"])
def test_only_the_live_holder_can_decide(app, seller, agent, holder, lease_left):
    request_id = add_request(app, seller, add_review(app, seller))
    if holder == "agent@example.com":
        set_holder(app, request_id, agent, lease_left=lease_left)
    elif holder is not None:
        set_holder(app, request_id, make_user(app, holder, Role.AGENT), lease_left=lease_left)

    message = refused(app, agent, request_id)

    assert message == "Claim the request before deciding it: only its holder can decide."
    assert load(app, DeletionRequest, request_id).status is RequestStatus.SUBMITTED
    assert review_visible(app, request_id) is True


@pytest.mark.parametrize("note", ["", "   ", "\n\t "])
def test_a_decision_without_a_note_for_the_seller_is_refused(app, agent, held, note):
    assert refused(app, agent, held, note) == "Write the note the seller will see."
    assert load(app, DeletionRequest, held).status is RequestStatus.SUBMITTED
    assert review_visible(app, held) is True


# --- internal notes ------------------------------------------------------------------------------

def test_the_holders_note_renews_the_lease_and_is_audited(app, agent, held):
    with app.app_context():
        before = utcnow()
        note = add_note(db.session.get(User, agent.id), db.session.get(DeletionRequest, held),
                        "  Buyer looks like a rival.  ", LEASE)
        db.session.commit()
        note_id = note.id

    assert load(app, DeletionRequest, held).lease_expires_at >= before + LEASE
    assert messages(app, held) == [(MessageKind.INTERNAL_NOTE, "Buyer looks like a rival.", agent.id)]
    assert audit_details(app, "request.note_added", request_id=held) == [{"message_id": note_id}]


def test_a_note_by_someone_else_leaves_the_holders_lease_alone(app, manager, held):
    lease_before = load(app, DeletionRequest, held).lease_expires_at

    with app.app_context():
        add_note(db.session.get(User, manager.id), db.session.get(DeletionRequest, held),
                 "Checked the buyer.", LEASE)
        db.session.commit()

    assert load(app, DeletionRequest, held).lease_expires_at == lease_before


@pytest.mark.parametrize("body", ["", "  \n "])
def test_a_blank_note_is_refused(app, agent, held, body):
    with app.app_context():
        with pytest.raises(DomainError, match="^Write a note first.$"):
            add_note(db.session.get(User, agent.id), db.session.get(DeletionRequest, held), body, LEASE)
        assert db.session.scalar(select(func.count()).select_from(RequestMessage)) == 0


def test_the_review_a_decision_hides_is_the_requests_own(app, seller, agent, held):
    decided(app, agent, held, Decision.APPROVE, "Blackmail.")

    with app.app_context():
        hidden = db.session.scalars(select(Review.external_id).where(Review.is_visible.is_(False))).all()
        assert hidden == [db.session.get(DeletionRequest, held).review.external_id]
