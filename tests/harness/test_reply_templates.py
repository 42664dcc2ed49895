"""The reply template picker in Debian's Chromium (static/js/reply_templates.js): it offers the
templates of the chosen decision and follows the radios (a/r/i too), fills the note, asks before
replacing what the agent typed, tells the server which template was used; without JavaScript the
templates are a list to copy from. axe stays clean, and nothing scrolls sideways on a phone."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from moderation_app.models import DeletionRequest, RequestStatus
from moderation_app.models.requests import Decision, Reason
from tests.helpers.browser import BROWSER_MARKS, sign_in
from tests.helpers.marketplace import add_review
from tests.helpers.replies import add_template
from tests.helpers.requests import add_request, set_holder
from tests.helpers.stored import audit_details, load

SCREENSHOTS = os.environ.get("REPLY_TEMPLATE_SCREENSHOTS")  # a folder: also save screenshots there

pytestmark = BROWSER_MARKS

APPROVE_BODY = "The chat shows the buyer describing another product; we removed the review."
REJECT_BODY = "The screenshots do not show that the review is about another offer. It stays."
ASK_BODY = "Please send the full order chat, with the dates visible."


def new_page(chromium, width: int = 1440, height: int = 900, javascript: bool = True):
    context = chromium.new_context(viewport={"width": width, "height": height},
                                  java_script_enabled=javascript)
    return context, context.new_page()


@pytest.fixture
def templates(app, manager) -> dict[str, int]:
    return {
        "approve": add_template(app, manager, "Other offer shown", Decision.APPROVE, Reason.WRONG_OFFER,
                                body=APPROVE_BODY),
        "reject": add_template(app, manager, "Not enough evidence", Decision.REJECT, None,
                               body=REJECT_BODY),
        "ask": add_template(app, manager, "Send the order chat", Decision.REQUEST_INFO, None,
                            body=ASK_BODY),
        "elsewhere": add_template(app, manager, "Rival proven", Decision.APPROVE,
                                  Reason.COMPETITOR_ATTACK, body="Not for this reason."),
    }


@pytest.fixture
def held(app, seller, agent) -> int:
    request_id = add_request(app, seller, add_review(app, seller), reason=Reason.WRONG_OFFER)
    set_holder(app, request_id, agent, lease_left=timedelta(minutes=20))
    return request_id


def offered(page) -> list[str]:
    return page.locator("#reply-template-picker option:not([value=''])").all_inner_texts()


def chosen_template(page) -> str:
    return page.input_value("input[name=reply_template]")


def checked_decision(page) -> str | None:
    return page.evaluate("document.querySelector('input[name=decision]:checked')?.value ?? null")


def screenshot(page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"replies-{name}"), full_page=True)


def test_the_picker_follows_the_decision_and_fills_the_note(
        app, agent, templates, held, live_server, chromium):
    context, page = new_page(chromium)
    dialogs: list[str] = []
    accept = False

    def answer(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.on("dialog", answer)
    try:
        sign_in(page, live_server, agent.email)
        page.goto(f"{live_server}/requests/{held}")
        assert page.locator("[data-reply-picker]").is_visible()
        assert not page.locator("[data-reply-list]").is_visible()  # the no-JS list gives way
        # No decision yet: every template that fits the reason, grouped by decision.
        assert offered(page) == ["Other offer shown", "Not enough evidence", "Send the order chat"]
        screenshot(page, "picker-1440.png")

        page.keyboard.press("r")
        assert checked_decision(page) == "reject"
        assert offered(page) == ["Not enough evidence"]
        page.select_option("#reply-template-picker", str(templates["reject"]))
        assert page.input_value("#note") == REJECT_BODY
        assert chosen_template(page) == str(templates["reject"])

        page.keyboard.press("Escape")
        page.keyboard.press("a")  # the template no longer fits: dropped, the note left alone
        assert checked_decision(page) == "approve"
        assert offered(page) == ["Other offer shown"]
        assert page.input_value("#reply-template-picker") == ""
        assert chosen_template(page) == ""
        assert page.input_value("#note") == REJECT_BODY

        # The note holds only the last template's text: replaced without asking.
        page.select_option("#reply-template-picker", str(templates["approve"]))
        assert page.input_value("#note") == APPROVE_BODY and dialogs == []

        # The agent edits it, then picks "Write your own" and the template again: asked first,
        # and saying no keeps their words.
        page.fill("#note", APPROVE_BODY + " Your rating is updated.")
        page.select_option("#reply-template-picker", "")
        assert chosen_template(page) == ""
        page.select_option("#reply-template-picker", str(templates["approve"]))
        assert len(dialogs) == 1 and "Replace the note you wrote" in dialogs[0]
        assert page.input_value("#note") == APPROVE_BODY + " Your rating is updated."
        assert page.input_value("#reply-template-picker") == ""
        assert chosen_template(page) == ""

        accept = True
        page.select_option("#reply-template-picker", str(templates["approve"]))
        assert len(dialogs) == 2 and page.input_value("#note") == APPROVE_BODY
        page.fill("#note", APPROVE_BODY + " Thank you for your patience.")
        with page.expect_navigation():
            page.keyboard.press("Control+Enter")

        assert load(app, DeletionRequest, held).status is RequestStatus.APPROVED
        details = audit_details(app, "request.decided", request_id=held)[0]
        assert details["reply_template_id"] == templates["approve"]
        assert details["note"] == APPROVE_BODY + " Thank you for your patience."
    finally:
        context.close()


def test_choosing_a_template_first_chooses_its_decision(app, agent, templates, held, live_server, chromium):
    context, page = new_page(chromium)
    try:
        sign_in(page, live_server, agent.email)
        page.goto(f"{live_server}/requests/{held}")

        page.select_option("#reply-template-picker", str(templates["ask"]))

        assert checked_decision(page) == "request_info"
        assert page.input_value("#note") == ASK_BODY
        assert offered(page) == ["Send the order chat"]
        assert page.input_value("#reply-template-picker") == str(templates["ask"])
        assert "Send the order chat" in page.locator("[data-reply-status]").inner_text()
    finally:
        context.close()


def test_saying_yes_replaces_what_the_agent_typed(app, agent, templates, held, live_server, chromium):
    context, page = new_page(chromium)
    try:
        sign_in(page, live_server, agent.email)
        page.goto(f"{live_server}/requests/{held}")
        page.keyboard.press("a")
        page.keyboard.type("My own words.")
        page.keyboard.press("Escape")
        page.on("dialog", lambda dialog: dialog.accept())

        page.select_option("#reply-template-picker", str(templates["approve"]))

        assert page.input_value("#note") == APPROVE_BODY
        assert chosen_template(page) == str(templates["approve"])
    finally:
        context.close()


def test_a_refused_round_keeps_the_template_chosen(app, agent, templates, held, live_server, chromium):
    context, page = new_page(chromium)
    try:
        sign_in(page, live_server, agent.email)
        page.goto(f"{live_server}/requests/{held}")
        page.select_option("#reply-template-picker", str(templates["approve"]))
        page.evaluate("document.querySelector('#internal_note').value = 'x'.repeat(5001)")
        with page.expect_navigation():
            page.click("input[name=submit]")

        assert "Nothing was recorded" in page.locator(".error-summary").inner_text()
        assert page.input_value("#reply-template-picker") == str(templates["approve"])
        assert chosen_template(page) == str(templates["approve"])
        # Still the template's own text: choosing another asks nothing.
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.keyboard.press("Escape")
        page.click("input[name=decision][value=reject]")
        page.select_option("#reply-template-picker", str(templates["reject"]))
        assert dialogs == [] and page.input_value("#note") == REJECT_BODY
    finally:
        context.close()


def test_without_javascript_the_templates_are_a_list_to_copy(
        app, agent, templates, held, live_server, chromium):
    context, page = new_page(chromium, javascript=False)
    try:
        sign_in(page, live_server, agent.email)
        page.goto(f"{live_server}/requests/{held}")
        assert not page.locator("[data-reply-picker]").is_visible()

        page.click("[data-reply-list] summary")

        listed = page.locator("[data-reply-list]").inner_text()
        assert APPROVE_BODY in listed and REJECT_BODY in listed and ASK_BODY in listed
        assert "Not for this reason." not in listed
        page.check("input[name=decision][value=reject]")
        page.fill("#note", REJECT_BODY)
        page.click("input[name=submit]")
        page.wait_for_load_state()
        assert load(app, DeletionRequest, held).status is RequestStatus.REJECTED
        assert "reply_template_id" not in audit_details(app, "request.decided", request_id=held)[0]
    finally:
        context.close()


@pytest.mark.parametrize("width", [390, 1440])
def test_the_picker_and_the_managers_page_pass_axe_and_fit_the_screen(
        app, agent, manager, templates, held, live_server, chromium, width):
    axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe()
    found = []
    for user, path, name in ((agent, f"/requests/{held}", "picker"),
                             (manager, "/reply-templates", "reply-templates"),
                             (manager, f"/reply-templates/{templates['reject']}", "edit")):
        context, page = new_page(chromium, width=width, height=844 if width == 390 else 900)
        try:
            sign_in(page, live_server, user.email)
            page.goto(f"{live_server}{path}")
            if name == "picker":
                page.keyboard.press("r")
                page.select_option("#reply-template-picker", str(templates["reject"]))
                page.keyboard.press("Escape")
            screenshot(page, f"{name}-{width}.png")
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (path, width)
            for violation in axe.run(page).response["violations"]:
                if violation["impact"] in ("serious", "critical"):
                    found += [f"{path}: {violation['id']} at {node['target']}" for node in violation["nodes"]]
        finally:
            context.close()
    assert not found, "\n".join(found)
