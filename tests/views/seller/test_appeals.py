"""A seller's appeal through HTTP (issue 13): the statement of reasons on the request page, the
appeal form and every refusal (nothing changed, the right status code), and what an appeal
leaves: status, audit event, evidence through the request's own upload pipeline."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import func, select

from moderation_app.extensions import db
from moderation_app.models import (
    DeletionRequest,
    Evidence,
    MessageKind,
    RequestMessage,
    RequestStatus,
    Review,
)
from tests.helpers.appeals import (
    APPEAL,
    REJECTION_NOTE,
    appeal,
    appealed_request,
    decide,
    decided_days_ago,
    rejected_request,
)
from tests.helpers.clients import page_text
from tests.helpers.images import image_bytes
from tests.helpers.marketplace import add_review
from tests.helpers.requests import add_request, file_request
from tests.helpers.stored import audit_details, load, row_counts, stored_files


def text_of(response) -> str:
    return html.unescape(page_text(response))


def state(app, request_id):
    return load(app, DeletionRequest, request_id)


def unchanged(app, request_id):
    """What a refused appeal must leave as it was."""
    row = state(app, request_id)
    return (row.status, row.appealed_at, row.version, row_counts(app), stored_files(app))


# --- the statement of reasons ------------------------------------------------------------------

def test_a_rejection_shows_the_seller_a_structured_statement_and_the_appeal_form(
        app, seller, seller_client, agent_client):
    request_id = rejected_request(app, seller, seller_client, agent_client)

    response = seller_client.get(f"/seller/requests/{request_id}")
    text = text_of(response)

    assert response.status_code == 200
    statement = text[text.index("The decision and its reasons"):text.index("Appeal the rejection")]
    for part in ("Rejected: the review stays", "The review was meant for another offer",
                 "the seller's evidence proves it", "chat-with-buyer.png", REJECTION_NOTE,
                 "You can appeal once, free of charge, until"):
        assert part in statement, part
    assert f'action="/seller/requests/{request_id}/appeal"' in response.get_data(as_text=True)
    assert "data-uploads" in response.get_data(as_text=True)


def test_an_approval_shows_its_statement_without_an_appeal(app, seller, seller_client, agent_client):
    request_id = file_request(seller_client, add_review(app, seller))
    decide(agent_client, request_id, "approve", "The chat proves it was about another offer.")

    text = text_of(seller_client.get(f"/seller/requests/{request_id}"))

    assert "Approved: the review is hidden" in text
    assert "the review is hidden from your page and no longer counts in your rating" in text
    assert "Appeal the rejection" not in text


def test_after_fourteen_days_the_statement_says_the_appeal_time_has_passed(
        app, seller, seller_client, agent_client):
    request_id = rejected_request(app, seller, seller_client, agent_client)
    decided_days_ago(app, request_id, 14.01)

    text = text_of(seller_client.get(f"/seller/requests/{request_id}"))

    assert "The 14 days to appeal this decision have passed" in text
    assert "Appeal the rejection" not in text


# --- appealing ---------------------------------------------------------------------------------

def test_an_appeal_puts_the_request_back_in_the_queue_as_appealed_with_its_audit_event(
        app, seller, seller_client, agent, agent_client):
    request_id = rejected_request(app, seller, seller_client, agent_client)

    response = appeal(seller_client, request_id, files=[(image_bytes("PNG", seed=5), "second-chat.png")])

    assert response.status_code == 303
    assert response.location == f"/seller/requests/{request_id}"
    row = state(app, request_id)
    assert row.status is RequestStatus.APPEALED
    assert row.appealed_at is not None and row.waiting_since == row.appealed_at
    assert row.first_decided_by_id == agent.id
    (event,) = audit_details(app, "request.appealed", request_id=request_id)
    assert event["status_before"] == "rejected" and event["status_after"] == "appealed"
    assert event["first_decided_by_id"] == agent.id and len(event["evidence"]) == 1
    with app.app_context():
        message = db.session.scalars(select(RequestMessage).where(
            RequestMessage.kind == MessageKind.APPEAL)).one()
        assert message.body == APPEAL
        evidence = db.session.scalars(select(Evidence).where(Evidence.message_id == message.id)).one()
        assert evidence.original_filename == "second-chat.png"
    text = text_of(seller_client.get(f"/seller/requests/{request_id}"))
    assert "The decision you appealed" in text and "You appealed on" in text
    assert "You appealed the rejection" in text and "Appeal the rejection" not in text


def test_an_appeal_through_the_script_is_answered_with_204_and_where_to_go(
        app, seller, seller_client, agent_client):
    request_id = rejected_request(app, seller, seller_client, agent_client)

    response = appeal(seller_client, request_id, headers={"X-Requested-With": "XMLHttpRequest"})

    assert response.status_code == 204
    assert response.headers["Location"] == f"/seller/requests/{request_id}"


@pytest.mark.parametrize("length", [20, 5000])
def test_an_appeal_message_at_the_bounds_is_accepted(app, seller, seller_client, agent_client, length):
    request_id = rejected_request(app, seller, seller_client, agent_client)

    assert appeal(seller_client, request_id, "x" * length).status_code == 303
    assert state(app, request_id).status is RequestStatus.APPEALED


# --- refusals: nothing changed -----------------------------------------------------------------

@pytest.mark.parametrize("message, error", [
    (None, "Explain why the decision should change."),
    ("Too short, really.", "Write between 20 and 5000 characters."),
    ("   padded to twenty but only this   ", None),
    ("x" * 5001, "Write between 20 and 5000 characters."),
])
def test_an_appeal_message_out_of_bounds_is_refused_with_422(app, seller, seller_client, agent_client,
                                                             message, error):
    request_id = rejected_request(app, seller, seller_client, agent_client)
    if error is None:  # stripped: padding does not count
        message, error = "  " + "x" * 19 + "    ", "Write between 20 and 5000 characters."
    before = unchanged(app, request_id)

    response = appeal(seller_client, request_id, message)

    assert response.status_code == 422
    assert error in text_of(response)
    assert unchanged(app, request_id) == before


def test_bad_evidence_on_an_appeal_is_refused_with_422_and_nothing_stored(
        app, seller, seller_client, agent_client):
    request_id = rejected_request(app, seller, seller_client, agent_client)
    before = unchanged(app, request_id)

    response = appeal(seller_client, request_id, files=[(b"%PDF-1.7 not an image", "chat.png")])

    assert response.status_code == 422
    assert "chat.png" in text_of(response)
    assert unchanged(app, request_id) == before


def test_a_second_appeal_is_refused_with_409(app, seller, seller_client, agent_client):
    request_id = appealed_request(app, seller, seller_client, agent_client)
    before = unchanged(app, request_id)

    response = appeal(seller_client, request_id)

    assert response.status_code == 409
    assert "already been appealed" in text_of(response)
    assert unchanged(app, request_id) == before


def test_an_appeal_decided_cannot_be_appealed_again(app, seller, seller_client, agent_client,
                                                    manager_client):
    request_id = appealed_request(app, seller, seller_client, agent_client)
    decide(manager_client, request_id, "reject", "We looked again: the chat names this offer.")
    before = unchanged(app, request_id)

    response = appeal(seller_client, request_id)

    assert response.status_code == 409
    assert "already been appealed" in text_of(response)
    assert unchanged(app, request_id) == before


@pytest.mark.parametrize("status, words", [
    (RequestStatus.APPROVED, "nothing to appeal"),
    (RequestStatus.WITHDRAWN, "You withdrew this request"),
    (RequestStatus.SUBMITTED, "still open"),
    (RequestStatus.NEEDS_INFO, "still open"),
])
def test_only_a_rejected_request_can_be_appealed(app, seller, seller_client, status, words):
    request_id = add_request(app, seller, add_review(app, seller), status=status)
    before = unchanged(app, request_id)

    response = appeal(seller_client, request_id)

    assert response.status_code == 409
    assert words in text_of(response)
    assert unchanged(app, request_id) == before


def test_an_appeal_after_fourteen_days_is_refused(app, seller, seller_client, agent_client):
    request_id = rejected_request(app, seller, seller_client, agent_client)
    decided_days_ago(app, request_id, 14.01)
    before = unchanged(app, request_id)

    response = appeal(seller_client, request_id)

    assert response.status_code == 409
    assert "14 days to appeal this decision have passed" in text_of(response)
    assert unchanged(app, request_id) == before


def test_an_appeal_just_inside_fourteen_days_is_accepted(app, seller, seller_client, agent_client):
    request_id = rejected_request(app, seller, seller_client, agent_client)
    decided_days_ago(app, request_id, 13.99)

    assert appeal(seller_client, request_id).status_code == 303


def test_another_sellers_request_cannot_be_appealed_404(app, seller, seller_client, agent_client,
                                                        other_seller_client):
    request_id = rejected_request(app, seller, seller_client, agent_client)
    before = unchanged(app, request_id)

    response = appeal(other_seller_client, request_id)

    assert response.status_code == 404
    assert unchanged(app, request_id) == before


def test_staff_cannot_post_an_appeal(app, seller, seller_client, agent_client):
    request_id = rejected_request(app, seller, seller_client, agent_client)

    assert appeal(agent_client, request_id).status_code == 403
    assert state(app, request_id).status is RequestStatus.REJECTED


def test_an_appeal_without_csrf_token_is_refused(app, seller, seller_client, agent_client):
    request_id = rejected_request(app, seller, seller_client, agent_client)

    response = seller_client.post(f"/seller/requests/{request_id}/appeal", data={"message": APPEAL})

    assert response.status_code in (400, 422)
    assert state(app, request_id).status is RequestStatus.REJECTED


def test_a_rejected_request_with_a_newer_request_on_its_review_cannot_be_appealed(
        app, seller, seller_client, agent_client):
    request_id = rejected_request(app, seller, seller_client, agent_client)
    review_id = state(app, request_id).review_id
    with app.app_context():
        external_id = db.session.get(Review, review_id).external_id
    newer = file_request(seller_client, external_id)
    before = unchanged(app, request_id)

    response = appeal(seller_client, request_id)

    assert response.status_code == 409
    assert f"request #{newer}" in text_of(response)
    assert unchanged(app, request_id) == before


def test_an_appealed_request_counts_as_open_for_the_seller(app, seller, seller_client, agent_client):
    request_id = appealed_request(app, seller, seller_client, agent_client)

    open_list = text_of(seller_client.get("/seller/requests?status=open"))
    with app.app_context():
        open_count = db.session.scalar(select(func.count()).select_from(DeletionRequest).where(
            DeletionRequest.status.in_([RequestStatus.APPEALED])))

    assert f"#{request_id}" in open_list and open_count == 1
