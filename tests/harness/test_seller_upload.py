"""The seller's screenshots in Debian's Chromium (static/js/uploads.js): chosen through the file
picker, previewed, kept across a refused round without a reload, removed one by one, refused in the
browser when they are not images or too large, and sent with a progress bar. At 1440 and 390 px,
with no sideways scrolling on any page.

SELLER_SHOTS=/some/folder saves what the tests saw, to look at."""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from moderation_app.extensions import db
from moderation_app.models import Evidence
from tests.helpers.browser import BROWSER_MARKS, blocking, no_sideways_scroll, sign_in
from tests.helpers.images import image_bytes, noisy_png
from tests.helpers.marketplace import add_review
from tests.helpers.requests import EXPLANATION, add_request

pytestmark = BROWSER_MARKS
SHOTS = os.environ.get("SELLER_SHOTS")
SIZES = {1440: (1440, 900), 390: (390, 844)}


@pytest.fixture
def screenshots(tmp_path: Path) -> list[Path]:
    """Two real screenshots made with Pillow, as files the picker can choose."""
    paths = []
    for seed, name in ((1, "chat-with-buyer.png"), (2, "order-history.jpg")):
        path = tmp_path / name
        path.write_bytes(image_bytes("PNG" if name.endswith(".png") else "JPEG", (640, 400), seed))
        paths.append(path)
    return paths


def open_as_seller(chromium, live_server, seller, width: int = 1440):
    context = chromium.new_context(viewport=dict(zip(("width", "height"), SIZES.get(width, (width, 900)))))
    page = context.new_page()
    sign_in(page, live_server, seller.email)
    return context, page


def shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def until(page, expression: str, timeout: float = 10) -> None:
    """Polls from here: the page's CSP (rightly) refuses the eval wait_for_function polls with."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"never true: {expression}"
        time.sleep(0.02)


def settle(page) -> None:
    """Lets the page's lazy thumbnails load before the browser closes: a response cut off by the
    closing browser leaves the test server's open file to a ResourceWarning."""
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    until(page, "[...document.images].every(image => image.complete)")


def close(context, page) -> None:
    with contextlib.suppress(Exception):  # cleanup: never hide the failure that led here
        settle(page)
    context.close()


def previews(page) -> list[str]:
    return page.locator(".upload-previews .upload-name").all_text_contents()


def loaded_images(page, selector: str) -> int:
    """Images under `selector` the browser actually drew (a CSP refusal leaves naturalWidth 0)."""
    until(page, f"[...document.querySelectorAll('{selector} img')].every(i => i.complete)")
    return page.eval_on_selector_all(f"{selector} img",
                                     "images => images.filter(i => i.naturalWidth > 0).length")


@pytest.mark.parametrize("width", [1440, 390])
def test_files_chosen_once_survive_a_refused_round_and_are_submitted_with_thumbnails(
        app, seller, live_server, chromium, screenshots, width):
    review_id = add_review(app, seller, stars=(1, 1, 1), text="Never delivered anything")
    context, page = open_as_seller(chromium, live_server, seller, width)
    try:
        page.goto(f"{live_server}/seller/reviews/{review_id}/deletion-request")
        no_sideways_scroll(page)
        page.check("input[name=reason][value=blackmail]")
        page.fill("#explanation", "too short")
        # Two picks: the second adds to the first instead of replacing it.
        page.set_input_files("#evidence", str(screenshots[0]))
        with page.expect_file_chooser() as chooser:
            page.click("#evidence")
        chooser.value.set_files(str(screenshots[1]))
        until(page, "document.querySelectorAll('.upload-previews li').length === 2")
        assert previews(page) == ["chat-with-buyer.png", "order-history.jpg"]
        assert loaded_images(page, ".upload-previews") == 2
        assert page.eval_on_selector("#evidence", "input => input.files.length") == 2
        assert page.get_by_role("button", name="Remove order-history.jpg").is_visible()
        no_sideways_scroll(page)
        assert not blocking(page)
        shot(page, f"upload-previews-{width}")

        page.evaluate("window.notReloaded = true")
        page.click("form.request-form button[type=submit]")
        summary = page.locator(".error-summary")
        summary.wait_for()
        assert page.evaluate("window.notReloaded") is True
        assert summary.locator("li").all_text_contents() == ["Write between 20 and 5000 characters."]
        assert page.evaluate("document.activeElement.classList.contains('error-summary')")
        assert page.get_attribute("#explanation", "aria-invalid") == "true"
        assert page.input_value("#explanation") == "too short"
        assert page.is_checked("input[name=reason][value=blackmail]")
        assert previews(page) == ["chat-with-buyer.png", "order-history.jpg"]
        assert page.eval_on_selector("#evidence", "input => input.files.length") == 2
        assert "still attached" in page.locator("#evidence-kept").inner_text()
        no_sideways_scroll(page)
        assert not blocking(page)
        shot(page, f"upload-refused-round-{width}")

        page.fill("#explanation", EXPLANATION)  # the files are not chosen again
        page.click("form.request-form button[type=submit]")
        page.wait_for_url(re.compile(rf"{live_server}/seller/requests/\d+$"))
        assert "Your request was submitted" in page.locator(".flash").inner_text()
        assert page.locator(".gallery img").count() == 2
        assert loaded_images(page, ".gallery") == 2
        no_sideways_scroll(page)
        shot(page, f"upload-submitted-{width}")
    finally:
        close(context, page)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Evidence)) == 2


