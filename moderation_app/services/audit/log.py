"""Appending to the hash-chained audit log (see docs/audit-log.md for the canonical form)."""

from __future__ import annotations

import hashlib
import json
import json.scanner
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, String, case, func, literal_column, select, text, type_coerce
from sqlalchemy.exc import IntegrityError

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models.audit import GENESIS_HASH, AuditEvent
from moderation_app.models.users import User
from moderation_app.services.audit.postgres import batches, content_hash

SYSTEM_ACTOR = "system"
# Any constant will do: it only has to be the same for every appender.
_CHAIN_LOCK_KEY = 0x6D6F64617564  # "modaud"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def format_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(event: Any) -> str:
    """SHA-256 of the event's canonical content (an AuditEvent or a row with its columns)."""
    content = {
        "id": event.id,
        "occurred_at": format_timestamp(event.occurred_at),
        "actor_id": event.actor_id,
        "actor_email": event.actor_email,
        "actor_role": event.actor_role,
        "action": event.action,
        "request_id": event.request_id,
        "review_id": event.review_id,
        "details": json.loads(event.details),
        "prev_hash": event.prev_hash,
    }
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


# SQLite: an appender whose transaction began deferred may read a head another appender then
# moves; the primary key turns that into an IntegrityError instead of a fork, and the append is
# tried again from the new head (writers normally begin IMMEDIATE and never get here).
APPEND_ATTEMPTS = 3


def _lock_chain_head() -> None:
    # PostgreSQL: one appender at a time until commit.
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK_KEY})


def _chain_head() -> Row | None:
    return db.session.execute(
        select(AuditEvent.id, AuditEvent.hash, AuditEvent.occurred_at)
        .order_by(AuditEvent.id.desc()).limit(1)
    ).first()


def _next_event(head: Row | None, **columns: Any) -> AuditEvent:
    # Times never go back along the chain: a clock stepped back (NTP) or a second app server a
    # little behind would otherwise give a later id an earlier time. The viewer's date filter
    # relies on it (it turns dates into an id range: services/audit/export.py, page()). The head
    # is read under the chain's lock (the advisory lock; on SQLite the primary key refuses an
    # event built on a stale head), so this event follows the one it was compared with.
    now = utcnow()
    if head is not None and head.occurred_at > now:
        now = head.occurred_at
    event = AuditEvent(id=(head.id + 1) if head else 1, occurred_at=now,
                       prev_hash=head.hash if head else GENESIS_HASH, **columns)
    event.hash = event_hash(event)
    return event


def record_event(
    action: str,
    *,
    actor: User | None = None,
    actor_email: str | None = None,
    actor_role: str | None = None,
    request_id: int | None = None,
    review_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain in the caller's transaction."""
    columns = {
        "actor_id": actor.id if actor else None,
        "actor_email": actor_email or (actor.email if actor else SYSTEM_ACTOR),
        "actor_role": actor_role or (actor.role.value if actor else SYSTEM_ACTOR),
        "action": action,
        "request_id": request_id,
        "review_id": review_id,
        "details": canonical_json(details or {}),
    }
    _lock_chain_head()
    if db.session.get_bind().dialect.name != "sqlite":
        event = _next_event(_chain_head(), **columns)
        db.session.add(event)
        db.session.flush()
        return event
    db.session.flush()  # the caller's own changes first: their errors are theirs, not retried
    attempt = 1
    while True:
        event = _next_event(_chain_head(), **columns)
        try:
            with db.session.begin_nested():  # a savepoint: a collision undoes only this event
                db.session.add(event)
            return event
        except IntegrityError:
            if attempt == APPEND_ATTEMPTS:
                raise
            attempt += 1


@dataclass(frozen=True)
class ChainCheck:
    count: int
    head_hash: str
    broken_at: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


# Rows per round trip while verifying: large enough that fetching costs little per row, small
# enough that memory stays flat (5,000 rows are about 3 MB).
VERIFY_BATCH = 5_000
_encode_string = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) writes


