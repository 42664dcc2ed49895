"""Agents claim, release, note and decide requests; managers take over; races end in one decision."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from moderation_app.extensions import db
from moderation_app.models import AuditEvent, DeletionRequest, RequestStatus, Review, Role
from moderation_app.services.marketplace.ratings import seller_rating
from tests.helpers.accounts import make_user
from tests.helpers.clients import page_text, signed_in
from tests.helpers.database import TEST_DATABASE_URL
from tests.helpers.marketplace import add_review
from tests.helpers.requests import add_request
from tests.helpers.stored import audit_events, load

DETAIL = re.compile(r"/requests/(\d+)$")


def make_requests(app, seller, count: int, *, start: datetime | None = None) -> list[int]:
    start = start or datetime(2026, 11, 1, tzinfo=UTC)
    return [add_request(app, seller, add_review(app, seller), submitted_at=start + timedelta(hours=n))
            for n in range(count)]


def state(app, request_id: int) -> DeletionRequest:
    return load(app, DeletionRequest, request_id)


def events(app, action: str, request_id: int | None = None) -> list[dict]:
    """The details of `action`'s events, with the actor's email."""
    return [{"actor": event.actor_email, **json.loads(event.details)}
            for event in audit_events(app, action, request_id=request_id)]


def claim(client, request_id: int):
    return client.post_form(f"/requests/{request_id}/claim")


def decide(client, request_id: int, decision: str = "approve", note: str = "Fits the policy.",
           follow_redirects: bool = False, **extra):
    return client.post_form(f"/requests/{request_id}/decision",
                            {"decision": decision, "note": note, **extra},
                            follow_redirects=follow_redirects)


def review_visible(app, request_id: int) -> bool:
    with app.app_context():
        return db.session.get(DeletionRequest, request_id).review.is_visible


# --- claiming ------------------------------------------------------------------------------------

def test_take_next_claims_the_oldest_open_request_and_opens_it(app, agent, agent_client, seller):
    older, newer = make_requests(app, seller, 2)

    response = agent_client.post_form("/queue/next")

    assert response.status_code == 303
    assert response.location.endswith(f"/requests/{older}")
    assert state(app, older).assignee_id == agent.id
    assert state(app, newer).assignee_id is None
    assert [event["actor"] for event in events(app, "request.claimed", older)] == [agent.email]


def test_take_next_returns_the_request_the_agent_already_holds(app, agent_client, seller):
    first, second = make_requests(app, seller, 2)
    claim(agent_client, second)

    response = agent_client.post_form("/queue/next")

    assert response.location.endswith(f"/requests/{second}")
    assert state(app, first).assignee_id is None


def test_take_next_skips_live_claims_and_takes_lapsed_ones(app, agent_client, seller):
    held, lapsed, free = make_requests(app, seller, 3)
    other = make_user(app, "other.agent@example.com", Role.AGENT)
    now = datetime.now(UTC)
    with app.app_context():
        db.session.execute(update(DeletionRequest).where(DeletionRequest.id == held).values(
            assignee_id=other.id, lease_expires_at=now + timedelta(minutes=20)))
        db.session.execute(update(DeletionRequest).where(DeletionRequest.id == lapsed).values(
            assignee_id=other.id, lease_expires_at=now - timedelta(minutes=1)))
        db.session.commit()

    response = agent_client.post_form("/queue/next")

    assert response.location.endswith(f"/requests/{lapsed}")
    assert state(app, held).assignee_id == other.id


def test_take_next_on_an_empty_queue_says_so(agent_client):
    response = agent_client.post_form("/queue/next", follow_redirects=True)

    assert response.request.path == "/queue"
    assert "The queue is empty" in page_text(response)


def test_an_agent_cannot_claim_a_request_another_agent_holds(app, agent, agent_client, seller):
    (request_id,) = make_requests(app, seller, 1)
    other = make_user(app, "other.agent@example.com", Role.AGENT)
    other_client = signed_in(app, other)
    claim(other_client, request_id)

    response = claim(agent_client, request_id)

    assert "holds this request" in page_text(agent_client.get(response.location))
    assert state(app, request_id).assignee_id == other.id


def test_a_manager_can_take_over_and_the_takeover_is_audited(app, agent, agent_client, manager,
                                                           manager_client, seller):
    (request_id,) = make_requests(app, seller, 1)
    claim(agent_client, request_id)

    claim(manager_client, request_id)

    assert state(app, request_id).assignee_id == manager.id
    assert events(app, "request.claimed", request_id)[-1]["taken_over_from"] == agent.email
    # The agent no longer holds it, so the agent's decision is refused.
    decide(agent_client, request_id)
    assert state(app, request_id).status is RequestStatus.SUBMITTED


def test_the_holder_releases_and_another_agent_cannot(app, agent, agent_client, seller):
    (request_id,) = make_requests(app, seller, 1)
    claim(agent_client, request_id)
    other = make_user(app, "other.agent@example.com", Role.AGENT)
    other_client = signed_in(app, other)

    refused = other_client.post_form(f"/requests/{request_id}/release", follow_redirects=True)
    assert "Only the holder or a manager" in page_text(refused)
    assert state(app, request_id).assignee_id == agent.id

    agent_client.post_form(f"/requests/{request_id}/release")
    assert state(app, request_id).assignee_id is None
    assert len(events(app, "request.released", request_id)) == 1


def test_an_internal_note_renews_the_holders_lease_and_stays_hidden_from_the_seller(
        app, agent_client, seller, seller_client):
    (request_id,) = make_requests(app, seller, 1)
    claim(agent_client, request_id)
    with app.app_context():
        db.session.execute(update(DeletionRequest).where(DeletionRequest.id == request_id).values(
            lease_expires_at=datetime.now(UTC) + timedelta(minutes=2)))
        db.session.commit()

    agent_client.post_form(f"/requests/{request_id}/notes", {"note": "Buyer looks like a rival."})

    assert state(app, request_id).lease_expires_at > datetime.now(UTC) + timedelta(minutes=25)
    assert "Buyer looks like a rival." in page_text(agent_client.get(f"/requests/{request_id}"))
    assert "Buyer looks like a rival." not in page_text(seller_client.get(f"/seller/requests/{request_id}"))
    assert len(events(app, "request.note_added", request_id)) == 1


# --- deciding ------------------------------------------------------------------------------------

def test_approval_hides_the_review_and_shows_the_rating_before_and_after(app, agent_client, seller):
    (request_id,) = make_requests(app, seller, 1)
    add_review(app, seller)  # a second review, so the rating survives the approval
    with app.app_context():
        before = seller_rating(seller.id)
    claim(agent_client, request_id)

    response = decide(agent_client, request_id, "approve", "Clear blackmail in the chat.")

    assert response.status_code == 303
    assert state(app, request_id).status is RequestStatus.APPROVED
    assert review_visible(app, request_id) is False
    with app.app_context():
        after = seller_rating(seller.id)
    assert after.review_count == before.review_count - 1
    page = page_text(agent_client.get(response.location))
    assert f"{before.overall} → {after.overall}" in page
    (event,) = events(app, "request.decided", request_id)
    assert event["decision"] == "approve" and event["note"] == "Clear blackmail in the chat."
    assert (event["status_before"], event["status_after"]) == ("submitted", "approved")
    assert event["rating_before"]["review_count"] == before.review_count
    assert event["rating_after"]["review_count"] == after.review_count


def test_rejection_keeps_the_review_and_tells_the_seller_why(app, agent_client, seller, seller_client):
    (request_id,) = make_requests(app, seller, 1)
    claim(agent_client, request_id)

    decide(agent_client, request_id, "reject", "The chat shows no demand for a discount.",
           internal_note="Seller has 3 rejected requests this month.")

    assert state(app, request_id).status is RequestStatus.REJECTED
    assert review_visible(app, request_id) is True
    seller_page = page_text(seller_client.get(f"/seller/requests/{request_id}"))
    assert "The chat shows no demand for a discount." in seller_page
    assert "3 rejected requests" not in seller_page


def test_asking_for_information_sends_the_question_and_the_answer_returns_it_to_the_queue(
        app, agent_client, seller, seller_client):
    (request_id,) = make_requests(app, seller, 1)
    submitted_at = state(app, request_id).submitted_at
    claim(agent_client, request_id)

    decide(agent_client, request_id, "request_info", "Please show the chat with the demand.")

    assert state(app, request_id).status is RequestStatus.NEEDS_INFO
    assert state(app, request_id).assignee_id is None
    assert "Please show the chat with the demand." in page_text(
        seller_client.get(f"/seller/requests/{request_id}"))
    seller_client.post_form(f"/seller/requests/{request_id}/evidence",
                            {"message": "It was by phone, sorry."}, content_type="multipart/form-data")
    assert state(app, request_id).status is RequestStatus.SUBMITTED
    assert state(app, request_id).submitted_at == submitted_at


@pytest.mark.parametrize("final", ["approve", "reject"])
def test_a_decided_request_cannot_be_decided_again(app, agent_client, seller, final):
    (request_id,) = make_requests(app, seller, 1)
    claim(agent_client, request_id)
    decide(agent_client, request_id, final)

    reclaim = agent_client.post_form(f"/requests/{request_id}/claim", follow_redirects=True)
    response = decide(agent_client, request_id, "reject" if final == "approve" else "approve",
                      follow_redirects=True)

    assert "closed; there is nothing to claim" in page_text(reclaim)
    assert "cannot be decided again" in page_text(response)
    assert len(events(app, "request.decided", request_id)) == 1
    assert review_visible(app, request_id) is (final == "reject")


def test_only_the_holder_can_decide(app, agent_client, seller):
    (request_id,) = make_requests(app, seller, 1)

    response = decide(agent_client, request_id, follow_redirects=True)

    assert "Claim the request before deciding it" in page_text(response)
    assert state(app, request_id).status is RequestStatus.SUBMITTED
    assert events(app, "request.decided") == []


@pytest.mark.parametrize("form", [
    {"decision": "approve", "note": ""},
    {"decision": "approve", "note": "   "},
    {"decision": "delete_everything", "note": "Sure."},
    {"note": "No decision given."},
    {"decision": "approve", "note": "x" * 5001},
])
def test_an_invalid_decision_form_is_refused_and_changes_nothing(app, agent_client, seller, form):
    (request_id,) = make_requests(app, seller, 1)
    claim(agent_client, request_id)

    response = agent_client.post_form(f"/requests/{request_id}/decision", form)

    assert response.status_code == 422
    assert state(app, request_id).status is RequestStatus.SUBMITTED
    assert review_visible(app, request_id) is True
    assert events(app, "request.decided") == []


def test_decide_and_next_opens_the_next_request(app, agent, agent_client, seller):
    first, second = make_requests(app, seller, 2)
    claim(agent_client, first)

    response = decide(agent_client, first, "reject", submit_and_next="Record and take the next")

    assert response.location.endswith(f"/requests/{second}")
    assert state(app, second).assignee_id == agent.id


def test_a_failed_audit_write_leaves_the_request_and_review_as_they_were(
        app, agent_client, seller, monkeypatch):
    (request_id,) = make_requests(app, seller, 1)
    claim(agent_client, request_id)

    def broken_record_event(*args, **kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr("moderation_app.services.requests.decisions.record_event", broken_record_event)
    response = decide(agent_client, request_id, "approve")

    assert response.status_code == 500
    assert state(app, request_id).status is RequestStatus.SUBMITTED
    assert review_visible(app, request_id) is True
    assert events(app, "request.decided") == []


# --- races ---------------------------------------------------------------------------------------

def run_together(workers) -> list[BaseException]:
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def wrapped(work):
        try:
            barrier.wait()
            work()
        except BaseException as error:  # noqa: BLE001 - reported to the test below
            errors.append(error)

    threads = [threading.Thread(target=wrapped, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def signed_in_agents(app, count: int):
    return [signed_in(app, make_user(app, f"agent{number}@example.com", Role.AGENT))
            for number in range(count)]


def test_double_submitted_decisions_record_exactly_one(app, agent_client, seller):
    (request_id,) = make_requests(app, seller, 1)
    claim(agent_client, request_id)
    token = agent_client.csrf_token()
    statuses = []

    def press(decision):
        response = agent_client.post(f"/requests/{request_id}/decision", data={
            "decision": decision, "note": "Same moment.", "csrf_token": token})
        statuses.append(response.status_code)

    errors = run_together([lambda d=d: press(d) for d in ("approve", "reject") * 3])

    assert errors == []
    assert statuses == [303] * 6
    assert len(events(app, "request.decided", request_id)) == 1
    final = state(app, request_id).status
    assert final in (RequestStatus.APPROVED, RequestStatus.REJECTED)
    assert review_visible(app, request_id) is (final is RequestStatus.REJECTED)


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="row locks and SKIP LOCKED need PostgreSQL")
def test_many_agents_working_one_queue_decide_every_request_exactly_once(app, seller):
    request_ids = make_requests(app, seller, 24)
    clients = signed_in_agents(app, 6)

    def work(client):
        for _ in range(30):
            opened = client.post_form("/queue/next")
            match = DETAIL.search(opened.location or "")
            if match is None:
                return
            client.post_form(f"/requests/{match.group(1)}/decision",
                             {"decision": "reject", "note": "Not enough evidence."})

    errors = run_together([lambda c=c: work(c) for c in clients])

    assert errors == []
    with app.app_context():
        statuses = db.session.scalars(select(DeletionRequest.status).where(
            DeletionRequest.id.in_(request_ids))).all()
        decided_per_request = dict(db.session.execute(
            select(AuditEvent.request_id, func.count()).where(AuditEvent.action == "request.decided")
            .group_by(AuditEvent.request_id)).all())
        visible = db.session.scalar(select(func.count()).select_from(Review).where(Review.is_visible))
    assert statuses == [RequestStatus.REJECTED] * len(request_ids)
    assert decided_per_request == {request_id: 1 for request_id in request_ids}
    assert visible == len(request_ids)
