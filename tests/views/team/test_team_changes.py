"""A manager's changes on /team through real forms: new accounts with a one-time link shown once,
resets, deactivation (live sessions and claims), reactivation and roles. Each change is audited;
each refusal answers clearly and writes nothing; every change wants a recent password."""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from moderation_app.models import DeletionRequest, Role, User
from moderation_app.sessions import PASSWORD_AT
from tests.helpers.accounts import make_user
from tests.helpers.clients import page_text, signed_in
from tests.helpers.marketplace import add_review
from tests.helpers.requests import add_request, set_holder
from tests.helpers.stored import audit_details, audit_events, load
from tests.helpers.team import event_count, shown_link, user_by_email


def create(client, email: str = "new.agent@example.com", role: str | None = "agent", **extra):
    data = {"email": email, **extra}
    if role is not None:
        data["role"] = role
    return client.post_form("/team", data)


@pytest.fixture
def other_manager(app) -> User:
    return make_user(app, "other.manager@example.com", Role.MANAGER)


# --- create ----------------------------------------------------------------------------------------

def test_creating_an_account_shows_its_link_once_and_records_the_creation(app, manager, manager_client):
    response = create(manager_client, "New.Agent@Example.com")

    created = user_by_email(app, "new.agent@example.com")
    assert response.status_code == 303
    assert response.location == f"/team/{created.id}"
    assert (created.role, created.password_hash, created.active) == (Role.AGENT, None, True)
    page = manager_client.get(response.location)
    link = shown_link(page)
    assert link and link.startswith("/set-password/")
    assert "It will not be shown again" in page_text(page)
    # A reload, or any other page, does not show it again.
    assert shown_link(manager_client.get(response.location)) is None
    assert shown_link(manager_client.get("/team")) is None
    (event,) = audit_events(app, "user.created")[-1:]
    assert event.actor_id == manager.id
    assert audit_details(app, "user.created")[-1] == {
        "user_id": created.id, "email": "new.agent@example.com", "role": "agent",
        "has_password": False}


@pytest.mark.parametrize("email, role, status, message", [
    ("not an address", "agent", 422, "Invalid email address"),
    ("", "agent", 422, "Enter the person&#39;s email address."),
    ("someone@example.com", "admin", 422, "Choose seller, agent or manager."),
    ("someone@example.com", None, 422, "Choose seller, agent or manager."),
    ("a\x00b@example.com", "agent", 422, "invisible null character"),
    ("AGENT@example.com", "seller", 409, "A user with email agent@example.com already exists."),
])
def test_a_refused_account_is_explained_and_creates_and_records_nothing(
        app, agent, manager_client, email, role, status, message):
    before = event_count(app)

    response = create(manager_client, email, role)

    assert response.status_code == status
    assert message in page_text(response)
    assert user_by_email(app, "someone@example.com") is None
    assert load(app, User, agent.id).role is Role.AGENT
    assert event_count(app) == before


def test_a_post_without_its_csrf_token_changes_nothing(app, agent, manager_client):
    before = event_count(app)

    responses = [manager_client.post("/team", data={"email": "x@example.com", "role": "agent"}),
                 manager_client.post(f"/team/{agent.id}/deactivate")]

    assert [response.status_code for response in responses] == [400, 400]
    assert user_by_email(app, "x@example.com") is None and load(app, User, agent.id).active
    assert event_count(app) == before


# --- recent password ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path, back", [("/team", "/team"),
                                        ("/team/{id}/deactivate", "/team/{id}"),
                                        ("/team/{id}/role", "/team/{id}"),
                                        ("/team/{id}/reset-password", "/team/{id}")])
def test_team_changes_ask_for_the_password_when_it_was_entered_long_ago(
        app, agent, manager_client, path, back):
    with manager_client.session_transaction() as session:
        session[PASSWORD_AT] = int(time.time()) - 3600  # entered an hour ago
    before = event_count(app)

    response = manager_client.post_form(path.format(id=agent.id),
                                         {"email": "x@example.com", "role": "seller"})

    assert response.status_code == 303
    location = urlsplit(response.location)
    assert location.path == "/reauthenticate"
    assert parse_qs(location.query)["next"] == [back.format(id=agent.id)]
    stored = load(app, User, agent.id)
    assert (stored.role, stored.active, stored.session_token) == (Role.AGENT, True, agent.session_token)
    assert user_by_email(app, "x@example.com") is None
    assert event_count(app) == before


# --- reset -----------------------------------------------------------------------------------------

def test_a_reset_shows_a_new_link_once_and_ends_the_users_live_session(app, agent, agent_client,
                                                                       manager, manager_client):
    assert agent_client.get("/queue").status_code == 200

    response = manager_client.post_form(f"/team/{agent.id}/reset-password")

    assert response.status_code == 303 and response.location == f"/team/{agent.id}"
    link = shown_link(manager_client.get(response.location))
    assert link and link.startswith("/set-password/")
    assert shown_link(manager_client.get(response.location)) is None
    refused = agent_client.get("/queue")
    assert refused.status_code == 302 and refused.location.startswith("/login")
    (details,) = audit_details(app, "user.password_reset_link")
    assert set(details) == {"user_id", "email", "expires_at"}
    assert details["user_id"] == agent.id
    token = link.rsplit("/", 1)[1]
    assert all(token not in event.details for event in audit_events(app))


def test_a_reset_of_a_deactivated_account_is_refused(app, agent, manager_client):
    manager_client.post_form(f"/team/{agent.id}/deactivate")
    before = event_count(app)

    response = manager_client.post_form(f"/team/{agent.id}/reset-password")

    assert response.status_code == 409
    assert "reactivate the account first" in page_text(response)
    assert event_count(app) == before


