"""Appending to the hash-chained audit log (see docs/audit-log.md for the canonical form)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text

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


def event_hash(event: AuditEvent) -> str:
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


def _lock_chain_head() -> None:
    # PostgreSQL: one appender at a time until commit. SQLite serialises writers itself, and a
    # racing appender that read a stale head collides on the primary key rather than forking.
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK_KEY})


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
    _lock_chain_head()
    head = db.session.execute(
        select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    event = AuditEvent(
        id=(head.id + 1) if head else 1,
        occurred_at=utcnow(),
        actor_id=actor.id if actor else None,
        actor_email=actor_email or (actor.email if actor else SYSTEM_ACTOR),
        actor_role=actor_role or (actor.role.value if actor else SYSTEM_ACTOR),
        action=action,
        request_id=request_id,
        review_id=review_id,
        details=canonical_json(details or {}),
        prev_hash=head.hash if head else GENESIS_HASH,
    )
    event.hash = event_hash(event)
    db.session.add(event)
    db.session.flush()
    return event
