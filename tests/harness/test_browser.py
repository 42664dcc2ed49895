"""End to end in Debian's Chromium (driven by Playwright): what a seller sees after signing in."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.helpers.accounts import PASSWORD
from tests.helpers.browser import BROWSER_MARKS
from tests.helpers.marketplace import add_review, import_reviews, review_line
from tests.helpers.requests import add_request

pytestmark = BROWSER_MARKS


def test_seller_signs_in_and_sees_reviews_and_rating(app, seller, live_server, page):
    import_reviews(app, [
        review_line(seller, stars, text=f"Review number {index}", offer_title="Raid carry",
                    created_at=datetime(2026, 10, index + 1, 12, 0, tzinfo=UTC))
        for index, stars in enumerate([(5, 4, 3), (1, 2, 3)])])

    page.goto(f"{live_server}/seller/reviews")
    assert page.url.startswith(f"{live_server}/login")
    page.fill("input[name=email]", seller.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")

    page.wait_for_url(f"{live_server}/seller/reviews")
    assert page.locator(".big-number").inner_text() == "3.00"
    assert page.locator("tbody tr").count() == 2
    assert "Review number 1" in page.locator("tbody tr").first.inner_text()

    page.click("text=Sign out")
    page.wait_for_url(f"{live_server}/login")
    assert "You have signed out." in page.content()


def test_wrong_password_shows_the_message_on_the_form(seller, live_server, page):
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", seller.email)
    page.fill("input[name=password]", "not the password at all")
    page.click("button[type=submit]")
    assert page.locator(".field-error").inner_text() == "Email or password is not correct."


def test_agent_takes_the_next_request_and_approves_it(app, seller, agent, live_server, page):
    kept = add_review(app, seller)
    request_id = add_request(app, seller, add_review(app, seller))
    assert kept

    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", agent.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/queue")
    page.click("text=Take the next request")
    page.wait_for_url(f"{live_server}/requests/{request_id}")
    assert "Held by you" in page.locator(".claim-box").inner_text()

    page.check("input[name=decision][value=approve]")
    page.fill("textarea[name=note]", "The chat shows the buyer asking for a discount.")
    page.click("input[name=submit]")

    page.wait_for_url(f"{live_server}/requests/{request_id}")
    assert "Approved" in page.locator(".status-pill").first.inner_text()
    assert "Seller rating" in page.locator(".flash").inner_text()
