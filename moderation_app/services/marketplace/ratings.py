"""The seller's rating, as the marketplace defines it: star means over visible reviews."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload

from moderation_app.extensions import db
from moderation_app.models.marketplace import CRITERIA, Order, Review


@dataclass(frozen=True)
class SellerRating:
    review_count: int
    overall: float | None
    fulfillment: float | None
    start_time: float | None
    communication: float | None

    def criteria(self) -> dict[str, float | None]:
        return {criterion: getattr(self, criterion) for criterion in CRITERIA}


def rounded_mean(total: int, count: int) -> float:
    # Exact arithmetic, halves rounded up: 33/8 = 4.125 shows as 4.13 and 107/40 = 2.675 as 2.68.
    # round() on the float mean gives 4.12 (ties go to even) and 2.67 (stored just below 2.675).
    return float((Decimal(total) / count).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def seller_rating(seller_id: int) -> SellerRating:
    """Overall = mean of all three criteria over the seller's visible reviews
    (equal to the mean of the three criterion means, since every review rates all three)."""
    row = db.session.execute(
        select(
            func.count(),
            func.sum(Review.rating_fulfillment),
            func.sum(Review.rating_start_time),
            func.sum(Review.rating_communication),
        ).where(Review.seller_id == seller_id, Review.is_visible.is_(True))
    ).one()
    count, fulfillment, start_time, communication = row
    if not count:
        return SellerRating(0, None, None, None, None)
    return SellerRating(
        review_count=count,
        overall=rounded_mean(fulfillment + start_time + communication, 3 * count),
        fulfillment=rounded_mean(fulfillment, count),
        start_time=rounded_mean(start_time, count),
        communication=rounded_mean(communication, count),
    )


def seller_reviews(seller_id: int) -> Select:
    """The seller's reviews, newest first, with order, offer and buyer loaded (for paging)."""
    return (
        select(Review)
        .where(Review.seller_id == seller_id)
        .options(joinedload(Review.order).joinedload(Order.offer), joinedload(Review.buyer))
        .order_by(Review.created_at.desc(), Review.id.desc())
    )
