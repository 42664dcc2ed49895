"""Session lifetimes and password handling: older hashes upgraded at sign-in, idle and absolute
timeouts, and a recent password before the audit log leaves the building."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from moderation_app.extensions import db
from moderation_app.models.users import PASSWORD_HASH_METHOD, Role, User
from moderation_app.sessions import LAST_SEEN_AT, PASSWORD_AT, SIGNED_IN_AT
from tests.helpers.accounts import PASSWORD, make_user
from tests.helpers.stored import audit_details, audit_events

MINUTE = 60
HOUR = 60 * MINUTE


def stored_hash(app, email: str) -> str:
    with app.app_context():
        return db.session.scalar(select(User.password_hash).where(User.email == email))


def set_raw_hash(app, email: str, password_hash: str) -> None:
    with app.app_context():
        db.session.scalars(select(User).where(User.email == email)).one().password_hash = \
            password_hash
        db.session.commit()


def age_session(client, **seconds_ago: int) -> None:
    """Move the session's clocks into the past, as if time had passed since they were set."""
    now = int(time.time())
    with client.session_transaction() as session:
        for key, ago in seconds_ago.items():
            session[key] = now - ago


def is_sign_in_redirect(response) -> bool:
    return response.status_code == 302 and urlsplit(response.location).path == "/login"


# --- password hashes -----------------------------------------------------------------------------

@pytest.mark.parametrize("older_method", ["pbkdf2:sha256:600000", "scrypt:32768:8:1"])
def test_an_older_hash_is_upgraded_to_the_current_scrypt_cost_at_sign_in(app, client, older_method):
    make_user(app, "legacy@example.com", Role.SELLER)
    set_raw_hash(app, "legacy@example.com", generate_password_hash(PASSWORD, method=older_method))

    assert client.sign_in("legacy@example.com").status_code == 302

    upgraded = stored_hash(app, "legacy@example.com")
    assert upgraded.startswith(PASSWORD_HASH_METHOD + "$")
    assert [details["method"] for details in audit_details(app, "user.password_rehashed")] == \
        [PASSWORD_HASH_METHOD]
    # The upgraded hash still takes the same password, and the session survived the upgrade.
    assert client.get("/seller/reviews").status_code == 200
    assert app.test_client().sign_in("legacy@example.com").status_code == 302


def test_a_current_hash_is_left_alone_at_sign_in(app, client, seller):
    before = stored_hash(app, seller.email)

    client.sign_in(seller.email)

    assert stored_hash(app, seller.email) == before
    assert audit_events(app, "user.password_rehashed") == []


def test_a_wrong_password_never_upgrades_an_older_hash(app, client):
    make_user(app, "legacy@example.com", Role.SELLER)
    older = generate_password_hash(PASSWORD, method="pbkdf2:sha256:600000")
    set_raw_hash(app, "legacy@example.com", older)

    client.sign_in("legacy@example.com", "not the password at all")

    assert stored_hash(app, "legacy@example.com") == older


# --- idle and absolute timeouts ------------------------------------------------------------------

def test_staff_are_signed_out_after_30_idle_minutes(app, agent, agent_client):
    age_session(agent_client, **{LAST_SEEN_AT: 31 * MINUTE})

    response = agent_client.get("/queue")

    assert is_sign_in_redirect(response)
    page = agent_client.get(response.location).get_data(as_text=True)
    assert "signed out after a period of inactivity" in page
    assert audit_details(app, "auth.session_expired") == [{"reason": "idle"}]
    # Signed out for real: the next visit is anonymous too.
    assert is_sign_in_redirect(agent_client.get("/queue"))


def test_activity_within_the_idle_window_keeps_a_staff_session_and_renews_it(agent_client):
    age_session(agent_client, **{LAST_SEEN_AT: 29 * MINUTE})

    assert agent_client.get("/queue").status_code == 200

    with agent_client.session_transaction() as session:
        assert time.time() - session[LAST_SEEN_AT] < MINUTE


def test_sellers_have_a_longer_idle_window_than_staff(seller_client):
    age_session(seller_client, **{LAST_SEEN_AT: 31 * MINUTE})
    assert seller_client.get("/seller/reviews").status_code == 200

    age_session(seller_client, **{LAST_SEEN_AT: 2 * HOUR + MINUTE})
    assert is_sign_in_redirect(seller_client.get("/seller/reviews"))


