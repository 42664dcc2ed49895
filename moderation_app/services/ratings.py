"""The seller's rating, as the marketplace defines it: star means over visible reviews."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from moderation_app.extensions import db
from moderation_app.models.marketplace import Review


@dataclass(frozen=True)
class SellerRating:
    review_count: int
    overall: float | None
    fulfillment: float | None
    start_time: float | None
    communication: float | None

    def criteria(self) -> dict[str, float | None]:
        return {
            "fulfillment": self.fulfillment,
            "start_time": self.start_time,
            "communication": self.communication,
        }


def seller_rating(seller_id: int) -> SellerRating:
    """Overall = mean of all three criteria over the seller's visible reviews
    (equal to the mean of the three criterion means, since every review rates all three)."""
    row = db.session.execute(
        select(
            func.count(),
            func.avg(Review.rating_fulfillment),
            func.avg(Review.rating_start_time),
            func.avg(Review.rating_communication),
        ).where(Review.seller_id == seller_id, Review.is_visible.is_(True))
    ).one()
    count, fulfillment, start_time, communication = row
    if not count:
        return SellerRating(0, None, None, None, None)
    means = [float(fulfillment), float(start_time), float(communication)]
    return SellerRating(
        review_count=count,
        overall=round(sum(means) / 3, 2),
        fulfillment=round(means[0], 2),
        start_time=round(means[1], 2),
        communication=round(means[2], 2),
    )
