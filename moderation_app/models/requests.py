"""Deletion requests a seller files against a review, and the messages exchanged on them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from moderation_app.extensions import db
from moderation_app.database import UTCDateTime, utcnow
from moderation_app.models.marketplace import Review
from moderation_app.models.users import User, enum_values


class Reason(enum.StrEnum):
    """The four grounds the platform accepts for deleting a review, and nothing else."""

    COMPETITOR_ATTACK = "competitor_attack"
    WRONG_OFFER = "wrong_offer"
    BLACKMAIL = "blackmail"
    UNRELATED_FEEDBACK = "unrelated_feedback"


class RequestStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    NEEDS_INFO = "needs_info"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


OPEN_STATUSES = frozenset({RequestStatus.SUBMITTED, RequestStatus.NEEDS_INFO})
FINAL_STATUSES = frozenset({RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.WITHDRAWN})

_OPEN_SQL = text("status IN ('submitted', 'needs_info')")


class DeletionRequest(db.Model):
    __tablename__ = "deletion_requests"
    __table_args__ = (
        # At most one open request per review, enforced by the database itself.
        Index("uq_deletion_requests_open_review", "review_id", unique=True,
              sqlite_where=_OPEN_SQL, postgresql_where=_OPEN_SQL),
        # The queue: open requests oldest first, then by id for stable keyset pages.
        Index("ix_deletion_requests_status_submitted", "status", "submitted_at", "id"),
        Index("ix_deletion_requests_seller_submitted", "seller_id", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), index=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[Reason] = mapped_column(
        Enum(Reason, name="reason", native_enum=False, create_constraint=True,
             length=32, values_callable=enum_values)
    )
    explanation: Mapped[str] = mapped_column(Text)
    status: Mapped[RequestStatus] = mapped_column(
        Enum(RequestStatus, name="request_status", native_enum=False, create_constraint=True,
             length=16, values_callable=enum_values),
        default=RequestStatus.SUBMITTED,
    )
    # The queue orders by this, and it does not move when the seller answers a question.
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Optimistic lock: a stale writer's UPDATE matches no row and fails instead of overwriting.
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    review: Mapped[Review] = relationship()
    seller: Mapped[User] = relationship(foreign_keys=[seller_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    messages: Mapped[list[RequestMessage]] = relationship(
        back_populates="request", order_by="RequestMessage.id"
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class MessageKind(enum.StrEnum):
    INFO_REQUESTED = "info_requested"    # agent's question to the seller
    SELLER_REPLY = "seller_reply"        # seller's answer, possibly with more evidence
    DECISION = "decision"                # public reason for approve/reject
    INTERNAL_NOTE = "internal_note"      # staff only, never shown to the seller


class RequestMessage(db.Model):
    __tablename__ = "request_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("deletion_requests.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[MessageKind] = mapped_column(
        Enum(MessageKind, name="message_kind", native_enum=False, create_constraint=True,
             length=16, values_callable=enum_values)
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    request: Mapped[DeletionRequest] = relationship(back_populates="messages")
    author: Mapped[User] = relationship()

    @property
    def is_internal(self) -> bool:
        return self.kind is MessageKind.INTERNAL_NOTE
