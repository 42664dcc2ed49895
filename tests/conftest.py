"""Fixtures only: a migrated database per test (a copy of a migrated SQLite template, or PostgreSQL
when TEST_DATABASE_URL is set), the app, its client and CLI runner, users of each role and clients
signed in as them through the real form. What tests share besides fixtures is in tests/helpers/."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from moderation_app.models import users as users_module
from moderation_app.services import accounts as accounts_module
from moderation_app.models.users import Role, User
from moderation_app.services.evidence.images import configure_pillow
from tests.helpers.accounts import make_user
from tests.helpers.clients import FormClient, signed_in
from tests.helpers.database import (
    TEST_DATABASE_URL,
    app_on_test_database,
    create_migrated_database,
    drop_migrated_database,
    raw_sql,
)
from tests.helpers.queue import add_seller
from tests.helpers.s3 import TEST_EVIDENCE_STORAGE, s3_objects


@pytest.fixture(scope="session", autouse=True)
def evidence_bucket() -> None:
    """With TEST_EVIDENCE_STORAGE, its bucket (each test's app keeps a prefix of its own in it)."""
    if TEST_EVIDENCE_STORAGE:
        s3_objects(TEST_EVIDENCE_STORAGE).ensure_bucket()


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Runs the real migrations once per session; tests get copies (SQLite) or truncation (PG)."""
    yield create_migrated_database(tmp_path_factory.mktemp("template"),
                                   tmp_path_factory.mktemp("uploads"))
    drop_migrated_database()


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
    """Hash each password once per run, and check each (hash, password) pair once. scrypt at the
    OWASP cost (a quarter of a second here) is the slowest thing in the suite, and test users
    need no fresh salt; the hashes and each first check are still real production ones."""
    patched = [(module, name) for module in (users_module, accounts_module)
               for name in ("generate_password_hash", "check_password_hash")
               if hasattr(module, name)]
    originals = {(module, name): getattr(module, name) for module, name in patched}
    for (module, name), original in originals.items():
        setattr(module, name, functools.cache(original))
    yield
    for (module, name), original in originals.items():
        setattr(module, name, original)


@pytest.fixture(autouse=True, scope="session")
def pillow_configured() -> None:
    """What create_app does for the process, for tests that call the image checks without an app."""
    configure_pillow()


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


# --- users and their signed-in clients -----------------------------------------------------------

@pytest.fixture
def seller(app: Flask) -> User:
    return make_user(app, "seller@example.com", Role.SELLER)


@pytest.fixture
def other_seller(app: Flask) -> User:
    return make_user(app, "other.seller@example.com", Role.SELLER)


@pytest.fixture
def seller_id(app: Flask) -> int:
    """The id of shop@example.com, a seller without a password: the queue tests' requests, built as
    rows with tests.helpers.queue, belong to this seller."""
    return add_seller(app, "shop@example.com")


@pytest.fixture
def agent(app: Flask) -> User:
    return make_user(app, "agent@example.com", Role.AGENT)


@pytest.fixture
def manager(app: Flask) -> User:
    return make_user(app, "manager@example.com", Role.MANAGER)


@pytest.fixture
def seller_client(app: Flask, seller: User) -> FormClient:
    return signed_in(app, seller)


@pytest.fixture
def other_seller_client(app: Flask, other_seller: User) -> FormClient:
    return signed_in(app, other_seller)


@pytest.fixture
def agent_client(app: Flask, agent: User) -> FormClient:
    return signed_in(app, agent)


@pytest.fixture
def manager_client(app: Flask, manager: User) -> FormClient:
    return signed_in(app, manager)
