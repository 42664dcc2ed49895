"""Appending to the hash-chained audit log (see docs/audit-log.md for the canonical form)."""

from __future__ import annotations

import hashlib
import json
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, select, text
from sqlalchemy.exc import IntegrityError

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models.audit import GENESIS_HASH, AuditEvent
from moderation_app.models.users import User

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
        select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()


def _next_event(head: Row | None, **columns: Any) -> AuditEvent:
    event = AuditEvent(id=(head.id + 1) if head else 1, occurred_at=utcnow(),
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


def verify_chain(batch_size: int = 1000) -> ChainCheck:
    """Recompute every event's hash in id order, streaming (memory stays flat over millions).
    Stops at the first event that does not match its content, its predecessor or its place."""
    rows = db.session.execute(
        select(AuditEvent.__table__).order_by(AuditEvent.id)
        .execution_options(yield_per=batch_size, stream_results=True)
    )
    # closing(): an early return must still release PostgreSQL's server-side cursor.
    with closing(rows):
        count, previous_id, previous_hash = 0, 0, GENESIS_HASH
        for row in rows:
            if row.id != previous_id + 1:
                return ChainCheck(count, previous_hash, row.id, f"expected event "
                                  f"{previous_id + 1} next, found {row.id} (events missing)")
            if row.prev_hash != previous_hash:
                return ChainCheck(count, previous_hash, row.id,
                                  "prev_hash does not match the previous event's hash")
            if event_hash(row) != row.hash:
                return ChainCheck(count, previous_hash, row.id,
                                  "content does not match its hash (the event was altered)")
            count, previous_id, previous_hash = count + 1, row.id, row.hash
    return ChainCheck(count, previous_hash)
