"""Temporary tables an import batch goes through, and the set-based statements that apply them.

A batch's keys are staged (COPY on PostgreSQL, executemany on SQLite) so the rows the database
already holds come back in one join per table, whatever the batch size. What the batch accepted is
staged the same way and written with one INSERT ... SELECT ... ON CONFLICT DO UPDATE per table:
foreign keys are resolved by joining on the marketplace's ids, so no id makes a round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Connection, MetaData, SmallInteger, String, Table, Text, bindparam, text
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql.expression import Executable

from moderation_app.database import UTCDateTime, utcnow

_metadata = MetaData()


def _temporary(name: str, *columns: Column) -> Table:
    # PostgreSQL empties it at each commit (a truncate, no dead rows); prepare() empties it too.
    return Table(name, _metadata, *columns, prefixes=["TEMPORARY"],
                 postgresql_on_commit="DELETE ROWS")


KEYS = _temporary(
    "import_keys", Column("review_id", String), Column("order_id", String),
    Column("offer_id", String), Column("seller_email", String), Column("buyer", String))
BUYERS = _temporary("import_buyers", Column("username", String))
OFFERS = _temporary(
    "import_offers", Column("external_id", String), Column("title", String),
    Column("seller_email", String))
ORDERS = _temporary(
    "import_orders", Column("external_id", String), Column("status", String),
    Column("offer_id", String), Column("buyer", String))
REVIEWS = _temporary(
    "import_reviews", Column("external_id", String), Column("order_id", String),
    Column("rating_fulfillment", SmallInteger), Column("rating_start_time", SmallInteger),
    Column("rating_communication", SmallInteger), Column("text", Text),
    Column("created_at", UTCDateTime))
_TABLES = (KEYS, BUYERS, OFFERS, ORDERS, REVIEWS)
_INSERTS = {table: table.insert() for table in _TABLES}

# Same text on both databases. SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT,
# or it reads ON CONFLICT as the join's ON. Only new or changed rows are staged, so every
# conflicting row is an update.
_WRITE_BUYERS = text("INSERT INTO buyers (username) SELECT username FROM import_buyers")
_WRITE_OFFERS = text(
    "INSERT INTO offers (external_id, title, seller_id) "
    "SELECT s.external_id, s.title, u.id FROM import_offers s JOIN users u ON u.email = s.seller_email "
    "WHERE true ON CONFLICT (external_id) DO UPDATE SET title = excluded.title")
_WRITE_ORDERS = text(
    "INSERT INTO orders (external_id, status, offer_id, buyer_id) "
    "SELECT s.external_id, s.status, o.id, b.id FROM import_orders s "
    "JOIN offers o ON o.external_id = s.offer_id JOIN buyers b ON b.username = s.buyer "
    "WHERE true ON CONFLICT (external_id) DO UPDATE SET status = excluded.status")
_WRITE_REVIEWS = text(
    "INSERT INTO reviews (external_id, order_id, seller_id, buyer_id, rating_fulfillment, "
    "rating_start_time, rating_communication, text, created_at, is_visible, imported_at) "
    "SELECT s.external_id, o.id, f.seller_id, o.buyer_id, s.rating_fulfillment, s.rating_start_time, "
    "s.rating_communication, s.text, s.created_at, true, :imported_at FROM import_reviews s "
    "JOIN orders o ON o.external_id = s.order_id JOIN offers f ON f.id = o.offer_id "
    # is_visible and imported_at are the desk's own: a hidden review stays hidden.
    "WHERE true ON CONFLICT (external_id) DO UPDATE SET rating_fulfillment = excluded.rating_fulfillment, "
    "rating_start_time = excluded.rating_start_time, "
    "rating_communication = excluded.rating_communication, "
    "text = excluded.text, created_at = excluded.created_at"
).bindparams(bindparam("imported_at", type_=UTCDateTime()))


def prepare(session: Session) -> None:
    """Create the staging tables on this connection if it has none yet, and empty them."""
    connection = session.connection()
    postgresql = connection.dialect.name == "postgresql"
    if not postgresql:
        # SQLite's default page cache (2 MB) is far below the indexes a million-review import
        # walks; each miss is a read syscall and each commit rewrites the pages to the WAL.
        # 64 MB, bounded, for this connection; staging tables in memory, not temp files.
        connection.exec_driver_sql("PRAGMA cache_size = -65536")
        # SQLite refuses to move temporary storage inside a transaction: a caller that wrote
        # before the first batch (seed-demo in a longer transaction) keeps temp files.
        if not connection.connection.dbapi_connection.in_transaction:
            connection.exec_driver_sql("PRAGMA temp_store = MEMORY")
    for table in _TABLES:
        connection.execute(CreateTable(table, if_not_exists=True))
        # Already empty after a commit on PostgreSQL, but a caller may apply batches in one
        # transaction (tests, seed-demo): an earlier batch's rows must not be written again.
        connection.execute(table.delete())


def stage(session: Session, table: Table, rows: Iterable[Sequence[Any]]) -> None:
    """Load tuples (in the table's column order, values as the driver takes them: times through
    stored_time()) into a staging table."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        columns = ", ".join(column.name for column in table.columns)
        cursor = connection.connection.driver_connection.cursor()
        with cursor, cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    # The driver's executemany on tuples: SQLAlchemy's per-row parameter handling costs more than
    # SQLite's insert.
    connection.connection.driver_connection.executemany(_compiled(_INSERTS[table], connection), rows)


def stored_time(session: Session) -> Callable[[datetime], Any]:
    """An aware time as this database's driver stores and returns it in a UTCDateTime column:
    on SQLite the text UTCDateTime writes (naive UTC, always with microseconds), elsewhere the
    time itself. Comparing in this form spares converting every row read back."""
    return _sqlite_time if session.connection().dialect.name == "sqlite" else _same


def _sqlite_time(value: datetime) -> str:
    if value.tzinfo is not UTC:  # parse_line's are UTC already
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:-6]  # without "+00:00"


def _same(value: datetime) -> datetime:
    return value


def fetch(session: Session, statement: Executable) -> list[tuple[Any, ...]]:
    """A Core select's rows as the driver returns them: no result processing, which costs more
    than the query at ten thousand rows (times come back in stored_time() form)."""
    connection = session.connection()
    driver = connection.connection.driver_connection
    sql = _compiled(statement, connection)
    if connection.dialect.name == "postgresql":
        with driver.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()
    return driver.execute(sql).fetchall()


def _compiled(statement: Executable, connection: Connection) -> str:
    key = (statement, connection.dialect.name)
    sql = _COMPILED.get(key)
    if sql is None:
        sql = _COMPILED[key] = str(statement.compile(dialect=connection.dialect))
    return sql


# Keyed by statement object: only module-level statements (this module's, the importer's) come here.
_COMPILED: dict[tuple[Executable, str], str] = {}


def write(session: Session) -> None:
    """Apply the staged buyers, offers, orders and reviews, parents first."""
    for statement in (_WRITE_BUYERS, _WRITE_OFFERS, _WRITE_ORDERS):
        session.execute(statement)
    session.execute(_WRITE_REVIEWS, {"imported_at": utcnow()})
