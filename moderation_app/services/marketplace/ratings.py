"""The seller's rating, as the marketplace defines it: star means over visible reviews."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import joinedload

from moderation_app.extensions import db
from moderation_app.models.counters import SellerRatingTotals
from moderation_app.models.marketplace import CRITERIA, Offer, Order, Review
from moderation_app.services.keyset import KeysetPage, Position, newest_first


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
    (equal to the mean of the three criterion means, since every review rates all three).
    One row: the totals the database keeps per seller (models/counters.py)."""
    # Columns, not the mapped object: a trigger may have changed the row since this session
    # last loaded it (a decision hiding a review), and the identity map would not know.
    totals = db.session.execute(
        select(SellerRatingTotals.reviews, SellerRatingTotals.fulfillment,
               SellerRatingTotals.start_time, SellerRatingTotals.communication)
        .where(SellerRatingTotals.seller_id == seller_id)).first()
    if totals is None or not totals.reviews:
        return SellerRating(0, None, None, None, None)
    count, fulfillment, start_time, communication = totals
    return SellerRating(
        review_count=count,
        overall=rounded_mean(fulfillment + start_time + communication, 3 * count),
        fulfillment=rounded_mean(fulfillment, count),
        start_time=rounded_mean(start_time, count),
        communication=rounded_mean(communication, count),
    )


@dataclass(frozen=True)
class ReviewFilters:
    """Narrowing of a seller's review list. `stars` is the review's lowest criterion (1-5): a
    review that fails on one criterion is the one a seller looks for, and an average hides it.
    `since`/`until` are aware instants, `until` exclusive (the caller turns days into them)."""

    stars: int | None = None
    offer_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def seller_offers(seller_id: int) -> list[Offer]:
    """The seller's offers by title, for the offer filter."""
    return list(db.session.scalars(
        select(Offer).where(Offer.seller_id == seller_id).order_by(Offer.title, Offer.id)))


def seller_reviews(seller_id: int, filters: ReviewFilters | None = None, position: Position = Position(),
                   size: int = 25) -> KeysetPage:
    """A page of the seller's reviews, newest first, with order, offer and buyer loaded. Keyed on
    ix_reviews_seller_created (seller_id, created_at, id): any page is one seek. A filter is checked
    on the rows met along that index (the date range bounds it), so a rare one reads further."""
    query = (
        select(Review)
        .where(Review.seller_id == seller_id)
        .options(joinedload(Review.order).joinedload(Order.offer), joinedload(Review.buyer))
    )
    filters = filters or ReviewFilters()
    if filters.stars is not None:
        # Lowest criterion == stars, written without LEAST()/MIN(a, b, c), which differ by database.
        ratings = (Review.rating_fulfillment, Review.rating_start_time, Review.rating_communication)
        query = query.where(*(rating >= filters.stars for rating in ratings),
                            or_(*(rating == filters.stars for rating in ratings)))
    if filters.offer_id is not None:
        # EXISTS, not IN: SQLite drives an IN from the offer's orders and sorts its 50,000 reviews
        # (265 ms at half a million); with EXISTS both databases walk the seller's index (0.1 ms).
        query = query.where(exists().where(Order.id == Review.order_id, Order.offer_id == filters.offer_id))
    if filters.since is not None:
        query = query.where(Review.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(Review.created_at < filters.until)
    return newest_first(query, Review.created_at, Review.id, position, size)
