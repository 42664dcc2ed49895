"""The agent's evidence viewer in Debian's Chromium: opened with its button or a thumbnail, files
stepped through, zoom and pan, the near-identical file of another request side by side, Escape
closing it with focus back where it was; axe-clean while open, and no sideways scrolling on a phone.
Set EVIDENCE_SHOTS to a folder to keep screenshots of what the tests saw."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.browser import BROWSER_MARKS, blocking, sign_in
from tests.helpers.images import image_bytes, screenshot_and_near_copy
from tests.helpers.marketplace import add_review
from tests.helpers.requests import file_request

pytestmark = BROWSER_MARKS
SHOTS = os.environ.get("EVIDENCE_SHOTS")

OWN_IMAGE = "[data-viewer] .viewer-pane:not([data-viewer-other-pane]) img"
OTHER_IMAGE = "[data-viewer-other-pane] img"


def shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


@pytest.fixture
def requests_with_a_match(app, seller, other_seller, seller_client, other_seller_client) -> tuple[int, int]:
    """(earlier, later): the later request's second file is a near-identical copy of the earlier's."""
    original, copy = screenshot_and_near_copy()
    earlier = file_request(seller_client, add_review(app, seller), files=[(original, "chat.png")])
    later = file_request(other_seller_client, add_review(app, other_seller),
                         files=[(image_bytes(size=(900, 560), seed=9), "unrelated.png"),
                                (copy, "chat-again.png")])
    return earlier, later


@pytest.fixture
def agent_page(agent, live_server, chromium, requests_with_a_match, request):
    """The agent's browser on the later request, at the width the test is parametrized with."""
    width = getattr(request, "param", 1440)
    context = chromium.new_context(viewport={"width": width, "height": 900 if width > 600 else 844})
    page = context.new_page()
    sign_in(page, live_server, agent.email)
    page.goto(f"{live_server}/requests/{requests_with_a_match[1]}")
    yield page
    context.close()


def image_loaded(page, selector: str) -> None:
    page.wait_for_function("s => { const i = document.querySelector(s); return i && i.complete && i.naturalWidth > 0 }",
                           arg=selector)


def rendered(page, selector: str) -> dict:
    return page.eval_on_selector(selector, "i => { const r = i.getBoundingClientRect();"
                                           " return {x: r.x, y: r.y, width: r.width, height: r.height} }")


def shown_file(page) -> str:
    return page.eval_on_selector(OWN_IMAGE, "i => i.alt")


def focus_marker(page) -> str:
    return page.evaluate("document.activeElement.outerHTML.slice(0, 80)")


