"""Appeals on the staff side through HTTP (issue 13): the appealed tab, the first decider refused
on claim and decision (409, also when racing), the appeal's decision (final, audited with
"appeal": true, e-mailed), a question on an appeal keeping it one, and the migration."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models import (
    AuditEvent,
    DeletionRequest,
    Notification,
    NotificationKind,
    RequestStatus,
    Role,
)
from moderation_app.models.requests import DecisionRecord
from moderation_app.services.marketplace.ratings import seller_rating
from moderation_app.services.requests.appeals import appeal_refusal
from tests.helpers.accounts import make_user
from tests.helpers.appeals import APPEAL, REJECTION_NOTE, appealed_request, decide
from tests.helpers.clients import page_text, signed_in
from tests.helpers.database import TEST_DATABASE_URL
from tests.helpers.marketplace import add_review
from tests.helpers.requests import answer, file_request
from tests.helpers.stored import audit_details, load
from tests.views.staff.test_decisions import run_together, signed_in_agents

FIRST_DECIDER = "You took the decision under appeal"


def text_of(response) -> str:
    return html.unescape(page_text(response))


def state(app, request_id: int) -> DeletionRequest:
    return load(app, DeletionRequest, request_id)


def records(app, request_id: int) -> list[tuple[str, bool]]:
    with app.app_context():
        return [(row.decision.value, row.on_appeal) for row in db.session.scalars(
            select(DecisionRecord).where(DecisionRecord.request_id == request_id)
            .order_by(DecisionRecord.id))]


@pytest.fixture
def colleague_client(app):
    return signed_in(app, make_user(app, "colleague@example.com", Role.AGENT))


# --- the queue ---------------------------------------------------------------------------------

def test_the_appealed_tab_lists_appeals_oldest_appeal_first_with_its_count(
        app, seller, seller_client, agent_client):
    first = appealed_request(app, seller, seller_client, agent_client)
    second = appealed_request(app, seller, seller_client, agent_client)
    # The later-filed request was appealed first: the tab orders by the appeal, not the filing.
    with app.app_context():
        db.session.get(DeletionRequest, second).appealed_at = datetime.now(UTC) - timedelta(hours=2)
        db.session.commit()

    body = text_of(agent_client.get("/queue?status=appealed"))

    assert re.search(r'data-status="appealed"[^>]*>Appealed <span class="tab-count">2</span>', body)
    listed = [int(found) for found in re.findall(r'data-request-id="(\d+)"', body)]
    assert listed == [second, first]
    assert body.count('class="queue-appeal">Appeal<') == 2
    assert f'data-request-id="{first}"' not in text_of(agent_client.get("/queue"))


# --- the first decider -------------------------------------------------------------------------

def test_the_first_decider_cannot_claim_the_appeal_409(app, seller, seller_client, agent_client):
    request_id = appealed_request(app, seller, seller_client, agent_client)
    version = state(app, request_id).version

    response = agent_client.post_form(f"/requests/{request_id}/claim")

    assert response.status_code == 409
    assert FIRST_DECIDER in text_of(response)
    row = state(app, request_id)
    assert row.assignee_id is None and row.version == version
    # Only the claim that led to the first decision.
    assert len(audit_details(app, "request.claimed", request_id=request_id)) == 1


def test_the_first_decider_cannot_decide_the_appeal_409_on_either_endpoint(
        app, seller, seller_client, agent_client, colleague_client):
    request_id = appealed_request(app, seller, seller_client, agent_client)
    colleague_client.post_form(f"/requests/{request_id}/claim")

    for url in (f"/requests/{request_id}", f"/requests/{request_id}/decision"):
        response = agent_client.post_form(url, {"decision": "reject", "note": "Still no."})
        assert response.status_code == 409
        assert FIRST_DECIDER in text_of(response)
    assert state(app, request_id).status is RequestStatus.APPEALED
    assert records(app, request_id) == [("reject", False)]


def test_a_manager_who_rejected_cannot_take_over_the_appeal(app, seller, seller_client, manager_client,
                                                            colleague_client):
    request_id = appealed_request(app, seller, seller_client, manager_client)
    colleague_client.post_form(f"/requests/{request_id}/claim")

    response = manager_client.post_form(f"/requests/{request_id}/claim")

    assert response.status_code == 409
    row = state(app, request_id)
    assert row.assignee_id is not None and row.assignee_id != row.first_decided_by_id


def test_the_first_decider_sees_the_appeal_without_a_claim_button(app, seller, seller_client,
                                                                  agent_client):
    request_id = appealed_request(app, seller, seller_client, agent_client)

    body = text_of(agent_client.get(f"/requests/{request_id}"))

    assert FIRST_DECIDER in body
    assert f'action="/requests/{request_id}/claim"' not in body
    # Not told to claim what they may not claim.
    assert "Claim the request to decide it" not in body
    assert "another agent or a manager decides the appeal" in body


def test_another_agent_sees_the_appeal_message_and_the_first_decision(
        app, seller, seller_client, agent_client, colleague_client):
    request_id = appealed_request(app, seller, seller_client, agent_client)

    body = text_of(colleague_client.get(f"/requests/{request_id}"))

    assert 'class="queue-appeal">Appeal<' in body
    assert APPEAL in body and REJECTION_NOTE in body
    assert "by agent@example.com" in body and "chat-with-buyer.png" in body
    assert f'action="/requests/{request_id}/claim"' in body


# --- the appeal's decision -----------------------------------------------------------------------

def test_approval_on_appeal_hides_the_review_changes_the_rating_and_is_final(
        app, seller, seller_client, agent_client, colleague_client):
    request_id = appealed_request(app, seller, seller_client, agent_client)
    with app.app_context():
        before = seller_rating(seller.id)

    response = decide(colleague_client, request_id, "approve", "On a second look the chat proves it.")

    assert response.status_code == 303
    row = state(app, request_id)
    assert row.status is RequestStatus.APPROVED
    with app.app_context():
        assert db.session.get(DeletionRequest, request_id).review.is_visible is False
        assert seller_rating(seller.id).review_count == before.review_count - 1
    decided = audit_details(app, "request.decided", request_id=request_id)
    assert "appeal" not in decided[0] and decided[1]["appeal"] is True
    assert [event.action for event in _events(app, request_id)][-3:] == [
        "request.appealed", "request.claimed", "request.decided"]
    assert records(app, request_id) == [("reject", False), ("approve", True)]
    with app.app_context():
        kinds = [row.kind for row in db.session.scalars(select(Notification).where(
            Notification.request_id == request_id).order_by(Notification.id))]
    assert kinds == [NotificationKind.REQUEST_DECIDED, NotificationKind.APPEAL_DECIDED]
    seller_page = text_of(seller_client.get(f"/seller/requests/{request_id}"))
    assert "The decision on your appeal and its reasons" in seller_page and "(on appeal, final)" in seller_page
    assert "Appeal decided. Approved" in seller_page and "Appeal the rejection" not in seller_page


def test_rejection_on_appeal_is_final(app, seller, seller_client, agent_client, colleague_client):
    request_id = appealed_request(app, seller, seller_client, agent_client)

    decide(colleague_client, request_id, "reject", "We looked again; the chat names this offer.")

    assert state(app, request_id).status is RequestStatus.REJECTED
    seller_page = text_of(seller_client.get(f"/seller/requests/{request_id}"))
    assert "Nothing more on the desk: a decision on an appeal is final." in seller_page
    assert "Appeal the rejection" not in seller_page


def test_a_question_on_an_appeal_keeps_it_an_appeal(app, seller, seller_client, agent_client,
                                                    colleague_client):
    request_id = appealed_request(app, seller, seller_client, agent_client)

    decide(colleague_client, request_id, "request_info", "Which screenshot shows the offer name?")
    assert state(app, request_id).status is RequestStatus.NEEDS_INFO
    assert records(app, request_id)[-1] == ("request_info", True)
    assert answer(seller_client, request_id, "The second one, top left.").status_code == 303

    row = state(app, request_id)
    assert row.status is RequestStatus.APPEALED and row.on_appeal
    (answered,) = audit_details(app, "request.evidence_added", request_id=request_id)
    assert answered["status_after"] == "appealed"
    assert agent_client.post_form(f"/requests/{request_id}/claim").status_code == 409
    decide(colleague_client, request_id, "approve", "The second screenshot settles it.")
    assert records(app, request_id)[-1] == ("approve", True)
    assert audit_details(app, "request.decided", request_id=request_id)[-1]["appeal"] is True


def _events(app, request_id):
    with app.app_context():
        events = list(db.session.scalars(select(AuditEvent).where(
            AuditEvent.request_id == request_id).order_by(AuditEvent.id)))
        db.session.expunge_all()
        return events


# --- the next request (`n`) ---------------------------------------------------------------------

def test_next_takes_a_waiting_appeal_before_an_older_submitted_request(
        app, seller, seller_client, agent_client, colleague_client):
    older = file_request(seller_client, add_review(app, seller))
    request_id = appealed_request(app, seller, seller_client, agent_client)

    response = colleague_client.post_form("/queue/next")

    assert response.headers["Location"].endswith(f"/requests/{request_id}")
    assert state(app, request_id).assignee_id is not None
    assert state(app, older).assignee_id is None


def test_next_skips_an_appeal_of_the_agents_own_decision(app, seller, seller_client, agent,
                                                         agent_client):
    request_id = appealed_request(app, seller, seller_client, agent_client)
    submitted = file_request(seller_client, add_review(app, seller))

    taken = agent_client.post_form("/queue/next")
    assert taken.headers["Location"].endswith(f"/requests/{submitted}")
    decided = agent_client.post_form(f"/requests/{submitted}",
                                     {"decision": "approve", "note": "The chat names another offer."})
    assert decided.status_code == 303
    response = agent_client.post_form("/queue/next", follow_redirects=True)

    assert response.request.path == "/queue"
    assert ("Nothing for you to take right now: 1 appeal of your own decision waits for another "
            "agent.") in text_of(response)
    assert state(app, request_id).assignee_id is None
    assert len(audit_details(app, "request.claimed", request_id=request_id)) == 1


# --- racing ------------------------------------------------------------------------------------

@pytest.mark.postgres_only
@pytest.mark.skipif(not TEST_DATABASE_URL, reason="real row locks need PostgreSQL")
def test_agents_racing_to_claim_an_appeal_leave_one_holder_never_the_first_decider(
        app, seller, seller_client, agent, agent_client):
    request_id = appealed_request(app, seller, seller_client, agent_client)
    clients = [agent_client, *signed_in_agents(app, 4)]
    token = {id(client): client.csrf_token() for client in clients}
    statuses: dict[int, int] = {}

    def press(client):
        response = client.post(f"/requests/{request_id}/claim",
                               data={"csrf_token": token[id(client)]})
        statuses[id(client)] = response.status_code

    errors = run_together([lambda c=c: press(c) for c in clients * 2])

    assert errors == []
    assert statuses[id(agent_client)] == 409
    row = state(app, request_id)
    assert row.assignee_id is not None and row.assignee_id != agent.id
    claims = audit_details(app, "request.claimed", request_id=request_id)
    assert len(claims) == 2  # the first decision's claim, and one on the appeal


# --- the dashboard -----------------------------------------------------------------------------

def test_the_dashboard_counts_appeals_and_overturns_per_first_decider(
        app, seller, seller_client, agent_client, colleague_client, manager_client):
    overturned = appealed_request(app, seller, seller_client, agent_client)
    upheld = appealed_request(app, seller, seller_client, agent_client)
    appealed_request(app, seller, seller_client, agent_client)  # still pending
    decide(colleague_client, overturned, "approve", "The chat proves it.")
    decide(colleague_client, upheld, "reject", "Still not shown.")

    figures = manager_client.get("/dashboard.json").get_json()["appeals"]
    own = text_of(agent_client.get("/dashboard"))
    table = manager_client.get("/dashboard/appeals.csv").get_data(as_text=True).splitlines()

    assert {key: figures[key] for key in ("appealed", "overturned", "upheld", "pending")} == {
        "appealed": 3, "overturned": 1, "upheld": 1, "pending": 1}
    assert figures["overturn_rate"] == 0.5
    assert [(agent["email"], agent["appealed"], agent["overturned"]) for agent in figures["agents"]] \
        == [("agent@example.com", 3, 1)]
    assert "Appeals of your decisions" in own and "50%" in own
    assert table[1] == "all,3,1,1,1,0,0.5"


def test_the_demo_data_has_a_rejection_to_appeal_and_an_appeal_waiting(app, runner):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0

    with app.app_context():
        requests = list(db.session.scalars(select(DeletionRequest)))
        appealable = [row for row in requests if row.status is RequestStatus.REJECTED
                      and appeal_refusal(row) is None]
        appealed = [row for row in requests if row.status is RequestStatus.APPEALED]
        assert appealable and appealed
        assert all(row.first_decided_by_id == row.decided_by_id is not None for row in appealed)
