"""The test database: by default a copy of one migrated SQLite template file per test, or this
process's own schema in the PostgreSQL database named by TEST_DATABASE_URL (emptied after each test)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from sqlalchemy import create_engine, event, text

from moderation_app import create_app
from moderation_app.config import postgresql_options
from moderation_app.extensions import db
from tests.helpers.clients import FormClient
from tests.helpers.s3 import storage_config_for_test

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")

# Each pytest process works in its own PostgreSQL schema, so runs can share one database.
PG_SCHEMA = f"pytest_{os.getpid()}"


class _CompiledTemplates(BytecodeCache):
    """Each template compiled once per test process, not once per test's app (a fifth of a
    second a test). Jinja checks each entry against the template's source before using it."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if (code := self._code.get(bucket.key)) is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = _CompiledTemplates()


def engine_options() -> dict[str, object]:
    options: dict[str, object] = {"pool_pre_ping": True, "hide_parameters": True}
    if TEST_DATABASE_URL:
        options["connect_args"] = {"options": f"-csearch_path={PG_SCHEMA} {postgresql_options()}"}
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
        # Limits per test app, whatever REDIS_URL the shell has (tests/views/auth/test_shared_limits.py
        # puts them in Redis).
        "REDIS_URL": None,
        "RATELIMIT_STORAGE_URI": "memory://",
        **storage_config_for_test(),
    }


def _on_postgresql_server(statement: str) -> None:
    engine = create_engine(TEST_DATABASE_URL)
    with engine.begin() as connection:
        connection.execute(text(statement))
    engine.dispose()


def create_migrated_database(template_dir: Path, upload_dir: Path) -> str:
    """Runs the real migrations, into a fresh PostgreSQL schema or a SQLite template file under
    `template_dir`; returns the URL that `app_on_test_database` starts from."""
    if TEST_DATABASE_URL:
        drop_migrated_database()
        _on_postgresql_server(f"CREATE SCHEMA {PG_SCHEMA}")
        url = TEST_DATABASE_URL
    else:
        url = f"sqlite:///{template_dir / 'template.sqlite3'}"
    app = create_app(base_test_config(url, upload_dir))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


@contextmanager
def database_at_revision(revision: str, tmp_path: Path) -> Iterator[Flask]:
    """A fresh database of its own, migrated only up to `revision`, to test what a later
    migration does to the rows it finds (a schema of its own on PostgreSQL, a file on SQLite)."""
    schema = f"{PG_SCHEMA}_at_{revision}"
    if TEST_DATABASE_URL:
        _on_postgresql_server(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        _on_postgresql_server(f"CREATE SCHEMA {schema}")
        config = base_test_config(TEST_DATABASE_URL, tmp_path / "uploads")
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "connect_args": {"options": f"-csearch_path={schema}"}}
    else:
        config = base_test_config(f"sqlite:///{tmp_path / f'at-{revision}.sqlite3'}",
                                  tmp_path / "uploads")
    app = create_app(config)
    try:
        with app.app_context():
            upgrade(revision=revision)
            db.engine.dispose()
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()
        if TEST_DATABASE_URL:
            _on_postgresql_server(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def drop_migrated_database() -> None:
    if TEST_DATABASE_URL:
        _on_postgresql_server(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")


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
    app.jinja_env.bytecode_cache = COMPILED_TEMPLATES
    yield app
    if TEST_DATABASE_URL:
        _truncate_all(app)
    else:
        with app.app_context():
            db.engine.dispose()


def raw_sql(app: Flask, statement: str, parameters: list[dict] | None = None) -> None:
    """SQL straight to the database, past the ORM's guards."""
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text(statement), parameters)


@contextmanager
def counted_statements(app: Flask) -> Iterator[list[str]]:
    """Every SQL statement the app's engine sends while the block runs, in order."""
    statements: list[str] = []

    def count(_connection, _cursor, statement, *_args) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)
