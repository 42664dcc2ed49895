"""Fixtures: a migrated database per test (SQLite copy of a migrated template, or PostgreSQL
when TEST_DATABASE_URL is set), the app, clients that sign in through the real form."""

from __future__ import annotations

import functools
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from moderation_app import create_app
from moderation_app.extensions import db
from moderation_app.models import users as users_module
from moderation_app.models.users import Role, User
from moderation_app.services.accounts import create_user

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
PASSWORD = "correct horse battery staple"
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


# Each pytest process works in its own PostgreSQL schema, so runs can share one database.
PG_SCHEMA = f"pytest_{os.getpid()}"


def engine_options() -> dict[str, object]:
    options: dict[str, object] = {"pool_pre_ping": True, "hide_parameters": True}
    if TEST_DATABASE_URL:
        options["connect_args"] = {"options": f"-csearch_path={PG_SCHEMA}"}
    return options


def base_test_config(database_url: str, upload_dir: Path) -> dict[str, object]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(),
        "UPLOAD_DIR": str(upload_dir),
        # Test runs are plain http, like `make run`.
        "SESSION_COOKIE_SECURE": False,
    }


class FormClient(FlaskClient):
    """A test client that posts forms the way a browser does: with the page's CSRF token."""

    def csrf_token(self) -> str:
        page = self.get("/login", follow_redirects=True).get_data(as_text=True)
        match = CSRF_INPUT.search(page)
        assert match, "no CSRF token on the landing page"
        return match.group(1)

    def post_form(self, url: str, data: dict | None = None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token())
        return self.post(url, data=data, **kwargs)


def _pg_schema(statement: str) -> None:
    engine = create_engine(TEST_DATABASE_URL)
    with engine.begin() as connection:
        connection.execute(text(statement))
    engine.dispose()


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Runs the real migrations once per session; tests get copies (SQLite) or truncation (PG)."""
    if TEST_DATABASE_URL:
        _pg_schema(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        _pg_schema(f"CREATE SCHEMA {PG_SCHEMA}")
        url = TEST_DATABASE_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('template') / 'template.sqlite3'}"
    app = create_app(base_test_config(url, tmp_path_factory.mktemp("uploads")))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield url
    if TEST_DATABASE_URL:
        _pg_schema(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")


def _truncate_all(app: Flask) -> None:
    with app.app_context():
        tables = ", ".join(table.name for table in db.metadata.sorted_tables)
        db.session.remove()
        with db.engine.begin() as connection:
            # The append-only triggers refuse TRUNCATE on audit_events; in replica mode no
            # ordinary trigger fires. SET LOCAL: this transaction only (tests are superuser).
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


@contextmanager
def app_on_test_database(migrated_database: str, root: Path) -> Iterator[Flask]:
    """An app on a fresh copy of the migrated SQLite template, or on this process's PostgreSQL
    schema (emptied afterwards); its files under ``root``."""
    if TEST_DATABASE_URL:
        url = migrated_database
    else:
        database_file = root / "test.sqlite3"
        shutil.copyfile(migrated_database.removeprefix("sqlite:///"), database_file)
        url = f"sqlite:///{database_file}"
    app = create_app(base_test_config(url, root / "uploads"))
    app.test_client_class = FormClient
    yield app
    if TEST_DATABASE_URL:
        _truncate_all(app)
    else:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(migrated_database: str, tmp_path: Path) -> Iterator[Flask]:
    with app_on_test_database(migrated_database, tmp_path) as app:
        yield app


@pytest.fixture
def client(app: Flask) -> FormClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture(autouse=True, scope="session")
def reuse_password_hashes() -> Iterator[None]:
    """Hash each password once per run. scrypt at the OWASP cost is the slowest thing in the
    suite, and test users need no fresh salt; the hashes are still real production ones."""
    original = users_module.generate_password_hash
    users_module.generate_password_hash = functools.cache(original)
    yield
    users_module.generate_password_hash = original


def raw_sql(app: Flask, statement: str, parameters: list[dict] | None = None) -> None:
    """SQL straight to the database, past the ORM's guards."""
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text(statement), parameters)


@pytest.fixture
def without_triggers(app: Flask) -> Iterator[None]:
    """What an insider with database access could do: switch the audit log's triggers off."""
    if TEST_DATABASE_URL:
        raw_sql(app, "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_or_delete")
        yield
        raw_sql(app, "ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_or_delete")
    else:
        raw_sql(app, "DROP TRIGGER audit_events_no_update")
        raw_sql(app, "DROP TRIGGER audit_events_no_delete")
        yield


def make_user(app: Flask, email: str, role: Role, password: str | None = PASSWORD) -> User:
    with app.app_context():
        user = create_user(email, role, password)
        db.session.commit()
        db.session.refresh(user)
        db.session.expunge(user)
        return user


def login(client: FormClient, email: str, password: str = PASSWORD):
    return client.post_form("/login", {"email": email, "password": password})


@pytest.fixture
def seller(app: Flask) -> User:
    return make_user(app, "seller@example.com", Role.SELLER)


@pytest.fixture
def agent(app: Flask) -> User:
    return make_user(app, "agent@example.com", Role.AGENT)


@pytest.fixture
def manager(app: Flask) -> User:
    return make_user(app, "manager@example.com", Role.MANAGER)


def _signed_in(app: Flask, user: User) -> FormClient:
    client = app.test_client()
    response = login(client, user.email)
    assert response.status_code == 302, "test user could not sign in"
    return client


@pytest.fixture
def other_seller(app: Flask) -> User:
    return make_user(app, "other.seller@example.com", Role.SELLER)


@pytest.fixture
def other_seller_client(app: Flask, other_seller: User) -> FormClient:
    return _signed_in(app, other_seller)


@pytest.fixture
def seller_client(app: Flask, seller: User) -> FormClient:
    return _signed_in(app, seller)


@pytest.fixture
def agent_client(app: Flask, agent: User) -> FormClient:
    return _signed_in(app, agent)


@pytest.fixture
def manager_client(app: Flask, manager: User) -> FormClient:
    return _signed_in(app, manager)
