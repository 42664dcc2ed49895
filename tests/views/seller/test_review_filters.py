"""The seller's review list filtered through HTTP: by lowest star, by offer, by day in the seller's
time zone; filters kept in the page links; bad values ignored with a message; a quiet "Request
deletion"; and a number of SQL statements that does not grow with the page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from moderation_app.extensions import db
from moderation_app.models.users import User
from tests.helpers.database import counted_statements
from tests.helpers.marketplace import import_reviews, review_line
from tests.helpers.pages import pager_links

REVIEW_TEXT = re.compile(r'<p class="review-text">(.*?)</p>', re.DOTALL)


def shown(client, **args: str) -> list[str]:
    response = client.get("/seller/reviews", query_string=args)
    assert response.status_code == 200
    return REVIEW_TEXT.findall(response.get_data(as_text=True))


def body_of(client, **args: str) -> str:
    response = client.get("/seller/reviews", query_string=args)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def on_offer(line: dict, offer_id: str, title: str) -> dict:
    return {**line, "offer_id": offer_id, "offer_title": title}


# --- stars ---------------------------------------------------------------------------------------

def test_stars_filter_keeps_reviews_whose_lowest_criterion_has_that_many_stars(app, seller,
                                                                              seller_client):
    import_reviews(app, [
        review_line(seller, (1, 5, 5), text="one low"),
        review_line(seller, (2, 2, 3), text="lowest two"),
        review_line(seller, (5, 5, 5), text="all five"),
        review_line(seller, (3, 1, 4), text="one in the middle"),
    ])

    assert sorted(shown(seller_client, stars="1")) == ["one in the middle", "one low"]
    assert shown(seller_client, stars="2") == ["lowest two"]
    assert shown(seller_client, stars="5") == ["all five"]
    assert shown(seller_client, stars="4") == []


@pytest.mark.parametrize("value", ["0", "6", "abc", "1.5", "-1", "１"])
def test_a_bad_stars_value_is_ignored_with_a_message(app, seller, seller_client, value):
    import_reviews(app, [review_line(seller, (1, 1, 1), text="a"), review_line(seller, (5, 5, 5), text="b")])

    body = body_of(seller_client, stars=value)

    assert sorted(REVIEW_TEXT.findall(body)) == ["a", "b"]
    assert "is not a number of stars from 1 to 5; showing every rating." in body


# --- offer ---------------------------------------------------------------------------------------

def test_offer_filter_shows_that_offers_reviews_and_the_select_lists_only_the_sellers_offers(
        app, seller, other_seller, seller_client):
    import_reviews(app, [
        on_offer(review_line(seller, text="logo 1"), "F-LOGO", "Logo design"),
        on_offer(review_line(seller, text="logo 2"), "F-LOGO", "Logo design"),
        on_offer(review_line(seller, text="site"), "F-SITE", "Website"),
        on_offer(review_line(other_seller, text="theirs"), "F-THEIRS", "Their banner"),
    ])

    body = body_of(seller_client, offer="F-LOGO")

    assert sorted(REVIEW_TEXT.findall(body)) == ["logo 1", "logo 2"]
    assert '<option value="F-LOGO" selected>Logo design</option>' in body
    assert '<option value="F-SITE" >Website</option>' in body
    assert "F-THEIRS" not in body and "Their banner" not in body


@pytest.mark.parametrize("value", ["F-THEIRS", "F-NOPE", "x" * 500])
def test_an_offer_that_is_not_the_sellers_is_ignored_with_a_message(app, seller, other_seller,
                                                                    seller_client, value):
    import_reviews(app, [
        on_offer(review_line(seller, text="mine"), "F-MINE", "Mine"),
        on_offer(review_line(other_seller, text="theirs"), "F-THEIRS", "Theirs"),
    ])

    body = body_of(seller_client, offer=value)

    assert REVIEW_TEXT.findall(body) == ["mine"]
    assert "is not one of your offers; showing every offer." in body


# --- dates ---------------------------------------------------------------------------------------

def test_date_filter_is_inclusive_of_both_days(app, seller, seller_client):
    import_reviews(app, [review_line(seller, text=f"day {day}",
                                     created_at=datetime(2026, 3, day, 12, 0, tzinfo=UTC))
                         for day in (1, 2, 3, 4)])

    assert shown(seller_client, since="2026-03-02", until="2026-03-03") == ["day 3", "day 2"]
    assert shown(seller_client, since="2026-03-04") == ["day 4"]
    assert shown(seller_client, until="2026-03-01") == ["day 1"]


def test_dates_are_days_in_the_sellers_time_zone(app, seller, seller_client):
    with app.app_context():
        db.session.execute(update(User).where(User.id == seller.id).values(timezone="Asia/Tokyo"))
        db.session.commit()
    # 2026-02-03 20:00 UTC is 2026-02-04 05:00 in Tokyo, where the list shows it.
    late = datetime(2026, 2, 3, 20, 0, tzinfo=UTC)
    import_reviews(app, [review_line(seller, text="late", created_at=late)])

    assert shown(seller_client, since="2026-02-04", until="2026-02-04") == ["late"]
    assert shown(seller_client, until="2026-02-03") == []


@pytest.mark.parametrize("args, message", [
    ({"since": "yesterday"}, "“yesterday” is not a date (use YYYY-MM-DD); the start date is ignored."),
    ({"until": "2026-02-30"}, "“2026-02-30” is not a date (use YYYY-MM-DD); the end date is ignored."),
    ({"since": "0001-01-01"}, "is outside 2000-01-01 to 9998-12-31; the start date is ignored."),
    ({"until": "9999-12-31"}, "is outside 2000-01-01 to 9998-12-31; the end date is ignored."),
    ({"since": "2026-03-05", "until": "2026-03-01"}, "The start date is after the end date"),
])
def test_bad_dates_are_reported_and_never_a_500(app, seller, seller_client, args, message):
    import_reviews(app, [review_line(seller, text="any")])

    body = body_of(seller_client, **args)

    assert message in body


# --- together, links, empty state ----------------------------------------------------------------

def test_filters_are_kept_in_the_page_links_and_the_form(app, seller, seller_client):
    start = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    import_reviews(app, [on_offer(review_line(seller, (1, 3, 3), text=f"r{number:02d}",
                                              created_at=start + timedelta(days=number)),
                                  "F-LOGO", "Logo")
                         for number in range(1, 31)]
                   + [review_line(seller, (5, 5, 5), text="excluded")])
    args = {"stars": "1", "offer": "F-LOGO", "since": "2026-01-01", "until": "2026-12-31"}

    first = body_of(seller_client, **args)
    next_link = pager_links(first)["Older"]
    second = seller_client.get(next_link).get_data(as_text=True)

    for key, value in args.items():
        assert f"{key}={value}" in next_link
    assert "after=" in next_link
    assert len(REVIEW_TEXT.findall(first)) == 25
    assert REVIEW_TEXT.findall(second) == [f"r{number:02d}" for number in range(5, 0, -1)]
    assert '<option value="1" selected>' in first
    assert 'name="since" value="2026-01-01"' in first
    assert "Clear the filters" in first


def test_filters_matching_nothing_say_so_and_offer_to_clear_them(app, seller, seller_client):
    import_reviews(app, [review_line(seller, (1, 1, 1), text="low")])

    body = body_of(seller_client, stars="5")

    assert "No reviews match these filters" in body
    assert "No reviews yet" not in body
    # The rating still counts every visible review.
    assert "from 1 visible review" in body


def test_request_deletion_is_a_quiet_link_naming_its_review(app, seller, seller_client):
    (review_id,) = import_reviews(app, [review_line(seller, (5, 5, 5))])

    body = body_of(seller_client)

    link = re.search(rf'<a class="([^"]*)" href="/seller/reviews/{review_id}/deletion-request">(.*?)</a>',
                     body)
    assert link, "a five-star review can still be challenged"
    assert "button" not in link.group(1).split()
    assert link.group(2) == f'Request deletion<span class="sr-only"> of review {review_id}</span>'


# --- statements ----------------------------------------------------------------------------------

def statements_for(app, client, **args: str) -> int:
    with counted_statements(app) as statements:
        body_of(client, **args)
    return len(statements)


def test_the_filtered_page_runs_as_many_statements_for_two_reviews_as_for_a_full_page(
        app, seller, seller_client):
    args = {"stars": "1", "since": "2026-01-01", "until": "2026-12-31", "offer": "F-0"}
    import_reviews(app, [on_offer(review_line(seller, (1, 2, 3), text=f"r{n}"), f"F-{n % 2}", f"Offer {n}")
                         for n in range(3)])
    few = statements_for(app, seller_client, **args)
    import_reviews(app, [on_offer(review_line(seller, (1, 2, 3), text=f"more {n}"), "F-0", "Offer 0")
                         for n in range(40)])

    with counted_statements(app) as statements:
        body = body_of(seller_client, **args)

    assert len(REVIEW_TEXT.findall(body)) == 25
    assert len(statements) == few
