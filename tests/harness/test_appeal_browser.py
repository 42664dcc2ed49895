"""The seller's statement of reasons and appeal form, and the agent's view of the appeal, in
Debian's Chromium on the demo data: the form enhanced by static/js/uploads.js answers a refused
round in place and a good one by opening the request; no sideways scrolling at 1440 and 390 px.
APPEAL_SHOTS=<folder> saves what the test saw."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from moderation_app.demo.seed import DEMO_LOGINS
from tests.harness.test_accessibility import demo_login, desk, signed_in_page  # noqa: F401
from tests.helpers.browser import BROWSER_MARKS, blocking, no_sideways_scroll, sign_in
from tests.helpers.images import image_bytes

pytestmark = BROWSER_MARKS
SHOTS = os.environ.get("APPEAL_SHOTS")


def shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


# 390 first: the 1440 round sends the appeal.
@pytest.mark.parametrize("width", [390, 1440])
def test_the_statement_the_appeal_form_and_the_agents_view(chromium, desk, width, tmp_path):  # noqa: F811
    requests = [path for path in desk.pages["seller"] if path.startswith("/seller/requests/")
                and path.count("/") == 3]
    appealable, appealed = requests[-2], requests[-1]
    context, page = signed_in_page(chromium, desk, "seller", width=width)
    try:
        page.goto(f"{desk.base}{appealable}")
        assert page.locator("#statement").inner_text().count("Evidence considered") == 1
        assert page.locator("form[data-uploads] [data-max-files]").count() == 1
        no_sideways_scroll(page)
        assert blocking(page) == []
        shot(page, f"appeal-statement-{width}")
        if width == 1440:
            # A refused round answers in place; the chosen file stays chosen.
            picture = tmp_path / "second-chat.png"
            picture.write_bytes(image_bytes("PNG", seed=9))
            page.set_input_files("form[data-uploads] input[type=file]", str(picture))
            page.fill("#message", "Too short.")
            page.click("form[data-uploads] button[type=submit]")
            page.wait_for_selector(".error-summary")
            assert "Write between 20 and 5000 characters." in page.locator(".error-summary").inner_text()
            assert page.locator(".upload-preview, .upload-previews li").count() >= 1
            shot(page, "appeal-form-refused-1440")
            page.fill("#message", "The second screenshot shows the buyer naming the other offer.")
            with page.expect_navigation():
                page.click("form[data-uploads] button[type=submit]")
            assert "Your appeal is with customer service" in page.content()
            assert "You appealed on" in page.locator("#statement").inner_text()
    finally:
        context.close()
    # The demo's first agent took the rejection: they are refused; the second agent may take it.
    first_decider, _ = demo_login("agent")
    colleague, _, password = next(login for login in DEMO_LOGINS
                                  if login[1] == "agent" and login[0] != first_decider)
    agent_path = appealed.replace("/seller", "")
    context, page = signed_in_page(chromium, desk, "agent", width=width)
    try:
        page.goto(f"{desk.base}{agent_path}")
        assert "You took the decision under appeal" in page.locator(".appeal-card").inner_text()
        assert page.locator(f"form[action='{agent_path}/claim']").count() == 0
    finally:
        context.close()
    context = chromium.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        sign_in(page, desk.base, colleague, password)
        page.goto(f"{desk.base}{agent_path}")
        card = page.locator(".appeal-card").inner_text().lower()
        assert "the seller's appeal" in card and "the first decision" in card
        assert page.locator(f"form[action='{agent_path}/claim']").count() == 1
        no_sideways_scroll(page)
        assert blocking(page) == []
        shot(page, f"appeal-agent-{width}")
        page.goto(f"{desk.base}/queue?status=appealed")
        assert page.locator(".queue-appeal").count() >= 1
        no_sideways_scroll(page)
        shot(page, f"appeal-queue-{width}")
    finally:
        context.close()