# --- deactivate and reactivate ---------------------------------------------------------------------

def test_a_deactivated_agents_live_session_is_refused_on_its_next_request(
        app, agent, agent_client, manager, manager_client):
    assert agent_client.get("/queue").status_code == 200

    response = manager_client.post_form(f"/team/{agent.id}/deactivate")

    assert response.status_code == 303
    assert "is deactivated" in page_text(manager_client.get(response.location))
    refused = agent_client.get("/queue")
    assert refused.status_code == 302 and refused.location.startswith("/login")
    assert agent_client.post_form("/queue/next").status_code == 401
    (event,) = audit_events(app, "user.deactivated")
    assert event.actor_id == manager.id
    assert app.test_client().sign_in(agent.email).status_code == 200  # refused: the form again


def test_a_deactivated_agents_claims_are_released_at_once_each_with_its_event(
        app, seller, agent, manager, manager_client):
    held = [add_request(app, seller, add_review(app, seller)) for _ in range(2)]
    for request_id in held:
        set_holder(app, request_id, agent, lease_left=timedelta(minutes=20))
    assert "<dd>2</dd>" in page_text(manager_client.get(f"/team/{agent.id}"))

    manager_client.post_form(f"/team/{agent.id}/deactivate")

    for request_id in held:
        assert load(app, DeletionRequest, request_id).assignee_id is None
        (event,) = audit_events(app, "request.released", request_id=request_id)
        assert event.actor_id == manager.id
        assert audit_details(app, "request.released", request_id=request_id) == \
            [{"holder_id": agent.id, "why": "holder deactivated"}]


def test_a_manager_cannot_deactivate_themself(app, manager, manager_client, other_manager):
    before = event_count(app)

    response = manager_client.post_form(f"/team/{manager.id}/deactivate")

    assert response.status_code == 409
    assert "You cannot deactivate your own account" in page_text(response)
    assert load(app, User, manager.id).active
    assert manager_client.get("/team").status_code == 200  # still signed in
    assert event_count(app) == before


def test_deactivating_twice_says_so_and_records_once(app, agent, manager_client):
    manager_client.post_form(f"/team/{agent.id}/deactivate")

    response = manager_client.post_form(f"/team/{agent.id}/deactivate", follow_redirects=True)

    assert "was already deactivated; nothing changed" in page_text(response)
    assert len(audit_events(app, "user.deactivated")) == 1


def test_reactivating_lets_the_account_sign_in_again_once(app, agent, manager, manager_client):
    manager_client.post_form(f"/team/{agent.id}/deactivate")

    first = manager_client.post_form(f"/team/{agent.id}/reactivate", follow_redirects=True)
    second = manager_client.post_form(f"/team/{agent.id}/reactivate", follow_redirects=True)

    assert "is active again" in page_text(first)
    assert "was already active; nothing changed" in page_text(second)
    (event,) = audit_events(app, "user.reactivated")
    assert event.actor_id == manager.id
    assert app.test_client().sign_in(agent.email).status_code == 302


# --- roles -----------------------------------------------------------------------------------------

def test_a_role_change_is_recorded_with_from_and_to_and_applies_on_the_next_request(
        app, agent, agent_client, manager_client):
    response = manager_client.post_form(f"/team/{agent.id}/role", {"role": "seller"})

    assert response.status_code == 303
    assert load(app, User, agent.id).role is Role.SELLER
    assert audit_details(app, "user.role_changed") == [
        {"user_id": agent.id, "email": agent.email, "from": "agent", "to": "seller"}]
    assert agent_client.get("/queue").status_code == 403


def test_an_agent_made_seller_releases_their_claims(app, seller, agent, manager_client):
    request_id = add_request(app, seller, add_review(app, seller))
    set_holder(app, request_id, agent, lease_left=timedelta(minutes=20))

    manager_client.post_form(f"/team/{agent.id}/role", {"role": "seller"})

    assert load(app, DeletionRequest, request_id).assignee_id is None
    assert audit_details(app, "request.released") == [
        {"holder_id": agent.id, "why": "holder's role changed to seller"}]


@pytest.mark.parametrize("role", ["agent", "seller"])
def test_a_manager_cannot_demote_themself(app, manager, manager_client, other_manager, role):
    before = event_count(app)

    response = manager_client.post_form(f"/team/{manager.id}/role", {"role": role})

    assert response.status_code == 409
    assert "You cannot change the role of your own account" in page_text(response)
    assert load(app, User, manager.id).role is Role.MANAGER
    assert event_count(app) == before


@pytest.mark.parametrize("role", ["admin", "", "Manager", "manager\x00"])
def test_a_role_the_desk_does_not_have_is_refused(app, agent, manager_client, role):
    before = event_count(app)

    response = manager_client.post_form(f"/team/{agent.id}/role", {"role": role})

    assert response.status_code == 422
    assert "Choose seller, agent or manager." in page_text(response)
    assert load(app, User, agent.id).role is Role.AGENT
    assert event_count(app) == before


def test_the_last_active_manager_is_never_left_without_a_successor(
        app, manager, manager_client, other_manager):
    """Through the desk a manager never acts on themself, so the rule bites when two managers
    act on each other: the one deactivated first can no longer remove the other."""
    other_client = signed_in(app, other_manager)
    manager_client.post_form(f"/team/{other_manager.id}/deactivate")

    response = other_client.post_form(f"/team/{manager.id}/deactivate")

    assert response.status_code == 401  # their session ended with the deactivation
    assert load(app, User, manager.id).active
    assert len(audit_events(app, "user.deactivated")) == 1