def test_a_session_ends_12_hours_after_sign_in_however_active(app, manager_client):
    age_session(manager_client, **{SIGNED_IN_AT: 12 * HOUR + MINUTE, LAST_SEEN_AT: 0})

    response = manager_client.get("/dashboard")

    assert is_sign_in_redirect(response)
    assert "Your session expired" in manager_client.get(response.location).get_data(as_text=True)
    assert audit_details(app, "auth.session_expired") == [{"reason": "absolute"}]


def test_a_session_without_its_clocks_is_not_honoured(agent_client):
    with agent_client.session_transaction() as session:
        del session[SIGNED_IN_AT]

    assert is_sign_in_redirect(agent_client.get("/queue"))


def test_an_expired_session_cannot_post_and_changes_nothing(app, agent, agent_client):
    age_session(agent_client, **{LAST_SEEN_AT: HOUR})
    token = agent_client.csrf_token()  # the sign-in page's token, as a stale tab would hold

    response = agent_client.post("/queue/next", data={"csrf_token": token})

    assert response.status_code == 401
    assert audit_events(app, "request.claimed") == []


def test_no_remember_me_cookie_is_ever_set(app, client, seller):
    response = client.sign_in(seller.email)

    assert "remember_token" not in " ".join(response.headers.getlist("Set-Cookie"))


# --- recent password before an audit export ------------------------------------------------------

EXPORT = "/audit/export.csv?since=2026-01-01"


def test_an_export_asks_for_the_password_when_it_was_entered_long_ago(manager_client):
    age_session(manager_client, **{PASSWORD_AT: 11 * MINUTE})

    response = manager_client.get(EXPORT)

    assert response.status_code == 302
    location = urlsplit(response.location)
    assert location.path == "/reauthenticate"
    assert parse_qs(location.query)["next"] == [EXPORT]


def test_confirming_the_password_goes_on_to_the_export_and_is_audited(app, manager,
                                                                      manager_client):
    age_session(manager_client, **{PASSWORD_AT: HOUR})
    page = manager_client.get(f"/reauthenticate?next={EXPORT}").get_data(as_text=True)
    assert "Confirm your password" in page

    response = manager_client.post_form(
        "/reauthenticate?next=/audit/export.csv%3Fsince%3D2026-01-01", {"password": PASSWORD})

    assert response.status_code == 302 and response.location == EXPORT
    export = manager_client.get(response.location)
    assert export.status_code == 200 and export.mimetype == "text/csv"
    export.close()
    (confirmed,) = audit_events(app, "auth.reauthenticated")
    assert confirmed.actor_email == manager.email


def test_a_wrong_password_is_refused_audited_and_still_blocks_the_export(app, manager_client):
    age_session(manager_client, **{PASSWORD_AT: HOUR})

    response = manager_client.post_form(f"/reauthenticate?next={EXPORT}", {"password": "wrong!"})

    assert response.status_code == 200
    assert "That password is not correct." in response.get_data(as_text=True)
    assert len(audit_events(app, "auth.reauthentication_failed")) == 1
    assert manager_client.get(EXPORT).status_code == 302


def test_password_confirmations_are_throttled_like_sign_ins(app, manager_client):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per 15 minutes"
    age_session(manager_client, **{PASSWORD_AT: HOUR})
    for _ in range(3):
        manager_client.post_form("/reauthenticate", {"password": "wrong!"})

    response = manager_client.post_form("/reauthenticate", {"password": PASSWORD})

    assert response.status_code == 429
    assert manager_client.get(EXPORT).status_code == 302


def test_confirmation_never_redirects_off_site(manager_client):
    response = manager_client.post_form("/reauthenticate?next=//evil.example.com/x",
                                        {"password": PASSWORD})

    assert response.status_code == 302 and response.location == "/dashboard"


def test_timeouts_set_from_the_environment_are_seconds(app, agent_client):
    app.config["SESSION_IDLE_TIMEOUT_STAFF"] = 600  # as FLASK_SESSION_IDLE_TIMEOUT_STAFF=600 gives
    age_session(agent_client, **{LAST_SEEN_AT: 9 * MINUTE})
    assert agent_client.get("/queue").status_code == 200

    age_session(agent_client, **{LAST_SEEN_AT: 11 * MINUTE})
    assert is_sign_in_redirect(agent_client.get("/queue"))
