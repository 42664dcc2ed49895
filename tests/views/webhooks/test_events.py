"""Decisions through the real forms write the marketplace's events in their own transaction:
which decision emits which events, the bodies (Standard Webhooks shape, the marketplace's review
id, the buyer's statement of reasons on a removal, never an internal note), and none for a
refused decision."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models import Review, WebhookEventType, WebhookStatus
from moderation_app.models.requests import DecisionRecord, DeletionRequest
from moderation_app.models.users import Role
from tests.helpers.appeals import appealed_request
from tests.helpers.appeals import decide as decide_on_page
from tests.helpers.accounts import make_user
from tests.helpers.clients import signed_in
from tests.helpers.notifications import INTERNAL_NOTE, PUBLIC_NOTE, decided, filed
from tests.helpers.webhooks import webhook_events


def external_review_id(app, request_id: int) -> str:
    with app.app_context():
        request = db.session.get(DeletionRequest, request_id)
        return db.session.get(Review, request.review_id).external_id


def test_an_approval_emits_request_decided_then_review_removed_with_the_buyers_statement(
        app, seller, seller_client, agent_client):
    request_id = filed(app, seller_client, seller)

    assert decided(agent_client, request_id, "approve").status_code in (302, 303)

    decided_event, removed = webhook_events(app)
    assert [decided_event.type, removed.type] == [WebhookEventType.REQUEST_DECIDED,
                                                  WebhookEventType.REVIEW_REMOVED]
    assert decided_event.id < removed.id and decided_event.webhook_id != removed.webhook_id
    assert {decided_event.status, removed.status} == {WebhookStatus.PENDING}
    with app.app_context():
        record = db.session.scalars(select(DecisionRecord)).one()
    body = json.loads(removed.payload)
    assert set(body) == {"type", "timestamp", "data"} and body["type"] == "review.removed"
    data = body["data"]
    assert data["review_id"] == external_review_id(app, request_id)
    assert data["request_id"] == request_id and data["decision_id"] == record.id
    statement = data["statement"]
    assert statement["reason"] == "blackmail" and statement["reason_label"].startswith("Blackmail")
    assert statement["public_note"] == PUBLIC_NOTE
    assert statement["decided_at"] == body["timestamp"] == data["removed_at"]
    assert body["timestamp"].endswith("Z")
    assert "complaint" in statement["how_to_contest"] and statement["contest_until"] > body["timestamp"]
    decision = json.loads(decided_event.payload)["data"]
    assert (decision["decision"], decision["final"], decision["seller_may_appeal_until"]) == ("approve", True, None)
    for event in (decided_event, removed):
        assert INTERNAL_NOTE not in event.payload


def test_a_rejection_emits_request_decided_then_review_kept_open_to_appeal(
        app, seller, seller_client, agent_client):
    request_id = filed(app, seller_client, seller)

    decided(agent_client, request_id, "reject")

    decided_event, kept = webhook_events(app)
    assert [decided_event.type, kept.type] == [WebhookEventType.REQUEST_DECIDED,
                                               WebhookEventType.REVIEW_KEPT]
    data = json.loads(kept.payload)["data"]
    assert data["review_id"] == external_review_id(app, request_id)
    assert data["final"] is False and data["on_appeal"] is False
    with app.app_context():
        decided_at = db.session.scalars(select(DecisionRecord)).one().decided_at
    assert data["seller_may_appeal_until"].startswith((decided_at + timedelta(days=14)).strftime("%Y-%m-%dT%H:%M"))
    assert json.loads(decided_event.payload)["data"]["decision"] == "reject"


def test_a_question_emits_request_needs_info_only(app, seller, seller_client, agent_client):
    request_id = filed(app, seller_client, seller)

    decided(agent_client, request_id, "request_info", note="Please show the whole chat.")

    (event,) = webhook_events(app)
    assert event.type is WebhookEventType.REQUEST_NEEDS_INFO
    body = json.loads(event.payload)
    assert body["type"] == "request.needs_info"
    assert body["data"]["request_id"] == request_id
    assert body["data"]["review_id"] == external_review_id(app, request_id)


def test_an_appeal_decision_emits_final_events_after_the_first_ones(app, seller, seller_client,
                                                                    agent_client):
    request_id = appealed_request(app, seller, seller_client, agent_client)
    colleague = signed_in(app, make_user(app, "colleague@example.com", Role.AGENT))

    assert decide_on_page(colleague, request_id, "approve", note="On appeal: it fits.").status_code == 303

    events = webhook_events(app)
    assert [event.type.value for event in events] == [
        "request.decided", "review.kept", "request.decided", "review.removed"]
    assert len({event.review_id for event in events}) == 1
    final = json.loads(events[-1].payload)["data"]
    assert final["on_appeal"] is True and final["statement"]["on_appeal"] is True
    assert final["statement"]["public_note"] == "On appeal: it fits."


def test_a_refused_decision_emits_nothing(app, seller, seller_client, agent_client):
    request_id = filed(app, seller_client, seller)
    # Not claimed: refused, and the transaction rolls back whole.
    response = agent_client.post_form(f"/requests/{request_id}", {"decision": "approve", "note": "Yes."})

    assert response.status_code == 409
    assert webhook_events(app) == []
