"""The app factory and what every response carries: settings from the environment, the health
check, security headers, error pages, cookies, and models that match the migrations."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from moderation_app import create_app
from moderation_app.config import SQLITE_POOL_SIZE, ConfigError, normalize_database_url
from moderation_app.extensions import db
from moderation_app.permissions import public
from tests.helpers.clients import signed_in

ERROR_ID = re.compile(r"Error id: <code>([0-9a-f]+)</code>")


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """An environment with none of the app's settings, and a throwaway SQLite file."""
    flask_settings = [name for name in os.environ if name.startswith("FLASK_")]
    for name in ("SECRET_KEY", "DATABASE_URL", "UPLOAD_DIR", *flask_settings):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'environment.sqlite3'}")
    yield monkeypatch


def app_from_environment(**config: object) -> Flask:
    """An app configured by the environment alone (plus `config`), as a deployment builds it."""
    return create_app({"TESTING": True, **config})


def directives(policy: str) -> dict[str, str]:
    parts = (part.strip().split(None, 1) for part in policy.split(";") if part.strip())
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


def session_cookie_header(response) -> str:
    cookies = [value for value in response.headers.getlist("Set-Cookie")
               if value.startswith("moderation_session=")]
    assert len(cookies) == 1, response.headers.getlist("Set-Cookie")
    return cookies[0]


# --- configuration -----------------------------------------------------------------------------

def test_secret_key_is_required_outside_testing_and_debug(environment):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


def test_testing_app_without_secret_key_gets_a_throwaway_one(environment):
    first, second = app_from_environment(), app_from_environment()

    assert len(first.config["SECRET_KEY"]) >= 32
    assert first.config["SECRET_KEY"] != second.config["SECRET_KEY"]


def test_secret_key_comes_from_the_environment(environment):
    environment.setenv("SECRET_KEY", "from-the-environment")

    assert create_app().config["SECRET_KEY"] == "from-the-environment"


@pytest.mark.parametrize("url", ["redis+tls://:Sup3r-Secret@redis.internal:6379/0",
                                 "unix:///run/redis.sock?password=Sup3r-Secret",
                                 "valkey+foo://:Sup3r-Secret@redis.internal:6379/0"])
def test_a_redis_url_the_desk_cannot_use_is_refused_without_its_password(environment, url):
    # limits' own error was "unknown storage scheme : <the whole URL>": the password in the
    # start-up traceback, so in the service manager's log.
    environment.setenv("SECRET_KEY", "from-the-environment")
    environment.setenv("REDIS_URL", url)

    with pytest.raises(ConfigError) as refused:
        create_app()

    assert "REDIS_URL" in str(refused.value)
    assert "Sup3r-Secret" not in str(refused.value)
    assert "Sup3r-Secret" not in str(refused.value.__cause__ or "")
    assert "Sup3r-Secret" not in str(refused.value.__context__ or "")


@pytest.mark.parametrize("given", ["postgres://desk:pw@db.internal:5432/desk",
                                   "postgresql://desk:pw@db.internal:5432/desk"])
def test_postgres_database_url_is_normalized_to_psycopg(environment, given):
    environment.setenv("DATABASE_URL", given)

    app = app_from_environment()

    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://desk:pw@db.internal:5432/desk"
    with app.app_context():
        assert db.engine.url.drivername == "postgresql+psycopg"


@pytest.mark.parametrize("url", ["sqlite:///instance/desk.sqlite3", "postgresql+psycopg://db/desk"])
def test_other_database_urls_are_left_alone(url):
    assert normalize_database_url(url) == url


def test_session_cookie_is_secure_by_default(environment):
    app = app_from_environment()

    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert "; Secure" in session_cookie_header(app.test_client().get("/login"))


def test_session_cookie_secure_can_be_turned_off_from_the_environment(environment):
    environment.setenv("FLASK_SESSION_COOKIE_SECURE", "false")

    app = app_from_environment()

    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert "Secure" not in session_cookie_header(app.test_client().get("/login"))


def test_upload_dir_comes_from_the_environment(environment, tmp_path):
    environment.setenv("UPLOAD_DIR", str(tmp_path / "evidence"))

    assert app_from_environment().config["UPLOAD_DIR"] == str(tmp_path / "evidence")