def json_encoder(*, sort_keys: bool, separators: tuple[str, str]) -> Callable[[Any], str]:
    """json.dumps(value, ensure_ascii=False, ...) for values parsed from JSON, with its C encoder
    built once rather than on every call (a third of the cost of encoding a small object)."""
    make = json.encoder.c_make_encoder
    if make is None:  # no C accelerator: json's own way
        return json.JSONEncoder(sort_keys=sort_keys, separators=separators,
                                ensure_ascii=False).encode
    # markers=None: no circular-reference check, and parsed JSON holds no cycles.
    encode = make(None, None, _encode_string, None, separators[1], separators[0], sort_keys,
                  False, True)

    def dumps(value: Any) -> str:
        return "".join(encode(value, 0))

    return dumps


def json_parser() -> Callable[[str], tuple[Any, int]]:
    """(value, end) of the JSON value at the start of a text, with none of json.loads()'s
    whitespace handling: callers that need the whole text to be one canonical value check end."""
    return json.scanner.make_scanner(json.JSONDecoder())


_canonical_details = json_encoder(sort_keys=True, separators=(",", ":"))
_parse_json = json_parser()
# SQLite keeps occurred_at as this text (UTC); its canonical form is the same digits with T and Z.
# Years from 1000 only: strftime writes earlier ones with fewer digits.
_SQLITE_TIME = re.compile(r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}")


def occurred_text_column(dialect: str) -> Any:
    """occurred_at as text, read with no datetime made: parsing it and formatting it back costs
    more than hashing the row. Pass each value through occurred_text()."""
    column = AuditEvent.__table__.c.occurred_at
    if dialect == "postgresql":
        # NULL outside the years strftime writes with four digits, with a day to spare for the
        # session's time zone: those rows take the slow path.
        return case((column.between(literal_column("'1000-01-02 UTC'::timestamptz"),
                                    literal_column("'9999-12-30 UTC'::timestamptz")),
                     func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))
    return type_coerce(column, String)  # SQLite: the stored text, unparsed


def occurred_text(value: object, sqlite: bool) -> str | None:
    """format_timestamp() of the event's time from occurred_text_column()'s value; None when it
    cannot be told without the datetime (then ask for it: the caller's slow path)."""
    if type(value) is not str:
        return None
    if not sqlite:
        return value
    if not _SQLITE_TIME.fullmatch(value):
        return None
    try:
        datetime.fromisoformat(value)  # a day or an hour that does not exist
    except ValueError:
        return None
    return f"{value[:10]}T{value[11:]}Z"


def _verify_columns(dialect: str) -> list[Any]:
    """The content's columns, occurred_at as text, then the stored hash."""
    table = AuditEvent.__table__.c
    return [table.id, occurred_text_column(dialect), table.actor_id, table.actor_email,
            table.actor_role, table.action, table.request_id, table.review_id, table.details,
            table.prev_hash, table.hash]


def _fast_hash(row: Sequence[Any], sqlite: bool) -> str | None:
    """event_hash() of a row as _verify_columns() reads it, built as text; None when any value is
    not of the plain shape the text needs (then event_hash() decides, exactly as before). The text
    equals canonical_json() of the content whenever a string is returned: details must already be
    canonical, so a log whose details were rewritten in another layout verifies exactly as before."""
    (id_, occurred, actor_id, actor_email, actor_role, action, request_id, review_id, details,
     prev_hash, _) = row
    occurred = occurred_text(occurred, sqlite)
    if occurred is None:
        return None
    numbers = []
    for value in (actor_id, request_id, review_id):
        if value is None:
            numbers.append("null")
        elif type(value) is int:
            numbers.append(str(value))
        else:
            return None
    if not (type(id_) is int and type(actor_email) is str and type(actor_role) is str
            and type(action) is str and type(details) is str and type(prev_hash) is str):
        return None
    try:
        value, end = _parse_json(details, 0)
    except (StopIteration, ValueError):  # not JSON: event_hash() fails on it as it always did
        return None
    if end != len(details) or _canonical_details(value) != details:
        return None
    text_ = (f'{{"action":{_encode_string(action)},"actor_email":{_encode_string(actor_email)},'
             f'"actor_id":{numbers[0]},"actor_role":{_encode_string(actor_role)},"details":{details},'
             f'"id":{id_},"occurred_at":"{occurred}","prev_hash":{_encode_string(prev_hash)},'
             f'"request_id":{numbers[1]},"review_id":{numbers[2]}}}')
    return hashlib.sha256(text_.encode("utf-8")).hexdigest()