def test_a_removed_preview_is_not_sent(app, seller, live_server, chromium, screenshots):
    review_id = add_review(app, seller)
    context, page = open_as_seller(chromium, live_server, seller, 390)
    try:
        page.goto(f"{live_server}/seller/reviews/{review_id}/deletion-request")
        page.set_input_files("#evidence", [str(path) for path in screenshots])
        until(page, "document.querySelectorAll('.upload-previews li').length === 2")

        page.get_by_role("button", name="Remove chat-with-buyer.png").click()

        assert previews(page) == ["order-history.jpg"]
        assert page.eval_on_selector("#evidence", "input => [...input.files].map(f => f.name)") == [
            "order-history.jpg"]
        # Focus stays in the list, on the file that took the removed one's place.
        focused = page.evaluate("document.activeElement.getAttribute('aria-label')")
        assert focused == "Remove order-history.jpg"
        assert "removed" in page.locator(".upload-status").inner_text()
        page.check("input[name=reason][value=wrong_offer]")
        page.fill("#explanation", EXPLANATION)
        page.click("form.request-form button[type=submit]")
        page.wait_for_url(re.compile(rf"{live_server}/seller/requests/\d+$"))
        assert page.locator(".gallery .small").first.inner_text() == "order-history.jpg"
        assert page.locator(".gallery img").count() == 1
    finally:
        close(context, page)


def test_a_text_file_named_png_and_a_file_too_large_are_refused_in_the_browser(
        app, seller, live_server, chromium, screenshots, tmp_path):
    app.config["EVIDENCE_MAX_FILE_BYTES"] = 20_000  # what the form says, the script checks
    review_id = add_review(app, seller)
    disguised = tmp_path / "notes.png"
    disguised.write_bytes(b"this is plain text, not a picture")
    large = tmp_path / "large.png"
    large.write_bytes(noisy_png((200, 200)))
    context, page = open_as_seller(chromium, live_server, seller)
    try:
        page.goto(f"{live_server}/seller/reviews/{review_id}/deletion-request")
        posts = []
        page.on("request", lambda request: posts.append(request) if request.method == "POST" else None)

        page.set_input_files("#evidence", [str(disguised), str(screenshots[0]), str(large)])

        errors = page.locator("#evidence-checks .field-error")
        errors.first.wait_for()
        assert errors.all_text_contents() == [
            "“notes.png” is not a PNG, JPEG, WebP or GIF image.",
            "“large.png” is larger than 19.5 KB.",
        ]
        assert previews(page) == ["chat-with-buyer.png"]
        assert page.eval_on_selector("#evidence", "input => input.files.length") == 1
        # Tied to the field: named by its aria-describedby, and the field marked invalid.
        assert "evidence-checks" in page.get_attribute("#evidence", "aria-describedby").split()
        assert page.get_attribute("#evidence", "aria-invalid") == "true"
        assert not posts  # nothing was sent to find this out
        assert not blocking(page)
        shot(page, "upload-refused-in-browser-1440")
    finally:
        close(context, page)


@pytest.mark.parametrize("width", [1440, 390])
def test_a_slow_upload_shows_its_progress(app, seller, live_server, chromium, tmp_path, width):
    review_id = add_review(app, seller)
    big = tmp_path / "full-chat.png"
    big.write_bytes(noisy_png((700, 700)))  # about 1.5 MB
    context, page = open_as_seller(chromium, live_server, seller, width)
    try:
        page.goto(f"{live_server}/seller/reviews/{review_id}/deletion-request")
        page.check("input[name=reason][value=blackmail]")
        page.fill("#explanation", EXPLANATION)
        page.set_input_files("#evidence", str(big))
        until(page, "document.querySelectorAll('.upload-previews li').length === 1")
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 200_000})

        page.click("form.request-form button[type=submit]")
        until(page, "document.querySelector('.upload-progress progress').value >= 10")

        progress = page.locator(".upload-progress")
        assert progress.is_visible()
        labelled = page.get_by_label(re.compile(r"Uploading 1 screenshot"))
        assert labelled.evaluate("e => e.tagName") == "PROGRESS"
        assert progress.locator("[aria-live=polite]").count() == 1
        no_sideways_scroll(page)
        assert not blocking(page)
        shot(page, f"upload-progress-{width}")
        page.wait_for_url(re.compile(rf"{live_server}/seller/requests/\d+$"), timeout=30_000)
    finally:
        close(context, page)