# --- health check ------------------------------------------------------------------------------

def test_healthz_reports_the_app_and_database_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_reports_an_unreachable_database(environment, tmp_path, caplog):
    environment.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'missing-directory' / 'desk.sqlite3'}")
    app = app_from_environment()

    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/healthz")

    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "unreachable"}
    assert "database unreachable" in caplog.text


# --- headers and cookies -----------------------------------------------------------------------

@pytest.mark.parametrize(("path", "status"), [("/login", 200), ("/no-such-page", 404), ("/logout", 405)])
def test_security_headers_are_on_every_page(client, path, status):
    response = client.get(path)

    assert response.status_code == status
    policy = directives(response.headers["Content-Security-Policy"])
    assert policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]


def assert_security_headers(response) -> None:
    policy = directives(response.headers["Content-Security-Policy"])
    assert (policy["default-src"], policy["object-src"], policy["base-uri"],
            policy["frame-ancestors"]) == ("'self'", "'none'", "'none'", "'none'")
    assert "script-src" not in policy and "unsafe-inline" not in response.headers[
        "Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_error_pages_carry_the_security_headers_too(app, client, seller):
    @public
    def explode() -> str:
        raise RuntimeError("boom")

    # Routes can only be added before the app's first request, so before anyone signs in.
    app.add_url_rule("/explode", "explode", explode)
    seller_client = signed_in(app, seller)
    token = client.csrf_token()

    responses = {
        401: client.post("/logout", data={"csrf_token": token}),
        403: seller_client.get("/queue"),
        413: client.post("/login", data={"csrf_token": token, "email": "x" * 300_000},
                         content_type="multipart/form-data"),
        500: client.get("/explode"),
    }

    for status, response in responses.items():
        assert response.status_code == status
        assert_security_headers(response)


def test_hsts_is_sent_over_https_only(client):
    over_https = client.get("/login", base_url="https://localhost")
    over_http = client.get("/login")

    assert over_https.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Strict-Transport-Security" not in over_http.headers


def test_method_not_allowed_says_which_methods_are(client):
    response = client.get("/logout")

    assert response.status_code == 405
    assert "POST" in response.headers.get("Allow", "")
    assert "Method not allowed" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/seller/reviews", "/no-such-page"])
def test_signed_in_pages_are_never_cached(seller_client, path):
    assert "no-store" in seller_client.get(path).headers.get("Cache-Control", "")


def test_session_cookie_is_http_only_and_same_site_lax(client, seller):
    response = client.post_form("/login", {"email": seller.email, "password": "correct horse battery staple"})

    assert response.status_code == 302
    cookie = session_cookie_header(response)
    assert "; HttpOnly" in cookie
    assert "; SameSite=Lax" in cookie


# --- errors ------------------------------------------------------------------------------------

def test_unexpected_error_shows_a_plain_page_with_an_error_id_that_is_in_the_log(app, client, caplog):
    @public
    def explode() -> str:
        raise RuntimeError("internal detail: connection string postgres://secret")

    # Routes can only be added before the app's first request.
    app.add_url_rule("/explode", "explode", explode)

    with caplog.at_level(logging.ERROR):
        response = client.get("/explode")

    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    assert "Something went wrong" in body
    match = ERROR_ID.search(body)
    assert match, "no error id on the page"
    error_id = match.group(1)
    logged = [record for record in caplog.records if error_id in record.getMessage()]
    assert logged and logged[0].exc_info is not None, "the log should hold the id and the traceback"
    assert "Traceback" not in body
    assert "internal detail" not in body
    assert "RuntimeError" not in body
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# --- schema ------------------------------------------------------------------------------------

def test_models_match_the_migrations(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)

    assert diff == []


def test_a_sqlite_file_has_no_cap_on_connections_waiting_for_the_lock(environment, tmp_path):
    environment.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    app = app_from_environment()

    with app.app_context(), ExitStack() as held:
        # As many requests as the threaded server may have waiting at once, each holding one.
        connections = [held.enter_context(db.engine.connect()) for _ in range(4 * SQLITE_POOL_SIZE)]
        assert all(not connection.closed for connection in connections)
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["hide_parameters"] is True
