"""Declarative base, naming convention and the column types every model shares."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, TypeDecorator, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names, so migrations can refer to them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out, also on SQLite, which stores naive values."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def render_migration_type(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Alembic hook: write UTCDateTime columns as plain timestamps, so migrations never
    import application code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


# The largest INTEGER PostgreSQL stores, so the largest id any of our rows can have. A bigger
# number from a URL or a filter names no row, and would make the database fail (PostgreSQL: out
# of range; SQLite, past 64 bits: OverflowError) instead of finding nothing.
MAX_ROW_ID = 2**31 - 1

LOCK_CONTENTION_MARKERS = ("database is locked", "could not obtain lock", "deadlock detected",
                           "could not serialize")
CONNECTION_LOST_MARKERS = ("connection", "could not connect", "server closed", "terminating",
                           "unable to open", "disk i/o error")


def is_lock_contention(error: DBAPIError) -> bool:
    """Another transaction holds what we need: worth retrying, unlike a lost database."""
    return isinstance(error, OperationalError) and not error.connection_invalidated and any(
        marker in str(error.orig).lower() for marker in LOCK_CONTENTION_MARKERS)


def is_database_unreachable(error: DBAPIError) -> bool:
    """A dropped connection, a server that refuses connections or a database file that cannot
    be opened; not a bad query or a constraint, which are bugs or domain errors."""
    if error.connection_invalidated:
        return True
    # psycopg's InterfaceError also covers misuse (a closed cursor): a bug, not an outage.
    return isinstance(error, (OperationalError, InterfaceError)) and any(
        marker in str(error.orig).lower() for marker in CONNECTION_LOST_MARKERS)


# How long a SQLite writer waits for the write lock before giving up ("database is locked").
SQLITE_BUSY_TIMEOUT_MS = 30_000


def configure_sqlite(engine: Engine, begins_immediately: Callable[[], bool]) -> None:
    """SQLite that serves a team: write-ahead log (readers never wait for the writer), a busy
    timeout, and transactions begun by us, IMMEDIATE when `begins_immediately()` says they will
    write, so writers queue for the lock instead of failing midway (see transactions.py).
    Does nothing for other databases."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: object) -> None:
        # The driver's own transaction handling would BEGIN (deferred) behind our back.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if begins_immediately() else "BEGIN")
