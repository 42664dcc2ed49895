"""seller_rating(): star means over a seller's visible reviews, without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from flask import Flask

from moderation_app.extensions import db
from moderation_app.models.marketplace import Buyer, Offer, Order, OrderStatus, Review
from moderation_app.models.users import Role, User
from moderation_app.services.marketplace.ratings import SellerRating, seller_rating
from tests.helpers.accounts import make_user

Stars = tuple[int, int, int]  # fulfillment, start time, communication
_serial = count(1)


def add_reviews(app: Flask, seller: User, stars: list[Stars], *, visible: bool = True) -> None:
    """One offer, and one buyer, order and review per entry of `stars`."""
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    with app.app_context():
        offer = Offer(external_id=f"offer-{next(_serial)}", title="Logo design", seller_id=seller.id)
        db.session.add(offer)
        for number, (fulfillment, start_time, communication) in enumerate(stars):
            serial = next(_serial)
            buyer = Buyer(username=f"buyer-{serial}")
            order = Order(external_id=f"order-{serial}", status=OrderStatus.FINISHED,
                          offer=offer, buyer=buyer)
            db.session.add(Review(
                external_id=f"review-{serial}", order=order, seller_id=seller.id, buyer=buyer,
                rating_fulfillment=fulfillment, rating_start_time=start_time,
                rating_communication=communication, text="", is_visible=visible,
                created_at=start + timedelta(hours=number),
            ))
        db.session.commit()


def rating_of(app: Flask, seller: User) -> SellerRating:
    with app.app_context():
        return seller_rating(seller.id)


@pytest.fixture
def seller(app: Flask) -> User:
    # No password: these tests never sign in, and scrypt is slow.
    return make_user(app, "seller@example.com", Role.SELLER, password=None)


def test_seller_without_reviews_has_no_rating(app, seller):
    assert rating_of(app, seller) == SellerRating(0, None, None, None, None)


def test_overall_is_the_mean_of_all_three_criteria_and_each_criterion_has_its_own(app, seller):
    add_reviews(app, seller, [(5, 4, 3), (4, 4, 1)])

    rating = rating_of(app, seller)

    assert rating.review_count == 2
    assert rating.fulfillment == 4.5
    assert rating.start_time == 4.0
    assert rating.communication == 2.0
    assert rating.overall == 3.5  # 21 stars over 6 ratings
    assert rating.criteria() == {"fulfillment": 4.5, "start_time": 4.0, "communication": 2.0}


def test_means_are_rounded_to_two_decimals(app, seller):
    add_reviews(app, seller, [(5, 5, 5), (4, 4, 4), (4, 5, 5)])

    rating = rating_of(app, seller)

    assert rating.fulfillment == 4.33   # 13 / 3
    assert rating.start_time == 4.67    # 14 / 3
    assert rating.communication == 4.67
    assert rating.overall == 4.56       # 41 / 9


@pytest.mark.parametrize(("stars", "expected"), [
    ([5] + [4] * 7, 4.13),          # 33 / 8 = 4.125, exact in binary: round() ties to even, 4.12
    ([5] * 3 + [4] * 5, 4.38),      # 35 / 8 = 4.375
    ([3] * 27 + [2] * 13, 2.68),    # 107 / 40 = 2.675, just below it in binary: round() gives 2.67
])
def test_a_mean_exactly_halfway_rounds_up(app, seller, stars, expected):
    add_reviews(app, seller, [(value, 3, 3) for value in stars])

    assert rating_of(app, seller).fulfillment == expected


def test_hidden_reviews_do_not_count(app, seller):
    add_reviews(app, seller, [(5, 5, 5), (5, 4, 5)])
    add_reviews(app, seller, [(1, 1, 1), (1, 1, 2)], visible=False)

    rating = rating_of(app, seller)

    assert rating.review_count == 2
    assert rating.fulfillment == 5.0
    assert rating.start_time == 4.5
    assert rating.overall == 4.83  # 29 / 6


def test_seller_whose_reviews_are_all_hidden_has_no_rating(app, seller):
    add_reviews(app, seller, [(1, 1, 1)], visible=False)

    assert rating_of(app, seller) == SellerRating(0, None, None, None, None)


def test_other_sellers_reviews_do_not_count(app, seller):
    other = make_user(app, "other@example.com", Role.SELLER, password=None)
    add_reviews(app, seller, [(4, 4, 4)])
    add_reviews(app, other, [(1, 1, 1), (2, 2, 2)])

    assert rating_of(app, seller) == SellerRating(1, 4.0, 4.0, 4.0, 4.0)
    assert rating_of(app, other).overall == 1.5
