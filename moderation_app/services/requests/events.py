"""What the audit log recorded about one request: the newest event of each action a page reads.
The log is the record of a decision's rating figures and of a take-over (see decisions.py and
claims.py); a page that shows both reads them together."""

from __future__ import annotations

from sqlalchemy import select, union_all

from moderation_app.extensions import db
from moderation_app.models.audit import AuditEvent


def latest_events(request_id: int, *actions: str) -> dict[str, AuditEvent]:
    """The newest event of each of `actions` about the request, by action (absent: none yet).
    One statement whatever the actions: a seek per action on ix_audit_events_request_id."""
    newest = [select(AuditEvent.id)
              .where(AuditEvent.request_id == request_id, AuditEvent.action == action)
              .order_by(AuditEvent.id.desc()).limit(1).subquery().select()
              for action in actions]
    return {event.action: event for event in db.session.scalars(
        select(AuditEvent).where(AuditEvent.id.in_(union_all(*newest))))}
