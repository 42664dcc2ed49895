"""Signing in and out: where people land, what a failure says, open redirects, session hygiene,
CSRF, throttling of failed logins and the audit trail they leave."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from sqlalchemy import select, update
from werkzeug.security import generate_password_hash

from moderation_app import create_app
from moderation_app.extensions import db
from moderation_app.models.users import PASSWORD_HASH_METHOD, Role, User
from moderation_app.services.accounts import create_user
from tests.helpers.accounts import PASSWORD, make_user
from tests.helpers.clients import CSRF_INPUT, FormClient
from tests.helpers.database import base_test_config
from tests.helpers.stored import audit_events

WRONG_PASSWORD = "wrong horse battery staple"
FAILURE_MESSAGE = "Email or password is not correct."
SESSION_COOKIE = "moderation_session"


def is_signed_in(client: FormClient) -> bool:
    """The index sends a signed-in user to their home page and anyone else to /login."""
    response = client.get("/")
    return response.status_code == 302 and not response.location.startswith("/login")


def client_from(app: Flask, address: str) -> FormClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


# --- signing in --------------------------------------------------------------------------------

@pytest.mark.parametrize(("role", "home"), [
    (Role.SELLER, "/seller/reviews"),
    (Role.AGENT, "/queue"),
    (Role.MANAGER, "/dashboard"),
])
def test_successful_login_redirects_each_role_to_its_home(app, client, role, home):
    user = make_user(app, f"{role}@example.com", role)

    response = client.sign_in(user.email)

    assert response.status_code == 302
    assert response.location == home
    assert client.get(home).status_code == 200


def test_login_accepts_the_email_in_any_capitalisation(app, client, seller):
    response = client.sign_in("  Seller@Example.COM ")

    assert response.status_code == 302
    assert response.location == "/seller/reviews"


def test_wrong_password_and_unknown_email_get_the_same_answer(app, client, seller):
    wrong_password = client.sign_in(seller.email, WRONG_PASSWORD)
    unknown_email = client.sign_in("nobody@example.com", PASSWORD)

    def normalized(response) -> str:
        body = response.get_data(as_text=True)
        for email in (seller.email, "nobody@example.com"):
            body = body.replace(email, "EMAIL")
        return CSRF_INPUT.sub("", body)

    assert wrong_password.status_code == unknown_email.status_code == 200
    assert FAILURE_MESSAGE in wrong_password.get_data(as_text=True)
    assert normalized(wrong_password) == normalized(unknown_email)
    assert not is_signed_in(client)


def test_user_without_a_password_cannot_sign_in(app, client):
    invited = make_user(app, "invited@example.com", Role.SELLER, password=None)

    response = client.sign_in(invited.email, PASSWORD)

    assert response.status_code == 200
    assert FAILURE_MESSAGE in response.get_data(as_text=True)
    assert not is_signed_in(client)


def test_inactive_user_cannot_sign_in_with_the_right_password(app, client, seller):
    with app.app_context():
        db.session.execute(update(User).where(User.id == seller.id).values(active=False))
        db.session.commit()

    response = client.sign_in(seller.email)

    assert response.status_code == 200
    assert FAILURE_MESSAGE in response.get_data(as_text=True)
    assert not is_signed_in(client)


def test_passwords_are_stored_as_scrypt_hashes(app, seller):
    with app.app_context():
        stored = db.session.scalar(select(User.password_hash).where(User.id == seller.id))

    assert stored.startswith("scrypt:65536:8:1$")
    assert PASSWORD not in stored


@pytest.mark.parametrize("target", [
    "//evil.example",
    "//evil.example/seller/reviews",
    "https://evil.example",
    "https://evil.example/seller/reviews",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
    "seller/reviews",
    "/\t/evil.example",
    "/seller/reviews\r\nSet-Cookie: planted=1",
])
def test_login_ignores_a_next_that_is_not_a_local_path(app, client, seller, target):
    response = client.post_form("/login", {"email": seller.email, "password": PASSWORD},
                                query_string={"next": target})

    assert response.status_code == 302
    assert response.location == "/seller/reviews"


def test_login_follows_a_next_that_is_a_local_path(app, client, seller):
    response = client.post_form("/login", {"email": seller.email, "password": PASSWORD},
                                query_string={"next": "/seller/reviews?page=2"})

    assert response.status_code == 302
    assert response.location == "/seller/reviews?page=2"


def test_protected_page_sends_a_visitor_to_login_and_back(app, client, seller):
    to_login = client.get("/seller/reviews?page=2")
    assert to_login.status_code == 302

    response = client.post_form(to_login.location, {"email": seller.email, "password": PASSWORD})

    assert response.location == "/seller/reviews?page=2"


def test_login_starts_a_fresh_session(app, client, seller):
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
        planted_csrf = session.get("csrf_token")

    assert client.sign_in(seller.email).status_code == 302

    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("csrf_token") != planted_csrf
        assert "_user_id" in session


# --- signing out -------------------------------------------------------------------------------

def test_logout_by_get_is_not_allowed_and_changes_nothing(seller_client):
    response = seller_client.get("/logout")

    assert response.status_code == 405
    assert seller_client.get("/seller/reviews").status_code == 200


def test_logout_signs_out_and_returns_to_login(seller_client):
    assert is_signed_in(seller_client)

    response = seller_client.post_form("/logout")

    assert response.status_code == 302
    assert response.location == "/login"
    assert "You have signed out." in seller_client.get("/login").get_data(as_text=True)
    assert not is_signed_in(seller_client)


def test_copied_session_cookie_stops_working_after_logout(app, seller_client):
    stolen = seller_client.get_cookie(SESSION_COOKIE).value
    before = app.test_client()
    before.set_cookie(SESSION_COOKIE, stolen)
    assert before.get("/seller/reviews").status_code == 200, "the copied cookie should work until logout"

    assert seller_client.post_form("/logout").status_code == 302

    after = app.test_client()
    after.set_cookie(SESSION_COOKIE, stolen)
    response = after.get("/seller/reviews")
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")


# --- CSRF --------------------------------------------------------------------------------------

def test_login_without_csrf_token_is_refused_and_does_not_sign_in(app, client, seller):
    response = client.post("/login", data={"email": seller.email, "password": PASSWORD})

    assert response.status_code == 400
    assert not is_signed_in(client)
    assert audit_events(app, "auth.login") == []


def test_logout_without_csrf_token_does_not_sign_out(app, seller_client):
    response = seller_client.post("/logout")

    assert response.status_code == 400
    assert seller_client.get("/seller/reviews").status_code == 200
    assert audit_events(app, "auth.logout") == []


# --- throttling --------------------------------------------------------------------------------

def test_after_ten_failures_an_account_is_refused_even_with_the_right_password(app, client, seller):
    for attempt in range(10):
        # Capitalisation does not make a new account to guess against.
        email = seller.email.upper() if attempt % 2 else seller.email
        assert client.sign_in(email, WRONG_PASSWORD).status_code == 200

    response = client.sign_in(seller.email, PASSWORD)

    assert response.status_code == 429
    assert response.mimetype == "text/html"
    assert "Too many attempts" in response.get_data(as_text=True)
    assert response.headers.get("Retry-After")
    assert not is_signed_in(client)


def test_account_throttle_does_not_touch_other_accounts(app, client, seller, agent):
    for _ in range(10):
        client.sign_in(seller.email, WRONG_PASSWORD)
    assert client.sign_in(seller.email).status_code == 429

    response = app.test_client().sign_in(agent.email)

    assert response.status_code == 302


def test_failures_from_one_address_are_throttled_across_accounts(app, seller):
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "3 per 15 minutes"
    attacker = client_from(app, "203.0.113.7")
    for number in range(3):
        assert attacker.sign_in(f"guess{number}@example.com", WRONG_PASSWORD).status_code == 200

    refused = attacker.sign_in(seller.email, PASSWORD)
    elsewhere = client_from(app, "198.51.100.9").sign_in(seller.email)

    assert refused.status_code == 429
    assert "Too many attempts" in refused.get_data(as_text=True)
    assert elsewhere.status_code == 302


def test_many_successful_logins_from_one_address_are_never_throttled(app):
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "3 per 15 minutes"
    # One hash for everyone: thirty scrypt runs would only slow the test down.
    password_hash = generate_password_hash(PASSWORD, method=PASSWORD_HASH_METHOD)
    with app.app_context():
        emails = []
        for number in range(30):
            user = create_user(f"seller{number}@example.com", Role.SELLER)
            user.password_hash = password_hash
            emails.append(user.email)
        db.session.commit()

    statuses = [client_from(app, "192.0.2.10").sign_in(email).status_code
                for email in emails]

    assert statuses == [302] * 30


def test_repeated_successful_logins_to_one_account_are_never_throttled(app, seller):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per 15 minutes"

    statuses = [app.test_client().sign_in(seller.email).status_code for _ in range(6)]

    assert statuses == [302] * 6


def test_a_new_app_starts_with_clean_login_counters(app, client, seller, tmp_path):
    for _ in range(10):
        client.sign_in(seller.email, WRONG_PASSWORD)
    assert client.sign_in(seller.email).status_code == 429

    fresh = create_app(base_test_config(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path / "fresh"))
    fresh.test_client_class = FormClient
    try:
        response = fresh.test_client().sign_in(seller.email)
    finally:
        with fresh.app_context():
            db.engine.dispose()

    assert response.status_code == 302


# --- audit -------------------------------------------------------------------------------------

def test_login_failure_login_and_logout_are_audited(app, client, seller):
    client.sign_in("Seller@Example.com", WRONG_PASSWORD)
    client.sign_in(seller.email)
    client.post_form("/logout")

    events = [(event.action, event.actor_email, event.actor_id)
              for event in audit_events(app) if event.action.startswith("auth.")]

    assert events == [
        ("auth.login_failed", seller.email, None),
        ("auth.login", seller.email, seller.id),
        ("auth.logout", seller.email, seller.id),
    ]


def test_no_password_appears_in_any_audit_event(app, client, seller):
    client.sign_in(seller.email, WRONG_PASSWORD)
    client.sign_in("nobody@example.com", WRONG_PASSWORD)
    client.sign_in(seller.email)
    client.post_form("/logout")

    events = audit_events(app)

    assert {"user.created", "auth.login_failed", "auth.login", "auth.logout"} <= {e.action for e in events}
    for event in events:
        recorded = " ".join(str(value) for value in (event.actor_email, event.action, event.details))
        assert PASSWORD not in recorded
        assert WRONG_PASSWORD not in recorded
        assert "password" not in json.loads(event.details)
