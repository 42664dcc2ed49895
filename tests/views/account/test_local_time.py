"""Times on the pages in the viewer's zone: the one they chose, else their browser's (the `tz`
cookie timezone.js sets), else UTC; the UTC time always in the tooltip; exports stay UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tests.helpers.clients import page_text
from tests.helpers.marketplace import import_reviews, review_line
from tests.helpers.queue import queued_request

# 20:00 UTC on 3 February is already the 4th in Tokyo and still the 3rd in New York.
LATE = datetime(2026, 2, 3, 20, 0, tzinfo=UTC)
IN_UTC = 'datetime="2026-02-03T20:00:00Z" title="2026-02-03 20:00 UTC"'


def review_date(client) -> str:
    """The date cell of the only review on the seller's list, as rendered."""
    body = page_text(client.get("/seller/reviews"))
    match = re.search(r'data-label="Date">(<time [^>]*>[^<]*</time>)', body)
    assert match, "no review date on the list"
    return match.group(1)


@pytest.fixture
def late_review(app, seller) -> None:
    import_reviews(app, [review_line(seller, text="late", created_at=LATE)])


def test_without_a_choice_or_a_cookie_times_are_utc(late_review, seller_client):
    assert review_date(seller_client) == f"<time {IN_UTC}>2026-02-03 UTC</time>"


def test_without_a_choice_the_browsers_zone_is_used(late_review, seller_client):
    seller_client.set_cookie("tz", "Asia/Tokyo")

    assert review_date(seller_client) == f"<time {IN_UTC}>2026-02-04 JST</time>"


def test_the_users_choice_beats_the_browsers_zone(late_review, seller_client):
    seller_client.set_cookie("tz", "Asia/Tokyo")
    assert seller_client.post_form("/account", {"timezone": "America/New_York"}).status_code == 303

    assert review_date(seller_client) == f"<time {IN_UTC}>2026-02-03 EST</time>"


@pytest.mark.parametrize("cookie", ["Mars/Olympus_Mons", "../../../etc/localtime", "localtime",
                                    "Europe/Berlin" * 10, "", "asia/tokyo"])
def test_a_cookie_that_names_no_zone_means_utc(late_review, seller_client, cookie):
    seller_client.set_cookie("tz", cookie)

    assert review_date(seller_client) == f"<time {IN_UTC}>2026-02-03 UTC</time>"


def test_the_date_filter_reads_days_in_the_browsers_zone(late_review, seller_client):
    seller_client.set_cookie("tz", "Asia/Tokyo")

    body = page_text(seller_client.get("/seller/reviews", query_string={"since": "2026-02-04"}))

    assert '<p class="review-text">late</p>' in body


def test_a_time_inside_an_attribute_is_plain_text(app, seller_id, agent_client):
    queued_request(app, seller_id, datetime(2026, 11, 27, 13, 2, tzinfo=UTC),
                   waiting_since=datetime(2026, 11, 28, 9, 30, tzinfo=UTC))
    agent_client.set_cookie("tz", "Europe/Berlin")

    body = page_text(agent_client.get("/queue"))

    assert 'title="Submitted 2026-11-27 14:02 CET; answered 2026-11-28 10:30 CET"' in body
    # No markup in any attribute value: a <time> there would show its tags as text.
    assert not re.search(r'="[^"]*<time', body)
    assert ('<time datetime="2026-11-27T13:02:00Z" title="2026-11-27 13:02 UTC">'
            '2026-11-27 14:02 CET</time>') in body


def test_the_audit_export_stays_utc(app, manager, manager_client):
    manager_client.set_cookie("tz", "Asia/Tokyo")
    assert manager_client.post_form("/account", {"timezone": "Asia/Tokyo"}).status_code == 303
    manager_client.post_form("/reauthenticate", {"password": "correct horse battery staple"})

    export = manager_client.get("/audit/export.csv")

    assert export.status_code == 200
    text = export.get_data(as_text=True)
    assert "<time" not in text
    times = re.findall(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(Z|[+-]\d\d:\d\d)", text)
    assert times and set(times) == {"Z"}
