"""The seller's form and review list in Debian's Chromium: the explanation's live counter (which
says when a paste goes past the limit instead of cutting it), every error in one round, and the
review filters on a phone without sideways scrolling."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.harness.test_accessibility import desk, signed_in_page  # noqa: F401
from tests.helpers.browser import BROWSER_MARKS

pytestmark = BROWSER_MARKS
SHOTS = os.environ.get("SELLER_SHOTS")  # a folder: save what the tests saw, to look at


def shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def test_the_counter_follows_typing_and_a_long_paste_is_kept_and_flagged(chromium, desk):  # noqa: F811
    context, page = signed_in_page(chromium, desk, "seller", width=390)
    try:
        page.goto(f"{desk.base}{desk.pages['seller'][1]}")
        counter = page.locator("#explanation-count")
        assert counter.text_content() == "0 / 5,000 characters"
        assert counter.get_attribute("aria-live") == "polite"

        page.fill("#explanation", "The buyer asked for a refund in exchange.")
        assert counter.text_content() == "41 / 5,000 characters"

        page.fill("#explanation", "x" * 6000)  # as a paste: one input event
        assert page.eval_on_selector("#explanation", "field => field.value.length") == 6000
        assert "1,000 over the limit" in counter.text_content()
        shot(page, "form-over-limit-390")

        page.click("form.request-form button[type=submit]")
        page.locator(".error-summary").wait_for()  # uploads.js puts the errors in without a reload
        summary = page.locator(".error-summary li").all_text_contents()
        assert summary == ["Choose one of the four reasons.", "Write between 20 and 5000 characters.",
                           "Attach at least one screenshot."]
        assert "1,000 over the limit" in counter.text_content()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shot(page, "form-errors-390")
    finally:
        context.close()


@pytest.mark.parametrize("width", [360, 1280])
def test_the_review_filters_fit_and_narrow_the_list(chromium, desk, width):  # noqa: F811
    context, page = signed_in_page(chromium, desk, "seller", width=width)
    try:
        page.goto(f"{desk.base}/seller/reviews")
        everything = page.locator("p.review-text").count()
        page.select_option("select[name=stars]", "1")
        page.click("form.filter-form button[type=submit]")
        page.wait_for_load_state()
        assert "stars=1" in page.url
        assert page.locator("p.review-text").count() <= everything
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        shot(page, f"reviews-filtered-{width}")
    finally:
        context.close()
