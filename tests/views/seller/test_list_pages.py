"""The seller's lists (reviews, requests) in keyset pages through HTTP: newest, older, newer and
oldest pages, ties on the same second, old numbered links, unreadable cursors, the filters kept
across pages, and a forged cursor that never shows another seller's rows."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from moderation_app.services.keyset import encode_cursor
from tests.helpers.clients import page_text
from tests.helpers.marketplace import import_reviews, review_line
from tests.helpers.pages import pager_label, pager_links
from tests.helpers.requests import REQUEST_LINK, add_request

REVIEW_TEXT = re.compile(r'<p class="review-text">(.*?)</p>', re.DOTALL)
START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def body(client, url: str, **args: str) -> str:
    response = client.get(url, query_string=args or None)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def texts(page: str) -> list[str]:
    return REVIEW_TEXT.findall(page)


def numbered(count: int, seller, **line) -> list[dict]:
    """`count` reviews "r01".. one day apart, r01 the oldest."""
    return [review_line(seller, text=f"r{number:02d}", created_at=START + timedelta(days=number), **line)
            for number in range(1, count + 1)]


def names(first: int, last: int) -> list[str]:
    step = -1 if first > last else 1
    return [f"r{number:02d}" for number in range(first, last + step, step)]


@pytest.fixture
def sixty(app, seller):
    app.config["PAGE_SIZE"] = 25
    import_reviews(app, numbered(60, seller))


def test_older_links_walk_every_review_once_newest_first(app, seller, seller_client, sixty):
    first = body(seller_client, "/seller/reviews")
    second = body(seller_client, pager_links(first)["Older"])
    third = body(seller_client, pager_links(second)["Older"])

    assert texts(first) == names(60, 36)
    assert texts(second) == names(35, 11)
    assert texts(third) == names(10, 1)
    assert set(pager_links(first)) == {"Older", "Oldest"}
    assert set(pager_links(second)) == {"Newest", "Newer", "Older", "Oldest"}
    assert set(pager_links(third)) == {"Newest", "Newer"}
    assert pager_label(first) == "Pages of reviews"


def test_newer_leads_back_to_the_page_above(app, seller, seller_client, sixty):
    second = body(seller_client, pager_links(body(seller_client, "/seller/reviews"))["Older"])
    third = body(seller_client, pager_links(second)["Older"])

    assert texts(body(seller_client, pager_links(third)["Newer"])) == texts(second)
    back_on_top = body(seller_client, pager_links(second)["Newer"])
    assert texts(back_on_top) == names(60, 36)
    assert "Newest" not in pager_links(back_on_top) and "Newer" not in pager_links(back_on_top)


def test_the_oldest_page_holds_the_oldest_reviews_newest_first(app, seller, seller_client, sixty):
    last = body(seller_client, pager_links(body(seller_client, "/seller/reviews"))["Oldest"])

    assert texts(last) == names(25, 1)
    assert set(pager_links(last)) == {"Newest", "Newer"}
    assert texts(body(seller_client, pager_links(last)["Newer"])) == names(50, 26)


def test_reviews_of_the_same_second_are_neither_lost_nor_repeated(app, seller, seller_client):
    app.config["PAGE_SIZE"] = 4
    import_reviews(app, [review_line(seller, text=f"same {n}") for n in range(10)])  # one created_at

    seen, page = [], body(seller_client, "/seller/reviews")
    while True:
        seen += texts(page)
        if "Older" not in pager_links(page):
            break
        page = body(seller_client, pager_links(page)["Older"])

    assert sorted(seen) == sorted(f"same {n}" for n in range(10))


@pytest.mark.parametrize("args", [
    {"after": "garbage"}, {"before": "!!"}, {"after": ""}, {"after": "x" * 5000},
    {"after": encode_cursor(START, 1)[:-3]}, {"before": "MjAyNi0wMS0wMVQwOTowMDowMHwtMQ"},
    {"page": "abc"}, {"page": "-3"}, {"page": "0"}, {"page": "１"}, {"page": "9" * 400},
    {"page": "1e3"}, {"page": "last\x00"},
])
def test_unreadable_positions_open_the_newest_page(app, seller, seller_client, sixty, args):
    for url in ("/seller/reviews", "/seller/requests"):
        response = seller_client.get(url, query_string=args)
        assert response.status_code == 200, (url, args)
    assert texts(body(seller_client, "/seller/reviews", **args)) == names(60, 36)


def test_a_cursor_past_the_end_shows_an_empty_page_with_the_way_back(app, seller, seller_client, sixty):
    page = body(seller_client, "/seller/reviews", after=encode_cursor(START - timedelta(days=9), 1))

    assert texts(page) == []
    assert "No reviews this far down" in page
    assert '<a href="/seller/reviews">Back to the newest reviews</a>' in page


def test_an_old_page_number_opens_that_page_and_a_deep_one_the_newest_with_a_note(
        app, seller, seller_client, sixty):
    assert texts(body(seller_client, "/seller/reviews", page="3")) == names(10, 1)
    assert texts(body(seller_client, "/seller/reviews", page="9")) == []

    deep = body(seller_client, "/seller/reviews", page="41")

    assert texts(deep) == names(60, 36)
    assert "no longer numbered" in deep


def test_filters_are_kept_on_every_link_and_every_page(app, seller, seller_client):
    app.config["PAGE_SIZE"] = 10
    import_reviews(app, numbered(30, seller, stars=(1, 3, 3))
                   + [review_line(seller, (5, 5, 5), text=f"five {n}", created_at=START + timedelta(days=n))
                      for n in range(1, 31)])
    args = {"stars": "1", "since": "2026-01-05", "until": "2026-12-31"}

    first = body(seller_client, "/seller/reviews", **args)
    links = pager_links(first)
    for url in links.values():
        for key, value in args.items():
            assert f"{key}={value}" in url
    second = body(seller_client, links["Older"])
    last = body(seller_client, links["Oldest"])

    assert texts(first) == names(30, 21)
    assert texts(second) == names(20, 11)
    assert texts(last) == names(13, 4)  # the 4th is the first day since 2026-01-05
    for url in pager_links(second).values():
        assert "stars=1" in url


def test_a_forged_cursor_never_shows_another_sellers_reviews(app, seller, other_seller, seller_client):
    import_reviews(app, numbered(3, seller)
                   + [review_line(other_seller, text=f"theirs {n}", created_at=START + timedelta(days=n, hours=1))
                      for n in range(1, 40)])
    # A cursor just past every row of the other seller, and one at the top of everything.
    for cursor in (encode_cursor(START + timedelta(days=90), 2**31 - 1), encode_cursor(START, 2**31 - 1)):
        for name in ("after", "before"):
            page = body(seller_client, "/seller/reviews", **{name: cursor})
            assert not any(text.startswith("theirs") for text in texts(page))
    assert texts(body(seller_client, "/seller/reviews", page="last")) == names(3, 1)


# --- requests --------------------------------------------------------------------------------------

def request_ids(page: str) -> list[int]:
    return [int(found) for found in REQUEST_LINK.findall(page)]


def test_request_pages_walk_down_and_back_keeping_the_status_tab(app, seller, other_seller, seller_client):
    app.config["PAGE_SIZE"] = 3
    review_ids = import_reviews(app, numbered(8, seller))
    mine = [add_request(app, seller, review_id, submitted_at=START + timedelta(hours=n))
            for n, review_id in enumerate(review_ids)]
    (theirs,) = import_reviews(app, [review_line(other_seller)])
    add_request(app, other_seller, theirs, submitted_at=START + timedelta(minutes=90))
    newest_first = list(reversed(mine))

    first = page_text(seller_client.get("/seller/requests?status=open"))
    links = pager_links(first)
    second = page_text(seller_client.get(links["Older"]))
    last = page_text(seller_client.get(links["Oldest"]))

    assert all("status=open" in url for url in links.values())
    assert request_ids(first) == newest_first[:3]
    assert request_ids(second) == newest_first[3:6]
    assert request_ids(last) == newest_first[5:]
    assert request_ids(page_text(seller_client.get(pager_links(last)["Newer"]))) == newest_first[2:5]
    assert pager_label(first) == "Pages of requests"
    # The tab counts come from the counters: every request of this seller is submitted (open).
    assert "Open (8)" in re.sub(r"<[^>]+>", "", first) and "Closed (0)" in re.sub(r"<[^>]+>", "", first)


def test_a_forged_cursor_never_shows_another_sellers_requests(app, seller, other_seller, seller_client):
    (mine,) = import_reviews(app, [review_line(seller)])
    my_request = add_request(app, seller, mine, submitted_at=START)
    theirs = import_reviews(app, [review_line(other_seller) for _ in range(3)])
    their_requests = {add_request(app, other_seller, review_id, submitted_at=START + timedelta(days=1))
                      for review_id in theirs}

    for cursor in (encode_cursor(START + timedelta(days=5), 2**31 - 1), encode_cursor(START, 1)):
        for name in ("after", "before"):
            shown = request_ids(page_text(seller_client.get("/seller/requests",
                                                            query_string={name: cursor})))
            assert not set(shown) & their_requests
            assert set(shown) <= {my_request}
