"""timeline() without HTTP: a request's history in order, worded for its seller ("You …") or for
staff ("The seller …"), each entry with the evidence that came with it; internal notes are for
staff only. The request pages that show it are tested in tests/views/."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models import DeletionRequest, Evidence, Reason, Review, User
from moderation_app.services.evidence.storage import EvidenceStore, prepare_images
from moderation_app.services.requests.claims import claim
from moderation_app.services.requests.decisions import Decision, add_note, decide
from moderation_app.services.requests.filing import answer_request, submit_request, withdraw_request
from moderation_app.services.requests.timeline import timeline
from tests.helpers.images import image_bytes
from tests.helpers.marketplace import add_review
from tests.helpers.requests import EXPLANATION

LEASE = timedelta(minutes=30)
QUESTION = "Please show the chat where the buyer asks for a discount."
ANSWER = "Here it is, the second screenshot."
NOTE_WITH_QUESTION = "Seller filed two of these this week."
NOTE_BEFORE_DECIDING = "The chat does not show a demand."
REASON_FOR_SELLER = "The chat shows no demand for a discount."


def screenshot(seed: int):
    return prepare_images([(f"chat{seed}.png", io.BytesIO(image_bytes(seed=seed)))])


@pytest.fixture
def history(app, seller, agent) -> int:
    """Filed with one screenshot; a question (with an internal note); an answer with another
    screenshot; an internal note; a rejection. All through the services, one commit per step."""
    review_id = add_review(app, seller)
    store = EvidenceStore(app.config["UPLOAD_DIR"])

    def step(work) -> None:
        with app.app_context(), store.transaction() as staged:
            work(db.session.get(User, seller.id), db.session.get(User, agent.id), staged)
            db.session.commit()

    filed = []
    step(lambda me, _, staged: filed.append(submit_request(
        me, db.session.scalars(select(Review).where(Review.external_id == review_id)).one(),
        Reason.BLACKMAIL, EXPLANATION, screenshot(1), staged, daily_quota=10).id))
    request_id = filed[0]

    def request() -> DeletionRequest:
        return db.session.get(DeletionRequest, request_id)

    def ask(_, staff, __) -> None:
        claim(staff, request(), LEASE)
        decide(staff, request(), Decision.REQUEST_INFO, QUESTION, internal_note=NOTE_WITH_QUESTION)

    def reject(_, staff, __) -> None:
        claim(staff, request(), LEASE)
        add_note(staff, request(), NOTE_BEFORE_DECIDING, LEASE)
        decide(staff, request(), Decision.REJECT, REASON_FOR_SELLER)

    step(ask)
    step(lambda me, _, staged: answer_request(me, request(), ANSWER, screenshot(2), staged, daily_quota=10))
    step(reject)
    return request_id


def entries(app, request_id: int, *, for_staff: bool) -> list[tuple[str, str, str, list[str]]]:
    with app.app_context():
        return [(entry.kind, entry.title, entry.body, [item.original_filename for item in entry.evidence])
                for entry in timeline(db.session.get(DeletionRequest, request_id), for_staff=for_staff)]


def test_the_seller_sees_every_step_in_order_addressed_to_them(app, history):
    assert entries(app, history, for_staff=False) == [
        ("submitted", "You asked to delete the review: blackmail: the buyer demands extra services or discounts",
         EXPLANATION, ["chat1.png"]),
        ("info_requested", "Customer service asked for more information", QUESTION, []),
        ("seller_reply", "You answered", ANSWER, ["chat2.png"]),
        ("decision", "Rejected: the review stays", REASON_FOR_SELLER, []),
    ]


def test_staff_see_the_same_steps_about_the_seller_with_the_internal_notes(app, history):
    assert entries(app, history, for_staff=True) == [
        ("submitted", "The seller asked to delete the review: blackmail: the buyer demands extra services "
         "or discounts", EXPLANATION, ["chat1.png"]),
        ("info_requested", "Customer service asked for more information", QUESTION, []),
        ("internal_note", "Internal note by agent@example.com", NOTE_WITH_QUESTION, []),
        ("seller_reply", "The seller answered", ANSWER, ["chat2.png"]),
        ("internal_note", "Internal note by agent@example.com", NOTE_BEFORE_DECIDING, []),
        ("decision", "Rejected: the review stays", REASON_FOR_SELLER, []),
    ]


def test_no_internal_note_reaches_the_sellers_timeline(app, history):
    shown = " ".join(title + body for _, title, body, _ in entries(app, history, for_staff=False))
    assert NOTE_WITH_QUESTION not in shown and NOTE_BEFORE_DECIDING not in shown
    assert "Internal note" not in shown


def test_entries_are_in_the_order_things_happened(app, history):
    with app.app_context():
        times = [entry.at for entry in timeline(db.session.get(DeletionRequest, history), for_staff=True)]
    assert times == sorted(times)


def test_an_approval_says_the_review_is_removed(app, seller, agent):
    review_id = add_review(app, seller)
    with app.app_context(), EvidenceStore(app.config["UPLOAD_DIR"]).transaction() as staged:
        me, staff = db.session.get(User, seller.id), db.session.get(User, agent.id)
        deletion_request = submit_request(
            me, db.session.scalars(select(Review).where(Review.external_id == review_id)).one(),
            Reason.WRONG_OFFER, EXPLANATION, screenshot(1), staged, daily_quota=10)
        claim(staff, deletion_request, LEASE)
        decide(staff, deletion_request, Decision.APPROVE, "The buyer reviewed another offer.")
        db.session.commit()
        request_id = deletion_request.id

    assert entries(app, request_id, for_staff=False)[-1][:2] == (
        "decision", "Approved: the review is removed from the seller page")


def test_a_withdrawal_is_told_to_the_seller_as_theirs(app, seller):
    review_id = add_review(app, seller)
    with app.app_context(), EvidenceStore(app.config["UPLOAD_DIR"]).transaction() as staged:
        me = db.session.get(User, seller.id)
        deletion_request = submit_request(
            me, db.session.scalars(select(Review).where(Review.external_id == review_id)).one(),
            Reason.WRONG_OFFER, EXPLANATION, screenshot(1), staged, daily_quota=10)
        withdraw_request(me, deletion_request, "Settled with the buyer.")
        db.session.commit()
        request_id = deletion_request.id

    assert entries(app, request_id, for_staff=False)[-1] == (
        "withdrawn", "You withdrew the request", "Settled with the buyer.", [])
    assert entries(app, request_id, for_staff=True)[-1][1] == "The seller withdrew the request"


def test_evidence_is_shown_with_the_step_that_brought_it(app, history):
    with app.app_context():
        by_entry = {entry.kind: entry.evidence for entry in
                    timeline(db.session.get(DeletionRequest, history), for_staff=False)}
        files = db.session.scalars(select(Evidence).order_by(Evidence.id)).all()
        assert by_entry["submitted"] == [files[0]] and by_entry["seller_reply"] == [files[1]]
        assert files[0].message_id is None and files[1].message_id is not None
