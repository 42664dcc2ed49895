"""The seller's reviews page: only their own reviews, the rating summary, removed reviews,
pages of PAGE_SIZE newest first, the empty state and escaping."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from moderation_app.extensions import db
from moderation_app.models.users import User
from tests.helpers.marketplace import hide_review, import_reviews, review_line
from tests.helpers.pages import pager_links

REVIEW_TEXT = re.compile(r'<p class="review-text">(.*?)</p>', re.DOTALL)


def reviews_page(client, page: int | None = None) -> str:
    response = client.get("/seller/reviews", query_string={"page": page} if page else None)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def shown_texts(body: str) -> list[str]:
    return REVIEW_TEXT.findall(body)


def stars_shown(body: str, label: str) -> list[int]:
    pattern = re.escape(label) + r'</span>\s*<span class="stars" aria-label="(\d) of 5 stars"'
    return [int(value) for value in re.findall(pattern, body)]


def summary_value(body: str, label: str) -> str:
    match = re.search(rf"<dt>{re.escape(label)}</dt><dd>\s*([^<]*?)\s*</dd>", body)
    assert match, f"no {label} in the rating summary"
    return match.group(1)


def overall_shown(body: str) -> str:
    match = re.search(r'<span class="big-number">\s*([^<]*?)\s*</span>', body)
    assert match, "no overall rating shown"
    return match.group(1)


def test_seller_sees_only_their_own_reviews(app, seller, other_seller, seller_client):
    import_reviews(app, [
        review_line(seller, text="mine, the first", offer_title="My logo offer"),
        review_line(other_seller, text="someone else's", offer_title="Their banner offer"),
        review_line(seller, text="mine, the second", offer_title="My logo offer"),
    ])

    body = reviews_page(seller_client)

    assert sorted(shown_texts(body)) == ["mine, the first", "mine, the second"]
    assert "Their banner offer" not in body


def test_each_review_shows_stars_per_criterion_text_order_status_offer_and_date(app, seller, seller_client):
    import_reviews(app, [review_line(
        seller, (5, 3, 1), text="Late but good", offer_title="Three-page website",
        order_status="refund", buyer="fastbuyer", created_at=datetime(2026, 2, 3, 10, 0, tzinfo=UTC),
    )])

    body = reviews_page(seller_client)

    assert stars_shown(body, "Order fulfillment") == [5]
    assert stars_shown(body, "Start time") == [3]
    assert stars_shown(body, "Communication") == [1]
    assert shown_texts(body) == ["Late but good"]
    assert "Refund" in body
    assert "Three-page website" in body
    assert "fastbuyer" in body
    assert "2026-02-03" in body


def test_review_date_is_shown_in_the_sellers_timezone(app, seller, seller_client):
    with app.app_context():
        db.session.execute(update(User).where(User.id == seller.id).values(timezone="Asia/Tokyo"))
        db.session.commit()
    import_reviews(app, [review_line(seller, created_at=datetime(2026, 2, 3, 20, 0, tzinfo=UTC))])

    body = reviews_page(seller_client)

    # The UTC day stays in the markup, as the tooltip (title) and datetime of the <time>.
    assert '<time datetime="2026-02-03T20:00:00Z" title="2026-02-03 20:00 UTC">2026-02-04 JST</time>' in body


def test_rating_summary_matches_the_formula(app, seller, seller_client):
    import_reviews(app, [
        review_line(seller, (5, 4, 3)),
        review_line(seller, (4, 4, 1)),
        review_line(seller, (3, 5, 5)),
    ])

    body = reviews_page(seller_client)

    # Criterion means 12/3, 13/3, 9/3; overall 34 stars over 9 ratings.
    assert summary_value(body, "Order fulfillment") == "4.00"
    assert summary_value(body, "Start time") == "4.33"
    assert summary_value(body, "Communication") == "3.00"
    assert overall_shown(body) == "3.78"
    assert "from 3 visible reviews" in body


def test_hidden_review_is_shown_as_removed_and_left_out_of_the_rating(app, seller, seller_client):
    kept = review_line(seller, (5, 5, 5), text="excellent")
    removed = review_line(seller, (1, 1, 1), text="blackmail attempt")
    import_reviews(app, [kept, removed])
    hide_review(app, removed["review_id"])

    body = reviews_page(seller_client)

    assert sorted(shown_texts(body)) == ["blackmail attempt", "excellent"]
    assert body.count("Removed from your page") == 1
    assert overall_shown(body) == "5.00"
    assert summary_value(body, "Communication") == "5.00"
    assert "from 1 visible review" in body


def test_reviews_come_in_pages_of_25_newest_first(app, seller, seller_client):
    start = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    import_reviews(app, [review_line(seller, text=f"review {number:02d}",
                                     created_at=start + timedelta(days=number))
                         for number in range(1, 31)])

    first = reviews_page(seller_client)
    second = seller_client.get(pager_links(first)["Older"]).get_data(as_text=True)

    assert shown_texts(first) == [f"review {number:02d}" for number in range(30, 5, -1)]
    assert shown_texts(second) == [f"review {number:02d}" for number in range(5, 0, -1)]
    # An old numbered link still opens the second page.
    assert shown_texts(reviews_page(seller_client, page=2)) == shown_texts(second)
    assert set(pager_links(second)) == {"Newest", "Newer"}
    # The rating counts every visible review, not only the page's.
    assert "from 30 visible reviews" in second


def test_page_past_the_last_shows_no_reviews(app, seller, seller_client):
    import_reviews(app, [review_line(seller, text="the only one")])

    assert shown_texts(reviews_page(seller_client, page=9)) == []


def test_seller_without_reviews_sees_the_empty_state(seller_client):
    body = reviews_page(seller_client)

    assert "No reviews yet" in body
    assert "You have no visible reviews yet, so you have no rating." in body
    assert "<table" not in body


def test_html_in_reviews_is_escaped(app, seller, seller_client):
    import_reviews(app, [review_line(
        seller, text='<script>alert("text")</script>', offer_title="<img src=x onerror=alert(1)>",
        buyer="<b>buyer</b>",
    )])

    body = reviews_page(seller_client)

    assert "<script>alert" not in body
    assert "&lt;script&gt;alert(&#34;text&#34;)&lt;/script&gt;" in body
    assert "<img src=x" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
    assert "<b>buyer</b>" not in body
    assert "&lt;b&gt;buyer&lt;/b&gt;" in body
