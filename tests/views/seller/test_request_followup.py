"""What follows a filed deletion request, through HTTP: answering customer service's question,
withdrawing, and the audit event each step writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models import DeletionRequest, Evidence, MessageKind, RequestMessage, RequestStatus
from tests.helpers.clients import page_text
from tests.helpers.images import image_bytes
from tests.helpers.marketplace import add_review
from tests.helpers.requests import (
    CLOSED,
    OPEN,
    QUESTION,
    answer,
    ask_for_information,
    file_request,
    set_request_status,
    submit,
)
from tests.helpers.stored import evidence_rows, request_events, request_state, row_counts, stored_files

# --- answering a question ------------------------------------------------------------------------

def test_request_page_shows_the_agents_question_and_an_answer_form(app, seller, agent, seller_client):
    request_id = file_request(seller_client, add_review(app, seller))
    ask_for_information(app, request_id, agent)

    body = page_text(seller_client.get(f"/seller/requests/{request_id}"))

    assert "Needs information" in body
    assert QUESTION in body
    assert f'action="/seller/requests/{request_id}/evidence"' in body


def test_answer_sends_the_request_back_to_submitted_keeping_its_submission_time(app, seller, agent,
                                                                                seller_client):
    request_id = file_request(seller_client, add_review(app, seller))
    long_ago = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    with app.app_context():
        db.session.get(DeletionRequest, request_id).submitted_at = long_ago
        db.session.commit()
    ask_for_information(app, request_id, agent)

    response = answer(seller_client, request_id, "  The chat is attached.  ",
                      files=[(image_bytes("WEBP", seed=4), "more.webp")])

    assert response.status_code == 303
    assert response.location == f"/seller/requests/{request_id}"
    state = request_state(app, request_id)
    assert state["status"] is RequestStatus.SUBMITTED
    assert state["submitted_at"] == long_ago
    with app.app_context():
        reply = db.session.scalars(select(RequestMessage)
                                   .where(RequestMessage.kind == MessageKind.SELLER_REPLY)).one()
        assert (reply.request_id, reply.author_id, reply.body) == (request_id, seller.id,
                                                                   "The chat is attached.")
        added = db.session.scalars(select(Evidence).where(Evidence.message_id == reply.id)).one()
        assert added.request_id == request_id and added.original_filename == "more.webp"


def test_answer_without_new_evidence_is_accepted(app, seller, agent, seller_client):
    request_id = file_request(seller_client, add_review(app, seller))
    ask_for_information(app, request_id, agent)
    files_before = stored_files(app)

    assert answer(seller_client, request_id, "It was the other offer.").status_code == 303

    assert request_state(app, request_id)["status"] is RequestStatus.SUBMITTED
    assert row_counts(app)["evidence"] == 1
    assert stored_files(app) == files_before


@pytest.mark.parametrize("message", [None, "", "   "])
def test_answer_without_a_message_is_refused_and_changes_nothing(app, seller, agent, seller_client,
                                                                 message):
    request_id = file_request(seller_client, add_review(app, seller))
    ask_for_information(app, request_id, agent)
    before, counts, files = request_state(app, request_id), row_counts(app), stored_files(app)

    response = answer(seller_client, request_id, message, files=[(image_bytes(seed=5), "x.png")])

    assert response.status_code == 422
    assert "Write an answer to the question." in page_text(response)
    assert request_state(app, request_id) == before
    assert row_counts(app) == counts and stored_files(app) == files


@pytest.mark.parametrize("status", [RequestStatus.SUBMITTED, *CLOSED])
def test_answer_when_no_question_is_pending_is_refused_with_409_and_changes_nothing(
        app, seller, seller_client, status):
    request_id = file_request(seller_client, add_review(app, seller))
    set_request_status(app, request_id, status)
    before, counts, files = request_state(app, request_id), row_counts(app), stored_files(app)

    response = answer(seller_client, request_id, "Unasked answer",
                      files=[(image_bytes(seed=6), "unasked.png")])

    assert response.status_code == 409
    assert "nothing to answer" in page_text(response)
    assert request_state(app, request_id) == before
    assert row_counts(app) == counts and stored_files(app) == files


# --- withdrawing ---------------------------------------------------------------------------------

def test_withdraw_page_asks_for_confirmation_and_changes_nothing(app, seller, seller_client):
    request_id = file_request(seller_client, add_review(app, seller))
    before, counts = request_state(app, request_id), row_counts(app)

    response = seller_client.get(f"/seller/requests/{request_id}/withdraw")

    assert response.status_code == 200
    body = page_text(response)
    assert f"Withdraw request #{request_id}?" in body
    assert 'method="post"' in body and 'name="reason"' in body
    assert request_state(app, request_id) == before and row_counts(app) == counts


@pytest.mark.parametrize("status", OPEN)
def test_seller_withdraws_an_open_request(app, seller, agent, seller_client, status):
    request_id = file_request(seller_client, add_review(app, seller))
    if status is RequestStatus.NEEDS_INFO:
        ask_for_information(app, request_id, agent)

    response = seller_client.post_form(f"/seller/requests/{request_id}/withdraw",
                                       {"reason": "Settled with the buyer"})

    assert response.status_code == 303
    assert response.location == f"/seller/requests/{request_id}"
    assert request_state(app, request_id)["status"] is RequestStatus.WITHDRAWN
    with app.app_context():
        note = db.session.scalars(select(RequestMessage)
                                  .where(RequestMessage.kind == MessageKind.WITHDRAWN)).one()
        assert (note.request_id, note.author_id, note.body) == (request_id, seller.id,
                                                                "Settled with the buyer")


def test_withdrawal_reason_is_optional(app, seller, seller_client):
    request_id = file_request(seller_client, add_review(app, seller))

    assert seller_client.post_form(f"/seller/requests/{request_id}/withdraw").status_code == 303

    assert request_state(app, request_id)["status"] is RequestStatus.WITHDRAWN


@pytest.mark.parametrize("status", CLOSED)
def test_withdrawing_a_closed_request_changes_nothing(app, seller, seller_client, status):
    request_id = file_request(seller_client, add_review(app, seller))
    set_request_status(app, request_id, status)
    before, counts = request_state(app, request_id), row_counts(app)

    response = seller_client.post_form(f"/seller/requests/{request_id}/withdraw", {"reason": "again"})

    assert response.status_code in (303, 409)
    assert request_state(app, request_id) == before
    assert row_counts(app) == counts
    if response.status_code == 303:
        assert "already closed" in page_text(seller_client.get(response.location))


def test_after_withdrawal_a_new_request_for_the_same_review_is_allowed(app, seller, seller_client):
    review_id = add_review(app, seller)
    first = file_request(seller_client, review_id)
    seller_client.post_form(f"/seller/requests/{first}/withdraw")

    reviews_page = page_text(seller_client.get("/seller/reviews"))
    second = file_request(seller_client, review_id, reason="unrelated_feedback")

    assert f'href="/seller/reviews/{review_id}/deletion-request"' in reviews_page
    assert second != first
    assert request_state(app, first)["status"] is RequestStatus.WITHDRAWN
    assert request_state(app, second)["status"] is RequestStatus.SUBMITTED


@pytest.mark.parametrize("path, data", [
    ("/withdraw", {"reason": "no token"}),
    ("/evidence", {"message": "no token"}),
])
def test_answer_and_withdrawal_without_csrf_token_are_refused_with_400(app, seller, agent, seller_client,
                                                                       path, data):
    request_id = file_request(seller_client, add_review(app, seller))
    ask_for_information(app, request_id, agent)
    before, counts = request_state(app, request_id), row_counts(app)

    response = seller_client.post(f"/seller/requests/{request_id}{path}", data=data)

    assert response.status_code == 400
    assert request_state(app, request_id) == before and row_counts(app) == counts


def test_posted_status_or_owner_cannot_override_an_answer_or_a_withdrawal(app, seller, other_seller,
                                                                          agent, seller_client):
    request_id = file_request(seller_client, add_review(app, seller))
    ask_for_information(app, request_id, agent)
    tamper = {"status": "approved", "seller_id": str(other_seller.id)}

    answer(seller_client, request_id, "Answer", **tamper)
    after_answer = request_state(app, request_id)
    seller_client.post_form(f"/seller/requests/{request_id}/withdraw", tamper)

    assert after_answer["status"] is RequestStatus.SUBMITTED
    assert request_state(app, request_id)["status"] is RequestStatus.WITHDRAWN
    assert request_state(app, request_id)["seller_id"] == seller.id


# --- the audit trail -----------------------------------------------------------------------------

def test_each_step_writes_exactly_one_audit_event_with_the_request_id(app, seller, agent, seller_client):
    review_id = add_review(app, seller)

    request_id = file_request(seller_client, review_id,
                              files=[(image_bytes(seed=1), "a.png"), (image_bytes("JPEG", seed=2), "b.jpg")])
    after_submit = request_events(app)
    ask_for_information(app, request_id, agent)
    answer(seller_client, request_id, "See the extra chat.", files=[(image_bytes(seed=3), "c.png")])
    after_answer = request_events(app)
    seller_client.post_form(f"/seller/requests/{request_id}/withdraw", {"reason": "Done"})
    events = request_events(app)

    assert [event.action for event in after_submit] == ["request.submitted"]
    assert [event.action for event in after_answer] == ["request.submitted", "request.evidence_added"]
    assert [event.action for event in events] == ["request.submitted", "request.evidence_added",
                                                  "request.withdrawn"]
    assert {event.request_id for event in events} == {request_id}
    assert {event.actor_id for event in events} == {seller.id}
    evidence = evidence_rows(app)
    submitted, added, withdrawn = (json.loads(event.details) for event in events)
    assert submitted["reason"] == "wrong_offer"
    assert [item["sha256"] for item in submitted["evidence"]] == [item.sha256 for item in evidence[:2]]
    assert [item["id"] for item in added["evidence"]] == [evidence[2].id]
    assert (added["status_before"], added["status_after"]) == ("needs_info", "submitted")
    assert (withdrawn["status_before"], withdrawn["status_after"]) == ("submitted", "withdrawn")


def test_refused_steps_write_no_audit_event(app, seller, seller_client):
    review_id = add_review(app, seller)
    submit(seller_client, review_id, reason="other")
    request_id = file_request(seller_client, review_id)
    answer(seller_client, request_id, "Unasked")
    seller_client.post_form(f"/seller/requests/{request_id}/withdraw")
    seller_client.post_form(f"/seller/requests/{request_id}/withdraw")

    assert [event.action for event in request_events(app)] == ["request.submitted", "request.withdrawn"]
