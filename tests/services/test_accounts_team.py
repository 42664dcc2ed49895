"""The team rules in services/accounts.py without HTTP: deactivating (sessions, links, claims),
reactivating, role changes, the self and last-manager refusals, the listing; each change with its
audit event, each refusal and each no-op with none. The pages are tested in tests/views/team/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models import AuditEvent, DeletionRequest, RequestStatus, Role, User
from moderation_app.services.accounts import (
    TeamChangeRefused,
    change_role,
    create_user,
    deactivate,
    invite,
    reactivate,
    reset_password,
    team_query,
)
from moderation_app.services.errors import DomainError
from tests.helpers.accounts import make_user
from tests.helpers.marketplace import add_review
from tests.helpers.requests import add_request, set_holder
from tests.helpers.stored import audit_details, audit_events, load

LEASE_LEFT = timedelta(minutes=20)


def event_count(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(AuditEvent.id)).all())


def apply(app, change, user: User, actor: User | None, *args):
    """`change(user, *args, actor)` in one committed transaction; rolled back if refused."""
    with app.app_context():
        target = db.session.get(User, user.id)
        acting = db.session.get(User, actor.id) if actor else None
        try:
            result = change(target, *args, acting)
            db.session.commit()
            return result
        except DomainError:
            db.session.rollback()
            raise


def held_requests(app, seller, holder: User, count: int = 2, *, lease_left=LEASE_LEFT) -> list[int]:
    ids = [add_request(app, seller, add_review(app, seller)) for _ in range(count)]
    for request_id in ids:
        set_holder(app, request_id, holder, lease_left=lease_left)
    return ids


@pytest.fixture
def other_manager(app) -> User:
    return make_user(app, "other.manager@example.com", Role.MANAGER)


# --- deactivate ----------------------------------------------------------------------------------

def test_deactivating_an_agent_releases_every_request_they_hold_each_with_its_event(
        app, seller, agent, manager):
    held = held_requests(app, seller, agent)
    lapsed = held_requests(app, seller, agent, 1, lease_left=-LEASE_LEFT)

    assert apply(app, deactivate, agent, manager) is True

    for request_id in held:
        released = load(app, DeletionRequest, request_id)
        assert (released.assignee_id, released.lease_expires_at) == (None, None)
        assert audit_details(app, "request.released", request_id=request_id) == \
            [{"holder_id": agent.id, "why": "holder deactivated"}]
        (event,) = audit_events(app, "request.released", request_id=request_id)
        assert event.actor_id == manager.id
    # A lapsed lease is already nobody's claim: nothing to release, nothing recorded.
    assert audit_events(app, "request.released", request_id=lapsed[0]) == []
    assert audit_details(app, "user.deactivated") == [{"user_id": agent.id, "email": agent.email}]


def test_deactivating_leaves_closed_requests_and_other_agents_claims_alone(app, seller, agent, manager):
    other = make_user(app, "other.agent@example.com", Role.AGENT)
    (theirs,) = held_requests(app, seller, other, 1)
    (closed,) = held_requests(app, seller, agent, 1)
    with app.app_context():
        db.session.get(DeletionRequest, closed).status = RequestStatus.APPROVED
        db.session.commit()

    apply(app, deactivate, agent, manager)

    assert load(app, DeletionRequest, theirs).assignee_id == other.id
    assert audit_events(app, "request.released") == []


def test_deactivating_ends_the_sessions_and_refuses_the_account(app, agent, manager):
    apply(app, deactivate, agent, manager)

    stored = load(app, User, agent.id)
    assert stored.active is False and stored.is_active is False
    assert stored.session_token != agent.session_token


def test_deactivating_an_inactive_account_changes_and_records_nothing(app, agent, manager):
    apply(app, deactivate, agent, manager)
    before = event_count(app)

    assert apply(app, deactivate, agent, manager) is False

    assert event_count(app) == before


def test_a_manager_cannot_deactivate_themself(app, manager, other_manager):
    before = event_count(app)

    with pytest.raises(TeamChangeRefused, match="your own account"):
        apply(app, deactivate, manager, manager)

    assert load(app, User, manager.id).active is True
    assert event_count(app) == before


def test_the_last_active_manager_cannot_be_deactivated(app, manager, other_manager):
    # A manager deactivated a moment ago whose request was already under way: the race the rule is
    # for (two managers deactivating each other at once). Only `manager` is still active.
    apply(app, deactivate, other_manager, manager)
    before = event_count(app)

    with pytest.raises(TeamChangeRefused, match="last active manager"):
        apply(app, deactivate, manager, other_manager)

    assert load(app, User, manager.id).active is True
    assert event_count(app) == before


def test_the_last_active_manager_cannot_be_deactivated_from_the_shell_either(app, manager):
    with pytest.raises(TeamChangeRefused, match="last active manager"):
        apply(app, deactivate, manager, None)

    assert load(app, User, manager.id).active is True


# --- reactivate ----------------------------------------------------------------------------------

def test_reactivating_lets_the_account_sign_in_again_and_is_recorded(app, agent, manager):
    apply(app, deactivate, agent, manager)

    assert apply(app, reactivate, agent, manager) is True

    assert load(app, User, agent.id).is_active is True
    assert audit_details(app, "user.reactivated") == [{"user_id": agent.id, "email": agent.email}]


def test_reactivating_an_active_account_changes_and_records_nothing(app, agent, manager):
    before = event_count(app)

    assert apply(app, reactivate, agent, manager) is False

    assert event_count(app) == before


# --- roles ---------------------------------------------------------------------------------------

def test_a_role_change_is_recorded_with_from_and_to(app, agent, manager):
    assert apply(app, change_role, agent, manager, Role.MANAGER) is True

    assert load(app, User, agent.id).role is Role.MANAGER
    (event,) = audit_events(app, "user.role_changed")
    assert event.actor_id == manager.id
    assert audit_details(app, "user.role_changed") == [
        {"user_id": agent.id, "email": agent.email, "from": "agent", "to": "manager"}]


def test_the_same_role_again_changes_and_records_nothing(app, agent, manager):
    before = event_count(app)

    assert apply(app, change_role, agent, manager, Role.AGENT) is False

    assert event_count(app) == before


def test_an_agent_made_seller_hands_back_the_requests_they_hold(app, seller, agent, manager):
    held = held_requests(app, seller, agent)

    apply(app, change_role, agent, manager, Role.SELLER)

    assert [load(app, DeletionRequest, request_id).assignee_id for request_id in held] == [None, None]
    assert [details["why"] for details in audit_details(app, "request.released")] == \
        ["holder's role changed to seller"] * 2


def test_a_manager_made_agent_keeps_the_requests_they_hold(app, seller, manager, other_manager):
    (held,) = held_requests(app, seller, other_manager, 1)

    apply(app, change_role, other_manager, manager, Role.AGENT)

    assert load(app, DeletionRequest, held).assignee_id == other_manager.id
    assert audit_events(app, "request.released") == []


@pytest.mark.parametrize("role", [Role.AGENT, Role.SELLER])
def test_a_manager_cannot_demote_themself(app, manager, other_manager, role):
    before = event_count(app)

    with pytest.raises(TeamChangeRefused, match="your own account"):
        apply(app, change_role, manager, manager, role)

    assert load(app, User, manager.id).role is Role.MANAGER
    assert event_count(app) == before


def test_the_last_active_manager_cannot_be_demoted(app, manager, other_manager):
    apply(app, deactivate, other_manager, manager)
    before = event_count(app)

    with pytest.raises(TeamChangeRefused, match="last active manager"):
        apply(app, change_role, manager, other_manager, Role.AGENT)

    assert load(app, User, manager.id).role is Role.MANAGER
    assert event_count(app) == before


def test_an_inactive_manager_may_be_demoted_while_another_is_active(app, manager, other_manager):
    apply(app, deactivate, other_manager, manager)

    assert apply(app, change_role, other_manager, manager, Role.SELLER) is True


# --- accounts with a link ------------------------------------------------------------------------

def test_inviting_creates_an_account_without_a_password_and_records_it(app, manager):
    now = datetime.now(UTC)
    with app.app_context():
        link = invite("New.Agent@Example.com", Role.AGENT, db.session.get(User, manager.id), now)
        db.session.commit()

    assert link.email == "new.agent@example.com"
    assert link.expires_at == now + timedelta(hours=24)
    created = load(app, User, link.user_id)
    assert (created.role, created.password_hash, created.active) == (Role.AGENT, None, True)
    assert audit_details(app, "user.created")[-1:] == [{"user_id": link.user_id,
                                                   "email": "new.agent@example.com",
                                                   "role": "agent", "has_password": False}]


@pytest.mark.parametrize("email, message", [("agent@example.com", "already exists"),
                                            ("AGENT@example.com ", "already exists"),
                                            ("not an address", "Invalid email address"),
                                            ("", "Invalid email address")])
def test_an_address_taken_or_not_valid_creates_nothing(app, agent, manager, email, message):
    before = event_count(app)

    with app.app_context(), pytest.raises(DomainError, match=message):
        invite(email, Role.SELLER, db.session.get(User, manager.id), datetime.now(UTC))

    assert event_count(app) == before


def test_a_reset_ends_the_sessions_and_records_the_expiry_but_never_the_token(app, agent, manager):
    now = datetime.now(UTC)
    with app.app_context():
        link = reset_password(db.session.get(User, agent.id), db.session.get(User, manager.id), now)
        db.session.commit()

    assert load(app, User, agent.id).session_token != agent.session_token
    assert audit_details(app, "user.password_reset_link") == [
        {"user_id": agent.id, "email": agent.email, "expires_at": link.expires_at.isoformat()}]
    assert all(link.token not in event.details for event in audit_events(app))


def test_a_manager_cannot_reset_their_own_password_from_the_team_page(app, manager):
    with pytest.raises(TeamChangeRefused):
        apply(app, lambda user, actor: reset_password(user, actor, datetime.now(UTC)), manager, manager)

    assert audit_events(app, "user.password_reset_link") == []


# --- the list ------------------------------------------------------------------------------------

def listed(app, **filters) -> list[str]:
    with app.app_context():
        return [user.email for user in db.session.scalars(team_query(**filters))]


def test_the_list_shows_managers_then_agents_then_sellers_each_by_email(app):
    for email, role in [("zed@example.com", Role.SELLER), ("amy@example.com", Role.SELLER),
                        ("bob@example.com", Role.AGENT), ("max@example.com", Role.MANAGER),
                        ("ann@example.com", Role.AGENT)]:
        with app.app_context():
            create_user(email, role)
            db.session.commit()

    assert listed(app) == ["max@example.com", "ann@example.com", "bob@example.com",
                           "amy@example.com", "zed@example.com"]
    assert listed(app, role=Role.AGENT) == ["ann@example.com", "bob@example.com"]
    assert listed(app, email_contains="AN") == ["ann@example.com"]


def test_the_list_filters_by_status_and_treats_like_wildcards_as_text(app, agent, manager):
    apply(app, deactivate, agent, manager)

    assert listed(app, active=False) == [agent.email]
    assert listed(app, active=True) == [manager.email]
    assert listed(app, email_contains="%") == []
    assert listed(app, email_contains="_") == []


# --- the shell -----------------------------------------------------------------------------------

def test_deactivating_from_the_shell_also_releases_the_agents_requests(app, runner, seller, agent):
    held = held_requests(app, seller, agent)

    result = runner.invoke(args=["users", "deactivate", agent.email])

    assert result.exit_code == 0, result.output
    assert [load(app, DeletionRequest, request_id).assignee_id for request_id in held] == [None, None]
    released = audit_events(app, "request.released")
    assert [(event.request_id, event.actor_email) for event in released] == \
        [(request_id, "system") for request_id in held]
