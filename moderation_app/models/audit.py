"""The append-only, hash-chained audit log. The ORM refuses to change or delete events here;
the database refuses too (triggers, see migrations), so raw SQL cannot quietly do it either."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, scoped_session

from moderation_app.database import UTCDateTime
from moderation_app.extensions import db

GENESIS_HASH = "0" * 64


class AuditEvent(db.Model):
    """One event. `id` is assigned by the appender (previous id + 1), so two writers that
    raced for the same place in the chain collide on the primary key instead of forking it."""

    __tablename__ = "audit_events"
    __table_args__ = (
        # One actor's events newest first, and the distinct actors: the viewer's actor filter
        # (migrations c5d6e7f8a9b0, a1b2c3d4e5f7).
        Index("ix_audit_events_actor_email_id", "actor_email", "id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_email: Mapped[str] = mapped_column(String(254))
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64), index=True)
    request_id: Mapped[int | None] = mapped_column(Integer, index=True)
    review_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # Canonical JSON text, exactly what the hash covers.
    details: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditLogIsAppendOnly(RuntimeError):
    """Someone tried to change or remove an audit event through the ORM."""


def _refuse_changed_events(session: Session, _context: object, _instances: object) -> None:
    for instance in (*session.dirty, *session.deleted):
        if isinstance(instance, AuditEvent) and (
            instance in session.deleted or session.is_modified(instance)
        ):
            raise AuditLogIsAppendOnly("audit events cannot be changed or deleted")


def _refuse_bulk_changes(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and any(
        mapper.class_ is AuditEvent for mapper in state.all_mappers
    ):
        raise AuditLogIsAppendOnly("audit events cannot be changed or deleted")


_GUARDS = (("before_flush", _refuse_changed_events), ("do_orm_execute", _refuse_bulk_changes))


def guard_audit_events(session: scoped_session) -> None:
    """Make `session` (the app's db.session) refuse ORM changes to audit events; create_app
    calls this. Idempotent: many apps in one process (tests) share one session factory."""
    for name, guard in _GUARDS:
        if not event.contains(session, name, guard):
            event.listen(session, name, guard)