def _slow_hash(event_id: int) -> str:
    row = db.session.execute(select(AuditEvent.__table__).where(AuditEvent.id == event_id)).one()
    return event_hash(row)


def _hashed_rows(dialect: str, batch_size: int) -> Iterator[tuple[int, str, str, bool]]:
    """(id, prev_hash, hash, whether the content provably matches the hash) in id order, streamed.

    PostgreSQL builds and hashes the canonical text with the stored `details` spliced in, which is
    the event's canonical text exactly when `details` is canonical (proved here); SQLite's text is
    built here (_fast_hash). False only means "not proved": the caller asks event_hash()."""
    sqlite = dialect == "sqlite"
    table = AuditEvent.__table__.c
    if not sqlite:
        query = select(table.id, table.prev_hash, table.hash, content_hash(), table.details)
        for batch, proved in batches(db.session, query.order_by(table.id), table.id, batch_size,
                                     _proved):
            for row in batch:
                yield row[0], row[1], row[2], proved or _proved(row)
        return
    # Core through the session's connection: plain rows, no ORM result machinery per row.
    result = db.session.connection().execute(select(*_verify_columns(dialect)).order_by(table.id)
                                             .execution_options(yield_per=batch_size,
                                                                stream_results=True))
    # closing(): an early return must still release the cursor.
    with closing(result):
        for batch in result.partitions():
            for row in batch:
                yield row[0], row[9], row[10], _fast_hash(row, True) == row[10]


def _proved(row: Sequence[Any]) -> bool:
    """Whether PostgreSQL's hash of the event, (id, prev_hash, hash, computed, details), is its
    event_hash() and matches: it is when `details` is canonical, i.e. canonical_json(
    json.loads(details)) gives back the same text."""
    _, _, stored_hash, computed, details = row
    if computed != stored_hash:
        return False
    try:
        value, end = _parse_json(details, 0)
    except (StopIteration, ValueError, TypeError):
        return False
    return end == len(details) and _canonical_details(value) == details


def verify_chain(batch_size: int = VERIFY_BATCH) -> ChainCheck:
    """Recompute every event's hash in id order, streaming (memory stays flat over millions).
    Stops at the first event that does not match its content, its predecessor or its place.

    Each hash is first checked the fast way (_hashed_rows); an event that check cannot vouch for
    is read again and hashed by event_hash(), so every verdict is the one event_hash() gives."""
    count, previous_id, previous_hash = 0, 0, GENESIS_HASH
    rows = _hashed_rows(db.session.get_bind().dialect.name, batch_size)
    with closing(rows):
        for row_id, stored_prev, stored_hash, matches in rows:
            if row_id != previous_id + 1:
                return ChainCheck(count, previous_hash, row_id, f"expected event "
                                  f"{previous_id + 1} next, found {row_id} (events missing)")
            if stored_prev != previous_hash:
                return ChainCheck(count, previous_hash, row_id,
                                  "prev_hash does not match the previous event's hash")
            if not matches and _slow_hash(row_id) != stored_hash:
                return ChainCheck(count, previous_hash, row_id,
                                  "content does not match its hash (the event was altered)")
            count, previous_id, previous_hash = count + 1, row_id, stored_hash
    return ChainCheck(count, previous_hash)
