"""Issue 12's journeys end to end in Debian's Chromium, three people in three browser contexts:
an agent works a request by keyboard only (taking it, comparing its evidence with the near-identical
file of another request, asking the seller a question); the seller answers on their page; the agent
approves with a reply, which hides the review and changes the seller's rating; then a manager filters
the audit log to that request and downloads the CSV, whose rows carry the marketplace's review id."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from moderation_app.models import DeletionRequest, RequestStatus, Review
from tests.helpers.browser import BROWSER_MARKS, no_sideways_scroll, sign_in
from tests.helpers.images import image_bytes, screenshot_and_near_copy
from tests.helpers.marketplace import add_review
from tests.helpers.requests import file_request, set_request_status
from tests.helpers.stored import load

pytestmark = BROWSER_MARKS
expect = pytest.importorskip("playwright.sync_api").expect

OTHER_IMAGE = "[data-viewer-other-pane] img"
QUESTION = "Please send the whole chat, with the date the buyer asked for the discount."
ANSWER = "Here is the whole chat: the buyer asked on 3 November, before leaving the review."
REPLY = "The chat shows the buyer asking for a discount in exchange for a better review."


class Keyboard:
    """The agent's keyboard, counting every key press (text typed into a note is not a shortcut)."""

    def __init__(self, page) -> None:
        self.page, self.presses = page, []

    def press(self, key: str, *, navigates: bool = False) -> None:
        self.presses.append(key)
        if navigates:
            with self.page.expect_navigation():
                self.page.keyboard.press(key)
        else:
            self.page.keyboard.press(key)

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)


@pytest.fixture
def journey(app, seller, other_seller, seller_client, other_seller_client) -> dict:
    """The seller's request: an order screenshot and a near-identical copy of a file that another
    seller's (already decided) request holds. A five-star review stays visible, so approving
    changes the rating."""
    original, copy = screenshot_and_near_copy()
    earlier = file_request(other_seller_client, add_review(app, other_seller),
                           files=[(original, "chat.png")])
    set_request_status(app, earlier, RequestStatus.REJECTED)
    add_review(app, seller, stars=(5, 5, 5))
    review_id = add_review(app, seller, stars=(1, 2, 1), text="Terrible, never again.")
    request_id = file_request(seller_client, review_id, reason="blackmail",
                              files=[(image_bytes(size=(900, 560), seed=9), "order.png"),
                                     (copy, "chat-again.png")])
    return {"earlier": earlier, "request": request_id, "review": review_id}


def new_page(chromium, width: int = 1440):
    context = chromium.new_context(viewport={"width": width, "height": 900 if width > 600 else 844})
    return context, context.new_page()


def seller_rating(page, base: str) -> str:
    page.goto(f"{base}/seller/reviews")
    return page.locator(".big-number").inner_text()


def test_agent_seller_and_manager_journey(app, agent, seller, manager, journey, live_server, chromium):
    request_id, review_id = journey["request"], journey["review"]
    agent_context, agent_page = new_page(chromium)
    seller_context, seller_page = new_page(chromium, 390)
    manager_context, manager_page = new_page(chromium)
    try:
        sign_in(seller_page, live_server, seller.email)
        rating_before = seller_rating(seller_page, live_server)

        # The agent, keyboard only: take the next request, open the evidence viewer, step to the
        # copied file, compare it with the other request's, close, ask the seller a question.
        sign_in(agent_page, live_server, agent.email)
        agent_page.goto(f"{live_server}/queue")
        keys = Keyboard(agent_page)
        keys.press("n", navigates=True)
        assert agent_page.url == f"{live_server}/requests/{request_id}"
        keys.press("e")
        assert agent_page.locator("dialog[data-viewer]").is_visible()
        keys.press("]")
        assert "chat-again.png" in agent_page.locator("[data-viewer-file]:not([hidden]) h3").inner_text()
        keys.press("c")
        agent_page.locator(OTHER_IMAGE).wait_for(state="visible")
        assert agent_page.locator("[data-viewer] img:visible").count() == 2
        assert agent_page.locator("[data-viewer-other-link]").inner_text() == f"Request #{journey['earlier']}"
        keys.press("Escape")
        if agent_page.locator("dialog[data-viewer]").is_visible():  # the first Escape left compare
            keys.press("Escape")
        assert not agent_page.locator("dialog[data-viewer]").is_visible()
        keys.press("i")
        expect(agent_page.locator("#note")).to_be_focused()  # typing goes there
        keys.type(QUESTION)
        keys.press("Control+Enter", navigates=True)
        asked = keys.presses[:]
        assert load(app, DeletionRequest, request_id).status is RequestStatus.NEEDS_INFO

        # The seller answers on their phone.
        seller_page.goto(f"{live_server}/seller/requests/{request_id}")
        assert QUESTION in seller_page.locator("main").inner_text()
        seller_page.fill("textarea[name=message]", ANSWER)
        with seller_page.expect_navigation():
            seller_page.click("form[data-uploads] button[type=submit]")
        assert "Your answer is with customer service" in seller_page.locator(".flash").inner_text()
        no_sideways_scroll(seller_page)
        assert load(app, DeletionRequest, request_id).status is RequestStatus.SUBMITTED

        # The agent takes it again and approves with a reply: the straightforward decision.
        agent_page.goto(f"{live_server}/queue")
        keys.presses.clear()
        keys.press("n", navigates=True)
        assert agent_page.url == f"{live_server}/requests/{request_id}"
        assert ANSWER in agent_page.locator("main").inner_text()
        keys.press("a")
        expect(agent_page.locator("#note")).to_be_focused()
        keys.type(REPLY)
        keys.press("Control+Enter", navigates=True)
        approved = keys.presses[:]

        # n e ] c Esc [Esc] i Ctrl+Enter to ask; n a Ctrl+Enter to approve.
        assert len(asked) <= 9, asked
        assert approved == ["n", "a", "Control+Enter"]
        decided = load(app, DeletionRequest, request_id)
        assert decided.status is RequestStatus.APPROVED
        assert load(app, Review, decided.review_id).is_visible is False
        assert "the review is hidden" in agent_page.locator(".flash").inner_text()
        rating_after = seller_rating(seller_page, live_server)
        assert rating_before != rating_after == "5.00"

        # The manager: the audit log filtered to the request, then its CSV.
        sign_in(manager_page, live_server, manager.email)
        manager_page.goto(f"{live_server}/audit")
        manager_page.fill("input[name=request]", str(request_id))
        with manager_page.expect_navigation():
            manager_page.click("form.filter-form button[type=submit]")
        shown = manager_page.locator("td[data-label=Request]").all_inner_texts()
        assert shown and set(shown) == {f"#{request_id}"}
        # Signed in a moment ago, so the export does not ask for the password again.
        with manager_page.expect_download() as download_info:
            manager_page.click("text=Export CSV")
        exported = Path(download_info.value.path()).read_text(encoding="utf-8")
        rows = list(csv.DictReader(io.StringIO(exported)))
    finally:
        for context in (agent_context, seller_context, manager_context):
            context.close()

    assert {row["request_id"] for row in rows} == {str(request_id)}
    assert {row["review_id"] for row in rows} == {review_id}
    actions = [row["action"] for row in rows]
    assert actions[0] == "request.submitted"
    assert actions.count("request.decided") == 2  # the question, then the approval
    decisions = [row["decision"] for row in rows if row["action"] == "request.decided"]
    assert decisions == ["request_info", "approve"]
    assert REPLY in [row["note"] for row in rows]
