"""The marketplace's side of things, as imported: buyers, offers, orders and reviews."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from moderation_app.database import UTCDateTime, utcnow
from moderation_app.extensions import db
from moderation_app.models.users import User, enum_values

EXTERNAL_ID_LENGTH = 64


class OrderStatus(enum.StrEnum):
    NEW = "new"
    PAID = "paid"
    IN_PROGRESS = "in_progress"
    DELIVERED = "delivered"
    DISPUTED = "disputed"
    FINISHED = "finished"
    REFUND = "refund"
    CANCELED = "canceled"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


# The platform lets a buyer review a seller only on these orders.
REVIEWABLE_ORDER_STATUSES = frozenset({OrderStatus.FINISHED, OrderStatus.REFUND, OrderStatus.CANCELED})

# The three things a buyer rates, 1-5 stars each; a review's column for each is rating_<key>.
CRITERION_LABELS = {
    "fulfillment": "Order fulfillment",
    "start_time": "Start time",
    "communication": "Communication",
}
CRITERIA = tuple(CRITERION_LABELS)


class Buyer(db.Model):
    """A marketplace buyer; buyers never log in to the desk."""

    __tablename__ = "buyers"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)


class Offer(db.Model):
    __tablename__ = "offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)

    seller: Mapped[User] = relationship()


class Order(db.Model):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH), unique=True)
    status: Mapped[OrderStatus] = mapped_column(
        Enum(OrderStatus, name="order_status", native_enum=False, create_constraint=True,
             length=16, values_callable=enum_values)
    )
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"), index=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyers.id"), index=True)

    offer: Mapped[Offer] = relationship()
    buyer: Mapped[Buyer] = relationship()

    @property
    def is_reviewable(self) -> bool:
        return self.status in REVIEWABLE_ORDER_STATUSES


class Review(db.Model):
    __tablename__ = "reviews"
    __table_args__ = (
        CheckConstraint("rating_fulfillment BETWEEN 1 AND 5", name="rating_fulfillment_range"),
        CheckConstraint("rating_start_time BETWEEN 1 AND 5", name="rating_start_time_range"),
        CheckConstraint("rating_communication BETWEEN 1 AND 5", name="rating_communication_range"),
        # The seller's page lists one seller's reviews newest first.
        Index("ix_reviews_seller_created", "seller_id", "created_at", "id"),
        # Covers the rating aggregate, so it is an index-only scan even for large sellers.
        Index("ix_reviews_seller_rating", "seller_id", "is_visible", "rating_fulfillment",
              "rating_start_time", "rating_communication"),
        Index("ix_reviews_buyer_created", "buyer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    # Denormalised from the order's offer so per-seller pages and ratings need no joins.
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyers.id"))
    rating_fulfillment: Mapped[int] = mapped_column(SmallInteger)
    rating_start_time: Mapped[int] = mapped_column(SmallInteger)
    rating_communication: Mapped[int] = mapped_column(SmallInteger)
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # False once a deletion request is approved: gone from the public seller page and the rating
    # (the seller still sees it on the desk, marked as removed).
    is_visible: Mapped[bool] = mapped_column(Boolean, default=True)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    order: Mapped[Order] = relationship()
    seller: Mapped[User] = relationship()
    buyer: Mapped[Buyer] = relationship()

    @property
    def ratings(self) -> dict[str, int]:
        return {criterion: getattr(self, f"rating_{criterion}") for criterion in CRITERIA}