@pytest.mark.parametrize("failure", ["connection lost", "server error"])
def test_a_failed_send_says_so_and_keeps_everything_for_another_try(
        app, seller, live_server, chromium, screenshots, failure):
    review_id = add_review(app, seller)
    context, page = open_as_seller(chromium, live_server, seller, 390)
    try:
        url = f"{live_server}/seller/reviews/{review_id}/deletion-request"
        page.goto(url)
        page.check("input[name=reason][value=blackmail]")
        page.fill("#explanation", EXPLANATION)
        page.set_input_files("#evidence", [str(path) for path in screenshots])
        until(page, "document.querySelectorAll('.upload-previews li').length === 2")
        page.route(url, lambda route: route.abort("connectionreset") if failure == "connection lost"
                   else route.fulfill(status=503, body="<h1>Down</h1>"))

        page.click("form.request-form button[type=submit]")

        alert = page.locator(".upload-failure")
        alert.wait_for()
        assert alert.get_attribute("role") == "alert"
        assert ("connection failed" if failure == "connection lost" else "error 503") in alert.inner_text()
        assert "still here" in alert.inner_text()
        assert page.input_value("#explanation") == EXPLANATION
        assert page.eval_on_selector("#evidence", "input => input.files.length") == 2
        assert page.locator(".upload-progress").is_hidden()

        page.unroute(url)
        page.click("form.request-form button[type=submit]")
        page.wait_for_url(re.compile(rf"{live_server}/seller/requests/\d+$"))
        assert page.locator(".gallery img").count() == 2
    finally:
        close(context, page)


def test_the_answer_form_keeps_its_files_across_a_refused_round(
        app, seller, live_server, chromium, screenshots):
    from moderation_app.models import RequestStatus
    request_id = add_request(app, seller, add_review(app, seller), status=RequestStatus.NEEDS_INFO)
    context, page = open_as_seller(chromium, live_server, seller, 390)
    try:
        page.goto(f"{live_server}/seller/requests/{request_id}")
        page.set_input_files("#evidence", str(screenshots[0]))
        until(page, "document.querySelectorAll('.upload-previews li').length === 1")
        page.click("form.answer-form button[type=submit]")  # no answer written
        page.locator(".answer-form .error-summary").wait_for()
        assert page.locator(".answer-form .error-summary li").all_text_contents() == [
            "Write an answer to the question."]
        assert previews(page) == ["chat-with-buyer.png"]
        assert page.evaluate("document.activeElement.classList.contains('error-summary')")
        assert not blocking(page)
        no_sideways_scroll(page)
        shot(page, "upload-answer-refused-390")

        page.fill("#message", "Here is the chat where the buyer asks for money.")
        page.click("form.answer-form button[type=submit]")
        page.wait_for_url(f"{live_server}/seller/requests/{request_id}")
        page.locator(".flash").wait_for()
        assert "Your answer is with customer service" in page.locator(".flash").inner_text()
        assert page.locator(".timeline .gallery img").count() == 1
        no_sideways_scroll(page)
    finally:
        close(context, page)


def test_without_javascript_the_form_posts_as_before(app, seller, live_server, chromium,
                                                     screenshots):
    review_id = add_review(app, seller)
    context = chromium.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        sign_in(page, live_server, seller.email)
        page.goto(f"{live_server}/seller/reviews/{review_id}/deletion-request")
        page.set_input_files("#evidence", [str(path) for path in screenshots])
        page.fill("#explanation", "short")
        with page.expect_navigation():
            page.click("form.request-form button[type=submit]")
        assert page.locator(".upload-previews").count() == 0
        assert "choose them again" in page.locator("#evidence-kept").inner_text()

        page.check("input[name=reason][value=blackmail]")
        page.fill("#explanation", EXPLANATION)
        page.set_input_files("#evidence", [str(path) for path in screenshots])
        with page.expect_navigation():
            page.click("form.request-form button[type=submit]")
        assert re.search(r"/seller/requests/\d+$", page.url)
        assert "Your request was submitted" in page.locator(".flash").inner_text()
    finally:
        close(context, page)