def test_viewer_steps_zooms_pans_compares_and_closes_back_to_its_opener(agent_page, requests_with_a_match):
    page = agent_page
    earlier, _ = requests_with_a_match
    opener = page.locator("[data-viewer-open]")
    assert opener.is_visible() and opener.locator("kbd").inner_text() == "e"
    assert not page.locator("dialog[data-viewer]").is_visible()

    opener.click()
    assert page.locator("dialog[data-viewer]").is_visible()
    assert shown_file(page) == "Screenshot unrelated.png"
    assert "file 1 of 2" in page.locator("[data-viewer-position]").inner_text()

    # Next and previous: arrows (not zoomed), brackets, and the buttons; both ends wrap around.
    page.keyboard.press("ArrowRight")
    assert shown_file(page) == "Screenshot chat-again.png"
    page.keyboard.press("[")
    assert shown_file(page) == "Screenshot unrelated.png"
    page.keyboard.press("]")
    page.click('[data-viewer-action="next"]')
    assert shown_file(page) == "Screenshot unrelated.png"
    page.click('[data-viewer-action="previous"]')
    assert shown_file(page) == "Screenshot chat-again.png"
    assert page.locator("[data-viewer-file]:not([hidden]) h3").inner_text() == "chat-again.png"

    # Zoom: keys, button and wheel enlarge the image; 0 fits it again.
    image_loaded(page, OWN_IMAGE)
    fitted = rendered(page, OWN_IMAGE)["width"]
    page.keyboard.press("+")
    by_key = rendered(page, OWN_IMAGE)["width"]
    page.click('[data-viewer-action="zoom-in"]')
    by_button = rendered(page, OWN_IMAGE)["width"]
    frame = page.locator("[data-viewer-frame]").first.bounding_box()
    page.mouse.move(frame["x"] + frame["width"] / 2, frame["y"] + frame["height"] / 2)
    page.mouse.wheel(0, -400)
    page.wait_for_function("([s, w]) => document.querySelector(s).getBoundingClientRect().width > w",
                           arg=[OWN_IMAGE, by_button])
    assert fitted < by_key < by_button < rendered(page, OWN_IMAGE)["width"]
    assert page.locator("[data-viewer-zoom]").inner_text() != "100%"

    # Zoomed, the arrows pan instead of changing files; dragging pans too.
    for _ in range(3):
        page.keyboard.press("+")
    before = rendered(page, OWN_IMAGE)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    after = rendered(page, OWN_IMAGE)
    assert shown_file(page) == "Screenshot chat-again.png"
    assert after["x"] < before["x"] and after["y"] < before["y"]
    page.mouse.move(frame["x"] + 200, frame["y"] + 200)
    page.mouse.down()
    page.mouse.move(frame["x"] + 300, frame["y"] + 250, steps=4)
    page.mouse.up()
    dragged = rendered(page, OWN_IMAGE)
    assert dragged["x"] > after["x"] and dragged["y"] > after["y"]
    page.keyboard.press("0")
    assert rendered(page, OWN_IMAGE)["width"] == pytest.approx(fitted)

    # Compare: the other request's near-identical file beside it, linked, at the same zoom.
    page.keyboard.press("c")
    assert page.locator('[data-viewer-action="compare"]').get_attribute("aria-pressed") == "true"
    image_loaded(page, OTHER_IMAGE)
    assert page.locator("[data-viewer] img:visible").count() == 2
    link = page.locator("[data-viewer-other-link]")
    assert link.inner_text() == f"Request #{earlier}"
    assert link.get_attribute("href") == f"/requests/{earlier}"
    assert "near-identical, distance 2" in page.locator("[data-viewer-other-caption]").inner_text()
    page.keyboard.press("+")
    page.keyboard.press("+")
    own, other = rendered(page, OWN_IMAGE), rendered(page, OTHER_IMAGE)
    assert own["width"] == pytest.approx(other["width"]) and own["width"] > fitted
    shot(page, "viewer-compare-1440")

    # Tab stays inside the dialog, round and round.
    for _ in range(25):
        page.keyboard.press("Tab")
        assert page.evaluate("document.querySelector('dialog[data-viewer]').contains(document.activeElement)")

    page.keyboard.press("Escape")
    assert not page.locator("dialog[data-viewer]").is_visible()
    assert page.evaluate("document.activeElement.hasAttribute('data-viewer-open')")


def test_a_thumbnail_opens_the_viewer_at_its_file_and_gets_focus_back(agent_page, requests_with_a_match):
    page = agent_page
    thumbnail = page.locator("[data-evidence-section] .gallery a").nth(1)

    thumbnail.click()

    assert page.locator("dialog[data-viewer]").is_visible()
    assert shown_file(page) == "Screenshot chat-again.png"
    assert len(page.context.pages) == 1  # no bare image in a new tab
    page.click('[data-viewer-action="close"]')
    assert not page.locator("dialog[data-viewer]").is_visible()
    assert page.evaluate("document.activeElement.closest('.gallery') !== null")


def test_the_viewer_has_no_serious_accessibility_findings_while_comparing(agent_page):
    page = agent_page
    page.click("[data-viewer-open]")
    page.keyboard.press("]")
    page.click("[data-viewer-compare]")
    image_loaded(page, OTHER_IMAGE)

    assert blocking(page) == []


@pytest.mark.parametrize("agent_page", [1440, 390], indirect=True)
def test_viewer_fits_the_screen_and_puts_the_metadata_beside_or_below(agent_page, request):
    page = agent_page
    width = page.viewport_size["width"]
    page.locator("[data-evidence-section]").scroll_into_view_if_needed()
    shot(page, f"request-{width}")
    page.click("[data-viewer-open]")
    page.keyboard.press("]")
    image_loaded(page, OWN_IMAGE)
    shot(page, f"viewer-{width}")
    stage = page.locator("[data-viewer-stage]").bounding_box()
    meta = page.locator(".viewer-meta").bounding_box()

    if width < 600:
        assert meta["y"] >= stage["y"] + stage["height"] - 1  # stacked below
    else:
        assert meta["x"] >= stage["x"] + stage["width"] - 1  # beside
    page.keyboard.press("c")
    image_loaded(page, OTHER_IMAGE)
    shot(page, f"viewer-compare-{width}")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.eval_on_selector("dialog[data-viewer]", "d => d.scrollWidth <= d.clientWidth")
