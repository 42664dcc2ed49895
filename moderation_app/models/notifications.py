"""The notifications outbox: one row per e-mail a seller is owed, written in the transaction of the
event it tells about (a decision, a question) and delivered after commit by
`flask notifications send` (services/notifications, docs/notifications.md)."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from moderation_app.database import UTCDateTime, utcnow
from moderation_app.extensions import db
from moderation_app.models.requests import DecisionRecord, DeletionRequest
from moderation_app.models.users import User, enum_values


class NotificationKind(enum.StrEnum):
    REQUEST_DECIDED = "request_decided"
    INFORMATION_REQUESTED = "information_requested"
    APPEAL_DECIDED = "appeal_decided"


class NotificationStatus(enum.StrEnum):
    PENDING = "pending"   # due at next_attempt_at (also while SMTP_URL is unset)
    SENT = "sent"         # the SMTP server accepted it; never sent again
    FAILED = "failed"     # gave up after the last allowed attempt; a manager must look

    @property
    def label(self) -> str:
        return {"failed": "Gave up"}.get(self.value, self.value.capitalize())


def new_message_token() -> str:
    return secrets.token_hex(16)


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        # One event, one e-mail: enqueuing the same event twice fails in the database itself.
        UniqueConstraint("kind", "request_id", "decision_id",
                         name="uq_notifications_kind_request_decision"),
        # The sender's "what is due" and the managers' "what is undelivered", both by status.
        Index("ix_notifications_status_next_attempt", "status", "next_attempt_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[NotificationKind] = mapped_column(
        Enum(NotificationKind, name="notification_kind", native_enum=False,
             create_constraint=True, length=32, values_callable=enum_values))
    request_id: Mapped[int] = mapped_column(ForeignKey("deletion_requests.id"), index=True)
    # The decision row (approve, reject or request_info) the e-mail tells about.
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"))
    # The seller; the address is read when sending, so a corrected address is used.
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[NotificationStatus] = mapped_column(
        Enum(NotificationStatus, name="notification_status", native_enum=False,
             create_constraint=True, length=16, values_callable=enum_values),
        default=NotificationStatus.PENDING)
    # The Message-ID's left part, fixed when enqueued: a resend after a crash between the SMTP
    # server's acceptance and our mark carries the same Message-ID, so a receiver can tell.
    message_token: Mapped[str] = mapped_column(String(32), unique=True, default=new_message_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    request: Mapped[DeletionRequest] = relationship()
    decision: Mapped[DecisionRecord] = relationship()
    recipient: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<Notification {self.id} {self.kind} request {self.request_id} {self.status}>"
