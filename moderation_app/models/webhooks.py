"""The marketplace's webhook outbox: one row per event a decision owes the marketplace, written in
the decision's transaction with its JSON body fixed there, and one row per delivery attempt.
Delivered after commit by `flask webhooks send` (services/webhooks, docs/webhooks.md)."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from moderation_app.database import UTCDateTime, utcnow
from moderation_app.extensions import db
from moderation_app.models.marketplace import Review
from moderation_app.models.requests import DecisionRecord, DeletionRequest
from moderation_app.models.users import enum_values


class WebhookEventType(enum.StrEnum):
    REQUEST_DECIDED = "request.decided"
    REQUEST_NEEDS_INFO = "request.needs_info"
    REVIEW_REMOVED = "review.removed"
    REVIEW_KEPT = "review.kept"


class WebhookStatus(enum.StrEnum):
    PENDING = "pending"      # due at next_attempt_at, once every earlier event of its review is delivered
    DELIVERED = "delivered"  # the marketplace answered 2xx; never sent again
    FAILED = "failed"        # gave up; blocks the review's later events until a manager retries it

    @property
    def label(self) -> str:
        return {"failed": "Gave up", "pending": "Waiting"}.get(self.value, self.value.capitalize())


def new_webhook_id() -> str:
    return f"msg_{secrets.token_hex(16)}"


class WebhookEvent(db.Model):
    __tablename__ = "webhook_events"
    __table_args__ = (
        # One decision emits each type at most once, refused by the database itself.
        UniqueConstraint("decision_id", "type", name="uq_webhook_events_decision_type"),
        # The sender's "what is due" and the managers' lists, by status.
        Index("ix_webhook_events_status_next_attempt", "status", "next_attempt_at", "id"),
        Index("ix_webhook_events_status_created", "status", "created_at", "id"),
        # Ordering per review: "is an earlier event of this review still undelivered?"
        Index("ix_webhook_events_review_id", "review_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The `webhook-id` header: fixed at enqueue, the same on every attempt, so the marketplace
    # deduplicates a resend (at-least-once delivery) by it.
    webhook_id: Mapped[str] = mapped_column(String(40), unique=True, default=new_webhook_id)
    type: Mapped[WebhookEventType] = mapped_column(
        Enum(WebhookEventType, name="webhook_event_type", native_enum=False,
             create_constraint=True, length=32, values_callable=enum_values))
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"))
    request_id: Mapped[int] = mapped_column(ForeignKey("deletion_requests.id"), index=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"))
    # The body, byte for byte as sent and signed: composed once, in the decision's transaction,
    # so a later change (a re-import of the review, an edited template) never alters an event.
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[WebhookStatus] = mapped_column(
        Enum(WebhookStatus, name="webhook_status", native_enum=False, create_constraint=True,
             length=16, values_callable=enum_values),
        default=WebhookStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The first failure of the current run of failures: the give-up clock (a manager's retry
    # starts a new run).
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    review: Mapped[Review] = relationship()
    request: Mapped[DeletionRequest] = relationship()
    decision: Mapped[DecisionRecord] = relationship()
    attempt_log: Mapped[list[WebhookAttempt]] = relationship(
        back_populates="event", order_by="WebhookAttempt.id")

    def __repr__(self) -> str:
        return f"<WebhookEvent {self.id} {self.type} review {self.review_id} {self.status}>"


class WebhookAttempt(db.Model):
    """One POST to the marketplace: when, how long, and its answer (a status) or error."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    duration_ms: Mapped[int] = mapped_column(Integer)
    # None when no HTTP answer came (refused connection, timeout, TLS error).
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)

    event: Mapped[WebhookEvent] = relationship(back_populates="attempt_log")
