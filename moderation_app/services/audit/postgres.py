"""The audit log's bulk reads on PostgreSQL: the database writes every part of an event's
canonical text and of its export lines that it can write byte for byte as Python does, and hashes
the canonical text, so that per event Python only does what only json can: read `details`.

The parts are equal to Python's because PostgreSQL's JSON string escaping (to_json of text) is
json's with ensure_ascii=False (\\" \\\\ \\b \\f \\n \\r \\t, other control characters as
\\u00xx, everything else as itself), integers print the same, and the time is the text
occurred_text_column() already vouches for. Any part that comes out NULL (a time outside what
that text covers) sends the row to Python's own path; tests compare both paths row for row."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from functools import cache
from typing import Any

from psycopg.pq import TransactionStatus
from sqlalchemy import Select, literal_column
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

_E = "audit_events."


@cache
def _occurred() -> str:
    """occurred_text_column() as SQL text, to splice into the expressions below."""
    from moderation_app.services.audit.log import occurred_text_column  # log imports this module

    return str(occurred_text_column("postgresql").compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def _json(column: str) -> str:
    """json.dumps(value) of a text or integer column: NULL as null."""
    return f"coalesce(to_json({column})::text, 'null')"


def _int_or_null(column: str) -> str:
    return f"coalesce({column}::text, 'null')"


def content_hash() -> ColumnElement[str]:
    """event_hash() of the event if its stored `details` is canonical (the caller proves it),
    with the stored text spliced in; NULL when the time is outside occurred_text_column()."""
    e = _E
    text = (f"""'{{"action":' || {_json(e + 'action')} || ',"actor_email":' """
            f"""|| {_json(e + 'actor_email')} || ',"actor_id":' || {_int_or_null(e + 'actor_id')} """
            f"""|| ',"actor_role":' || {_json(e + 'actor_role')} || ',"details":' || {e}details """
            f"""|| ',"id":' || {e}id::text || ',"occurred_at":"' || {_occurred()} """
            f"""|| '","prev_hash":' || {_json(e + 'prev_hash')} """
            f"""|| ',"request_id":' || {_int_or_null(e + 'request_id')} """
            f"""|| ',"review_id":' || {_int_or_null(e + 'review_id')} || '}}'""")
    return literal_column(f"encode(sha256(convert_to({text}, 'UTF8')), 'hex')")


def _csv(column: str) -> str:
    """export._csv_text() of a text column: '' for NULL, formulas neutralized, QUOTE_MINIMAL
    (the quote the neutralizing adds changes none of the tests for quoting)."""
    neutral = (f"(CASE WHEN left({column}, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r') "
               f"THEN '''' || {column} ELSE {column} END)")
    return (f"(CASE WHEN {column} IS NULL THEN '' "
            f"""WHEN strpos({column}, '"') > 0 THEN '"' || replace({neutral}, '"', '""') || '"' """
            f"WHEN strpos({column}, ',') > 0 OR strpos({column}, E'\\n') > 0 "
            f"""OR strpos({column}, E'\\r') > 0 THEN '"' || {neutral} || '"' """
            f"ELSE {neutral} END)")


def _digits_or_empty(column: str) -> str:
    return f"coalesce({column}::text, '')"


def export_head(fmt: str) -> ColumnElement[str]:
    """The export line up to its `decision` value, from the columns before `details`; NULL when
    the time is outside occurred_text_column() (then Python writes the whole line)."""
    e, review = _E, "reviews.external_id"
    if fmt == "jsonl":
        return literal_column(
            f"""'{{"id":' || {e}id::text || ',"occurred_at":"' || {_occurred()} """
            f"""|| '","actor_email":' || {_json(e + 'actor_email')} """
            f"""|| ',"actor_role":' || {_json(e + 'actor_role')} """
            f"""|| ',"action":' || {_json(e + 'action')} """
            f"""|| ',"request_id":' || {_int_or_null(e + 'request_id')} """
            f"""|| ',"review_id":' || {_json(review)} || ',"decision":'""")
    return literal_column(
        f"{e}id::text || ',' || {_occurred()} || ',' || {_csv(e + 'actor_email')} || ',' "
        f"|| {_csv(e + 'actor_role')} || ',' || {_csv(e + 'action')} || ',' "
        f"|| {_digits_or_empty(e + 'request_id')} || ',' || {_csv(review)} || ','")


def export_tail(fmt: str) -> ColumnElement[str]:
    """The export line after its `details` value, end of line included."""
    e = _E
    if fmt == "jsonl":
        return literal_column(f"""',"prev_hash":' || {_json(e + 'prev_hash')} """
                              f"""|| ',"hash":' || {_json(e + 'hash')} || '}}' || chr(10)""")
    return literal_column(f"',' || {_csv(e + 'prev_hash')} || ',' || {_csv(e + 'hash')} "
                          f"|| chr(13) || chr(10)")


@contextmanager
def _streamed(session: Session, query: Select, size: int) -> Iterator[Iterator[Any]]:
    """The query's rows as libpq sends them, `size` at a time without being asked (chunked rows):
    PostgreSQL goes on producing while Python works, where a server-side cursor idles between
    FETCHes (a third less wall and CPU time for an export here). The connection is busy until the
    rows end. Left early, psycopg cancels the query, which fails the transaction: a savepoint
    takes it back to where it was."""
    compiled = query.compile(dialect=session.get_bind().dialect)
    connection = session.connection().connection.driver_connection
    connection.execute("SAVEPOINT audit_stream")
    # Run as a cursor's query would be, for its first rows: parallel workers (Gather Merge) held
    # the first row back 3.4 s at a million events, JIT compiling seconds more under load.
    # RELEASE keeps SET LOCAL: both are set back below.
    connection.execute("SET LOCAL jit = off")
    connection.execute("SET LOCAL max_parallel_workers_per_gather = 0")
    try:
        with connection.cursor() as cursor:
            rows = cursor.stream(str(compiled), compiled.params, size=size)
            with closing(rows):  # closed, it cancels the rest
                yield rows
    finally:
        if connection.info.transaction_status == TransactionStatus.INERROR:
            connection.execute("ROLLBACK TO SAVEPOINT audit_stream")
        connection.execute("RELEASE SAVEPOINT audit_stream")
        connection.execute("SET LOCAL jit TO DEFAULT")
        connection.execute("SET LOCAL max_parallel_workers_per_gather TO DEFAULT")


def batches(session: Session, query: Select, id_column: Any, size: int,
            settled: Callable[[Any], bool]) -> Iterator[tuple[Sequence[Any], bool]]:
    """The rows of `query` (ordered by the unique `id_column`, selected first) in batches of
    `size`, streamed while settled(row) holds; from the first row for which it does not, through
    a server-side cursor, so that the caller may read the database between batches. With each
    batch: whether settled() held for all its rows (when False, it was not asked)."""
    last = None
    with _streamed(session, query, size) as rows:
        batch: list[Any] = []
        for row in rows:
            if not settled(row):
                break
            batch.append(row)
            if len(batch) == size:
                yield batch, True
                last, batch = batch[-1][0], []
        else:
            if batch:
                yield batch, True
            return
        if batch:
            yield batch, True
            last = batch[-1][0]
    rest = query if last is None else query.where(id_column > last)
    result = session.connection().execute(rest.execution_options(yield_per=size,
                                                                 stream_results=True))
    with closing(result):
        for batch in result.partitions():
            yield batch, False
