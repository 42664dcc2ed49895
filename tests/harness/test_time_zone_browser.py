"""Local time in Debian's Chromium: timezone.js tells the desk the browser's zone in the `tz`
cookie, pages show times in it from the next page on, the UTC time is the tooltip, and a zone
chosen in the settings wins over the browser's."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.helpers.browser import BROWSER_MARKS, sign_in
from tests.helpers.marketplace import import_reviews, review_line

pytestmark = BROWSER_MARKS

LATE = datetime(2026, 2, 3, 20, 0, tzinfo=UTC)  # the 4th in Tokyo, the 3rd in New York


def tz_cookie(context) -> str | None:
    return next((cookie["value"] for cookie in context.cookies() if cookie["name"] == "tz"), None)


def test_the_browsers_zone_is_used_and_the_choice_beats_it(app, seller, live_server, chromium):
    import_reviews(app, [review_line(seller, text="late", created_at=LATE)])
    context = chromium.new_context(timezone_id="Asia/Tokyo")
    page = context.new_page()
    try:
        sign_in(page, live_server, seller.email)
        cookie = next(c for c in context.cookies() if c["name"] == "tz")
        assert (cookie["value"], cookie["path"], cookie["sameSite"]) == ("Asia/Tokyo", "/", "Lax")
        assert cookie["expires"] > datetime.now(UTC).timestamp() + 360 * 24 * 3600

        page.goto(f"{live_server}/seller/reviews")
        date = page.locator("td[data-label=Date] time")
        assert date.inner_text() == "2026-02-04 JST"
        assert date.get_attribute("title") == "2026-02-03 20:00 UTC"
        assert date.get_attribute("datetime") == "2026-02-03T20:00:00Z"

        page.click(".account >> text=Settings")
        page.wait_for_url(f"{live_server}/account")
        assert "Asia/Tokyo, your browser's time zone" in page.locator(".account-now").inner_text()
        page.select_option("select[name=timezone]", "America/New_York")
        page.click("text=Save")
        page.wait_for_url(f"{live_server}/account")
        assert "Times are now shown in America/New York." in page.locator(".flash").inner_text()

        page.goto(f"{live_server}/seller/reviews")
        assert page.locator("td[data-label=Date] time").inner_text() == "2026-02-03 EST"
        assert tz_cookie(context) == "Asia/Tokyo"  # still the browser's; the choice wins
    finally:
        context.close()


def test_a_browser_that_moved_updates_its_cookie(app, seller, live_server, chromium):
    context = chromium.new_context(timezone_id="Europe/Lisbon")
    context.add_cookies([{"name": "tz", "value": "Asia/Tokyo", "url": live_server}])
    page = context.new_page()
    try:
        page.goto(f"{live_server}/login")
        page.wait_for_load_state()
        assert tz_cookie(context) == "Europe/Lisbon"
    finally:
        context.close()
