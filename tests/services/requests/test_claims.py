"""claim, claim_next and release without HTTP: a claim is a lease that lapses, one live holder at a
time, a manager may take over, and each change appends its audit event to the caller's session; the
service commits nothing. The claim buttons and the queue's "take the next request" are tested
through HTTP in tests/views/staff/test_decisions.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models import AuditEvent, DeletionRequest, RequestStatus, Role, User
from moderation_app.services.requests.claims import (
    ClaimRefused,
    claim,
    claim_next,
    live_holder_id,
    release,
)
from tests.helpers.accounts import make_user
from tests.helpers.marketplace import add_review
from tests.helpers.requests import CLOSED, add_request, set_holder
from tests.helpers.stored import audit_details, audit_events, load

LEASE = timedelta(minutes=30)
FIRST_FILED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def filed(app, seller, count: int = 1) -> list[int]:
    """`count` submitted requests, an hour apart, the first filed first."""
    return [add_request(app, seller, add_review(app, seller), submitted_at=FIRST_FILED + timedelta(hours=n))
            for n in range(count)]


def session_events(action: str) -> list[AuditEvent]:
    """The events in the current session, flushed but maybe not committed."""
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


@pytest.fixture
def other_agent(app) -> User:
    return make_user(app, "other.agent@example.com", Role.AGENT)


# --- claim ---------------------------------------------------------------------------------------

def test_an_agent_claims_an_unheld_request_for_the_lease_given(app, seller, agent):
    (request_id,) = filed(app, seller)

    with app.app_context():
        deletion_request = db.session.get(DeletionRequest, request_id)
        before = utcnow()
        claim(db.session.get(User, agent.id), deletion_request, LEASE)
        after = utcnow()
        db.session.commit()

    claimed = load(app, DeletionRequest, request_id)
    assert claimed.assignee_id == agent.id
    assert before <= claimed.claimed_at <= after
    assert before + LEASE <= claimed.lease_expires_at <= after + LEASE
    (event,) = audit_events(app, "request.claimed")
    assert (event.actor_id, event.request_id) == (agent.id, request_id)
    assert json.loads(event.details) == {"lease_expires_at": claimed.lease_expires_at.isoformat()}


def test_claim_writes_its_event_in_the_callers_session_and_commits_nothing(app, seller, agent):
    (request_id,) = filed(app, seller)

    with app.app_context():
        claim(db.session.get(User, agent.id), db.session.get(DeletionRequest, request_id), LEASE)
        assert [event.request_id for event in session_events("request.claimed")] == [request_id]
        db.session.rollback()

    unchanged = load(app, DeletionRequest, request_id)
    assert (unchanged.assignee_id, unchanged.lease_expires_at, unchanged.claimed_at) == (None, None, None)
    assert audit_events(app, "request.claimed") == []


def test_agent_cannot_claim_a_request_another_agent_holds(app, seller, agent, other_agent):
    (request_id,) = filed(app, seller)
    set_holder(app, request_id, other_agent, lease_left=timedelta(minutes=20))

    with app.app_context():
        deletion_request = db.session.get(DeletionRequest, request_id)
        with pytest.raises(ClaimRefused, match=r"^other\.agent@example\.com holds this request until "
                                                 r"\d\d:\d\d UTC\.$"):
            claim(db.session.get(User, agent.id), deletion_request, LEASE)
        assert deletion_request.assignee_id == other_agent.id
        assert session_events("request.claimed") == []


def test_a_lapsed_claim_can_be_taken_by_another_agent_as_a_plain_claim(app, seller, agent, other_agent):
    (request_id,) = filed(app, seller)
    set_holder(app, request_id, other_agent, lease_left=-timedelta(minutes=1))

    with app.app_context():
        claim(db.session.get(User, agent.id), db.session.get(DeletionRequest, request_id), LEASE)
        db.session.commit()

    assert load(app, DeletionRequest, request_id).assignee_id == agent.id
    (details,) = audit_details(app, "request.claimed")
    assert "taken_over_from" not in details  # the lapsed holder had no rights left to take over


def test_a_manager_takes_over_a_live_claim_and_the_event_names_the_previous_holder(
        app, seller, agent, manager):
    (request_id,) = filed(app, seller)
    set_holder(app, request_id, agent, lease_left=timedelta(minutes=20))
    held_since = load(app, DeletionRequest, request_id).claimed_at

    with app.app_context():
        claim(db.session.get(User, manager.id), db.session.get(DeletionRequest, request_id), LEASE)
        db.session.commit()

    taken = load(app, DeletionRequest, request_id)
    assert taken.assignee_id == manager.id
    assert taken.claimed_at > held_since
    (event,) = audit_events(app, "request.claimed")
    assert event.actor_id == manager.id
    assert json.loads(event.details)["taken_over_from"] == "agent@example.com"


def test_the_holder_claiming_again_renews_the_lease_without_a_new_event(app, seller, agent):
    (request_id,) = filed(app, seller)
    with app.app_context():
        claim(db.session.get(User, agent.id), db.session.get(DeletionRequest, request_id), LEASE)
        db.session.commit()
    first = load(app, DeletionRequest, request_id)

    with app.app_context():
        claim(db.session.get(User, agent.id), db.session.get(DeletionRequest, request_id),
              timedelta(hours=2))
        db.session.commit()

    renewed = load(app, DeletionRequest, request_id)
    assert renewed.claimed_at == first.claimed_at
    assert renewed.lease_expires_at > first.lease_expires_at + timedelta(minutes=89)
    assert len(audit_events(app, "request.claimed")) == 1


@pytest.mark.parametrize("status", CLOSED)
def test_a_closed_request_cannot_be_claimed(app, seller, agent, status):
    (request_id,) = filed(app, seller)
    with app.app_context():
        db.session.get(DeletionRequest, request_id).status = status
        db.session.commit()

    with app.app_context():
        with pytest.raises(ClaimRefused, match="^This request is closed; there is nothing to claim.$"):
            claim(db.session.get(User, agent.id), db.session.get(DeletionRequest, request_id), LEASE)
        assert session_events("request.claimed") == []


def test_a_lease_ends_at_its_expiry_instant(app, seller, agent):
    (request_id,) = filed(app, seller)
    set_holder(app, request_id, agent, lease_left=timedelta(minutes=5))
    deletion_request = load(app, DeletionRequest, request_id)
    expiry = deletion_request.lease_expires_at

    assert live_holder_id(deletion_request, expiry - timedelta(microseconds=1)) == agent.id
    assert live_holder_id(deletion_request, expiry) is None


# --- claim_next ----------------------------------------------------------------------------------

def test_claim_next_takes_the_oldest_submitted_request_nobody_holds(app, seller, agent, other_agent):
    held, waiting_on_seller, oldest_free, newer_free = filed(app, seller, 4)
    set_holder(app, held, other_agent, lease_left=timedelta(minutes=20))
    with app.app_context():
        db.session.get(DeletionRequest, waiting_on_seller).status = RequestStatus.NEEDS_INFO
        db.session.commit()

    with app.app_context():
        taken = claim_next(db.session.get(User, agent.id), LEASE)
        assert taken.id == oldest_free
        db.session.commit()

    assert load(app, DeletionRequest, oldest_free).assignee_id == agent.id
    assert load(app, DeletionRequest, newer_free).assignee_id is None
    assert load(app, DeletionRequest, held).assignee_id == other_agent.id
    assert [event.request_id for event in audit_events(app, "request.claimed")] == [oldest_free]


def test_claim_next_takes_a_lapsed_claim_before_a_newer_free_request(app, seller, agent, other_agent):
    lapsed, newer = filed(app, seller, 2)
    set_holder(app, lapsed, other_agent, lease_left=-timedelta(seconds=1))

    with app.app_context():
        taken = claim_next(db.session.get(User, agent.id), LEASE)
        assert (taken.id, taken.assignee_id) == (lapsed, agent.id)
        db.session.commit()

    assert load(app, DeletionRequest, newer).assignee_id is None


def test_claim_next_returns_the_request_the_agent_holds_and_renews_its_lease(app, seller, agent):
    older, mine = filed(app, seller, 2)
    set_holder(app, mine, agent, lease_left=timedelta(minutes=2))

    with app.app_context():
        before = utcnow()
        taken = claim_next(db.session.get(User, agent.id), LEASE)
        assert taken.id == mine
        db.session.commit()

    assert load(app, DeletionRequest, mine).lease_expires_at >= before + LEASE
    assert load(app, DeletionRequest, older).assignee_id is None
    assert audit_events(app, "request.claimed") == []  # a renewal changes nobody's rights


def test_claim_next_on_an_empty_queue_returns_none_and_writes_nothing(app, seller, agent):
    (request_id,) = filed(app, seller)
    with app.app_context():
        db.session.get(DeletionRequest, request_id).status = RequestStatus.APPROVED
        db.session.commit()

    with app.app_context():
        assert claim_next(db.session.get(User, agent.id), LEASE) is None
        assert session_events("request.claimed") == []


# --- release -------------------------------------------------------------------------------------

def test_the_holder_releases_a_request(app, seller, agent):
    (request_id,) = filed(app, seller)
    set_holder(app, request_id, agent, lease_left=timedelta(minutes=20))

    with app.app_context():
        release(db.session.get(User, agent.id), db.session.get(DeletionRequest, request_id))
        db.session.commit()

    released = load(app, DeletionRequest, request_id)
    assert (released.assignee_id, released.lease_expires_at) == (None, None)
    (event,) = audit_events(app, "request.released")
    assert (event.actor_id, event.request_id, json.loads(event.details)) == (
        agent.id, request_id, {"holder_id": agent.id})


def test_an_agent_cannot_release_a_request_another_agent_holds(app, seller, agent, other_agent):
    (request_id,) = filed(app, seller)
    set_holder(app, request_id, other_agent, lease_left=timedelta(minutes=20))

    with app.app_context():
        deletion_request = db.session.get(DeletionRequest, request_id)
        with pytest.raises(ClaimRefused, match="^Only the holder or a manager can release this request.$"):
            release(db.session.get(User, agent.id), deletion_request)
        assert deletion_request.assignee_id == other_agent.id
        assert session_events("request.released") == []


def test_a_manager_releases_a_request_an_agent_holds(app, seller, agent, manager):
    (request_id,) = filed(app, seller)
    set_holder(app, request_id, agent, lease_left=timedelta(minutes=20))

    with app.app_context():
        release(db.session.get(User, manager.id), db.session.get(DeletionRequest, request_id))
        db.session.commit()

    assert load(app, DeletionRequest, request_id).assignee_id is None
    (event,) = audit_events(app, "request.released")
    assert (event.actor_id, json.loads(event.details)) == (manager.id, {"holder_id": agent.id})


@pytest.mark.parametrize("lease_left", [None, -timedelta(minutes=1)], ids=["never claimed", "lease lapsed"])
def test_releasing_a_request_nobody_holds_is_refused(app, seller, agent, lease_left):
    (request_id,) = filed(app, seller)
    if lease_left is not None:
        set_holder(app, request_id, agent, lease_left=lease_left)

    with app.app_context():
        with pytest.raises(ClaimRefused, match="^Nobody holds this request.$"):
            release(db.session.get(User, agent.id), db.session.get(DeletionRequest, request_id))


def test_release_commits_nothing(app, seller, agent):
    (request_id,) = filed(app, seller)
    set_holder(app, request_id, agent, lease_left=timedelta(minutes=20))

    with app.app_context():
        release(db.session.get(User, agent.id), db.session.get(DeletionRequest, request_id))
        assert len(session_events("request.released")) == 1
        db.session.rollback()

    assert load(app, DeletionRequest, request_id).assignee_id == agent.id
    assert audit_events(app, "request.released") == []
