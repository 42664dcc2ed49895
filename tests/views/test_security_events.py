"""Every refusal leaves a security event (who, what, when) in the log, and no log line ever
carries a password, a cookie or a token. Plus the request limits: hosts, form sizes and parts."""

from __future__ import annotations

import io
import json
import logging
import sqlite3

import pytest
from sqlalchemy import event, select

from moderation_app.extensions import db
from moderation_app.models.users import User
from tests.helpers.accounts import PASSWORD
from tests.helpers.marketplace import add_review
from tests.helpers.requests import add_request

SECURITY_LOGGER = "moderation_app.security"


def security_events(caplog) -> list[dict]:
    prefix = "security "
    return [json.loads(record.getMessage()[len(prefix):]) for record in caplog.records
            if record.name == SECURITY_LOGGER]


@pytest.fixture
def security_log(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def test_a_role_refusal_names_who_what_and_when(security_log, seller, seller_client):
    assert seller_client.get("/queue").status_code == 403

    (event,) = security_events(security_log)
    assert event["event"] == "refused" and event["status"] == 403
    assert (event["email"], event["role"], event["method"], event["path"]) == \
        (seller.email, "seller", "GET", "/queue")
    assert event["at"].endswith("+00:00") and event["remote_addr"] == "127.0.0.1"


def test_another_sellers_request_is_logged_as_a_404_refusal(app, security_log, other_seller,
                                                          seller_client):
    theirs = add_request(app, other_seller, add_review(app, other_seller))
    security_log.clear()

    assert seller_client.get(f"/seller/requests/{theirs}").status_code == 404

    assert [(event["status"], event["path"]) for event in security_events(security_log)] == \
        [(404, f"/seller/requests/{theirs}")]


def test_anonymous_visits_and_posts_are_logged(security_log, client):
    client.get("/queue")
    client.post_form("/logout")

    assert [(event["status"], event["role"]) for event in security_events(security_log)] == \
        [(302, "anonymous"), (401, "anonymous")]


def test_a_forged_form_is_logged_as_a_csrf_refusal(security_log, seller_client):
    assert seller_client.post("/logout", data={"csrf_token": "forged"}).status_code == 400

    (event,) = security_events(security_log)
    assert event["reason"] == "csrf" and event["status"] == 400


def test_failed_and_throttled_logins_are_logged(app, security_log, client, seller):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "2 per 15 minutes"
    for _ in range(2):
        client.sign_in(seller.email, "not the password")
    assert client.sign_in(seller.email, "not the password").status_code == 429

    assert [(event["event"], event.get("status")) for event in security_events(security_log)] == \
        [("login_failed", None), ("login_failed", None), ("refused", 429)]


def test_no_log_line_holds_a_password_cookie_csrf_token_or_session_token(
        app, caplog, client, seller):
    caplog.set_level(logging.DEBUG)  # everything, from every logger
    client.sign_in(seller.email, "a wrong password 123")
    client.sign_in(seller.email)
    client.get("/queue")  # a refusal while signed in
    token = client.csrf_token()
    client.post("/logout", data={"csrf_token": token + "x"})  # a refusal that carries a token
    cookie = client.get_cookie("moderation_session")
    with app.app_context():
        session_token = db.session.scalar(select(User.session_token).where(User.id == seller.id))
    # A database error while loading the user: its traceback names the query, never its values.
    with app.app_context():
        engine = db.engine

    def statement_timeout(_connection, _cursor, statement, *_args) -> None:
        if "session_token" in statement:
            raise sqlite3.OperationalError("canceling statement due to statement timeout")

    event.listen(engine, "before_cursor_execute", statement_timeout)
    assert client.get("/seller/reviews").status_code == 500
    event.remove(engine, "before_cursor_execute", statement_timeout)
    client.post_form("/logout")

    logged = caplog.text  # messages and tracebacks
    assert "canceling statement" in logged, "expected the error's traceback to search"
    for secret in (PASSWORD, "a wrong password 123", cookie.value, token, session_token):
        assert secret not in logged


# --- hosts and request limits ----------------------------------------------------------------------

def test_only_trusted_hosts_are_answered(app, client, security_log):
    app.config["TRUSTED_HOSTS"] = ["desk.example.com"]

    refused = client.get("/login", headers={"Host": "evil.example.com"})
    answered = client.get("/login", headers={"Host": "desk.example.com"})

    assert refused.status_code == 400
    assert "Bad request" in refused.get_data(as_text=True)
    assert "default-src 'self'" in refused.headers["Content-Security-Policy"]
    assert answered.status_code == 200
    assert [event["status"] for event in security_events(security_log)] == [400]


def test_the_default_trusted_hosts_are_local_only(app, client):
    assert client.get("/healthz", headers={"Host": "127.0.0.1:5000"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "desk.attacker.example"}).status_code == 400


def test_an_oversized_form_field_gets_a_readable_413(app, client):
    assert app.config["MAX_FORM_MEMORY_SIZE"] == 256 * 1024
    token = client.csrf_token()

    response = client.post("/login", data={"csrf_token": token, "email": "a@example.com",
                                           "password": "x" * (300 * 1024)})

    assert response.status_code == 413
    assert "Too large" in response.get_data(as_text=True)
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_form_with_too_many_parts_gets_a_readable_413(app, client):
    token = client.csrf_token()
    fields = {f"field{number}": "x" for number in range(app.config["MAX_FORM_PARTS"] + 1)}

    response = client.post("/login", data={"csrf_token": token, **fields},
                           content_type="multipart/form-data")

    assert response.status_code == 413
    assert "Too large" in response.get_data(as_text=True)


def test_only_upload_views_accept_a_large_multipart_body(app, client, seller, seller_client):
    # 400 KB of multipart, over the 256 KB cap for bodies that carry no files (and under the
    # test client's 500 KB, past which it leaves a temporary file open).
    def body(token: str) -> dict:
        return {"csrf_token": token, "evidence": (io.BytesIO(b"x" * 400 * 1024), "a.png")}

    anywhere_else = client.post("/login", data=body(client.csrf_token()),
                                content_type="multipart/form-data")
    upload_view = seller_client.post("/seller/reviews/R-none/deletion-request",
                                     data=body(seller_client.csrf_token()),
                                     content_type="multipart/form-data")

    assert anywhere_else.status_code == 413
    assert upload_view.status_code == 404  # read, then answered: there is no such review


def test_the_app_keeps_query_values_out_of_database_errors(app):
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["hide_parameters"] is True
    from moderation_app import create_app
    assert create_app({"TESTING": True}).config["SQLALCHEMY_ENGINE_OPTIONS"]["hide_parameters"]


def test_a_failed_sign_in_names_the_targeted_account_in_the_security_log(security_log, client,
                                                                         seller):
    client.sign_in(seller.email, "not the password")

    (event,) = security_events(security_log)
    assert (event["event"], event["attempted_email"]) == ("login_failed", seller.email)


def test_a_refused_set_password_link_is_logged_without_its_token(security_log, client):
    token = "still-a-secret-token-value-1234567890abcdef"
    response = client.post(f"/set-password/{token}", data={"csrf_token": "forged"})

    assert response.status_code == 400
    (event,) = security_events(security_log)
    assert event["path"] == "/set-password/<token>"
    assert token not in security_log.text
