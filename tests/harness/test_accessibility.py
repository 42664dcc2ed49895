"""WCAG 2.2 AA in Debian's Chromium: axe-core over every page each role reaches on the demo data, and
no sideways scrolling on phones (360 and 390 px). One server and one browser for the whole module."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import delete, select
from werkzeug.serving import make_server

from moderation_app.database import utcnow
from moderation_app.demo.seed import DEMO_LOGINS, seed_demo
from moderation_app.extensions import db
from moderation_app.models import DeletionRequest, Notification, RequestStatus, Review
from moderation_app.models.exports import AuditExport, ExportFormat
from moderation_app.models.users import Role
from moderation_app.services.accounts import find_user, invite
from moderation_app.services.keyset import encode_cursor
from moderation_app.settings import evidence_store
from tests.helpers.browser import BROWSER_MARKS, blocking
from tests.helpers.database import app_on_test_database

pytest.importorskip("axe_playwright_python.sync_playwright")
pytestmark = BROWSER_MARKS

PHONE_WIDTHS = (360, 390)


@dataclass(frozen=True)
class Desk:
    base: str
    pages: dict[str, list[str]]  # role ("anonymous", "seller", ...) -> paths that role reaches
    app: Flask


def demo_login(role: str) -> tuple[str, str]:
    email, _, password = next(login for login in DEMO_LOGINS if login[1] == role)
    return email, password


def pages_on(app) -> dict[str, list[str]]:
    """The demo data's pages per role; the queue's tabs are read off the queue page itself."""
    with app.app_context():
        seller = find_user(demo_login("seller")[0])
        requests = db.session.scalars(select(DeletionRequest).where(
            DeletionRequest.seller_id == seller.id).order_by(DeletionRequest.id)).all()
        open_request = next(item for item in requests if item.status in (
            RequestStatus.SUBMITTED, RequestStatus.NEEDS_INFO))
        decided = db.session.scalar(select(DeletionRequest.id).where(
            DeletionRequest.status.in_([RequestStatus.APPROVED, RequestStatus.REJECTED])))
        fresh_review = db.session.scalar(select(Review.external_id).where(
            Review.seller_id == seller.id, Review.rating_fulfillment <= 2,
            ~Review.id.in_(select(DeletionRequest.review_id))).order_by(Review.id))
        link = invite("new.agent@example.com", Role.AGENT, find_user(demo_login("manager")[0]),
                      utcnow()).token
        member = find_user(demo_login("agent")[0]).id
        first, open_id = requests[0].id, open_request.id
        # Issue 13: a rejection with its statement and appeal form, and an appeal waiting.
        appealable, appealed = (next(item.id for item in requests if item.status is status)
                                for status in (RequestStatus.REJECTED, RequestStatus.APPEALED))
        mail = db.session.scalar(select(Notification.id).order_by(Notification.id))
        # The requests below the newest one: a later page whose pager leads only upwards.
        newest = max(requests, key=lambda item: (item.submitted_at, item.id))
        below_newest = encode_cursor(newest.submitted_at, newest.id)
        db.session.commit()
    return {
        "anonymous": ["/login", f"/set-password/{link}", "/set-password/not-a-link", "/nothing-here"],
        "seller": ["/seller/reviews", f"/seller/reviews/{fresh_review}/deletion-request",
                   "/seller/requests", f"/seller/requests/{first}",
                   # Keyset pages: the oldest, an old deep page number (a note), a later page of
                   # requests, and filters that match nothing.
                   "/seller/reviews?page=last", "/seller/reviews?page=99",
                   f"/seller/requests?status=all&after={below_newest}",
                   "/seller/reviews?stars=1&since=2030-01-01",
                   f"/seller/requests/{open_id}", f"/seller/requests/{open_id}/withdraw",
                   f"/seller/requests/{appealable}", f"/seller/requests/{appealed}",
                   "/account", "/queue"],  # the 403 page
        "agent": ["/queue", f"/requests/{open_id}", f"/requests/{decided}", f"/requests/{appealed}",
                  "/dashboard", "/account"],
        "manager": ["/dashboard", "/audit", "/team", f"/team/{member}", "/reply-templates", "/notifications",
                    f"/notifications/{mail}", "/webhooks", "/audit/exports", "/account",
                    "/reauthenticate?next=/audit/export.csv"],
    }


@pytest.fixture(scope="module")
def desk(migrated_database, tmp_path_factory) -> Iterator[Desk]:
    with app_on_test_database(migrated_database, tmp_path_factory.mktemp("a11y")) as app:
        with app.app_context():
            with evidence_store().transaction() as staged:
                seed_demo(staged)
                db.session.commit()
        pages = pages_on(app)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield Desk(f"http://127.0.0.1:{server.server_port}", pages, app)
        server.shutdown()
        thread.join()


def signed_in_page(chromium, desk: Desk, role: str, width: int = 1280):
    context = chromium.new_context(viewport={"width": width, "height": 860})
    page = context.new_page()
    if role != "anonymous":
        email, password = demo_login(role)
        page.goto(f"{desk.base}/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert "/login" not in page.url, f"{role} could not sign in"
    return context, page


def visit_all(chromium, desk: Desk, role: str, check, width: int = 1280) -> list[str]:
    """Runs `check(page)` on each of the role's pages, the queue's tabs, and the forms after a
    failed submit; returns everything it found."""
    context, page = signed_in_page(chromium, desk, role, width)
    found: list[str] = []
    try:
        for path in desk.pages[role]:
            page.goto(f"{desk.base}{path}")
            found += check(page)
            if path == "/queue" and role != "seller":
                for tab in page.locator("nav.tabs a").evaluate_all("links => links.map(a => a.href)"):
                    page.goto(tab)
                    found += check(page)
        # Forms as they come back with errors, and a request held by the agent.
        # The seller's form answers in place (static/js/uploads.js): wait for its error summary.
        path, button, answered = {
            "anonymous": ("/login", "main button[type=submit]", ".field-error"),
            "seller": (desk.pages["seller"][1], "form.request-form button[type=submit]", ".error-summary"),
            "agent": ("/queue", "text=Take the next request", "#decision-title"),
            "manager": ("/team", "text=Create account and link", ".field-error"),
        }[role]
        page.goto(f"{desk.base}{path}")
        page.click(button)
        page.wait_for_selector(answered)
        page.wait_for_load_state()  # a new page's errors can be in the DOM before its stylesheet
        found += check(page)
    finally:
        context.close()
    return found


@pytest.mark.parametrize("role", ["anonymous", "seller", "agent", "manager"])
def test_every_page_has_no_serious_or_critical_axe_violation(chromium, desk, role):
    found = visit_all(chromium, desk, role, blocking)
    assert not found, "axe-core found:\n" + "\n".join(found)


def sideways_scroll(page) -> list[str]:
    scroll_width, inner_width = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]")
    return [f"{page.url}: {scroll_width} px wide in a {inner_width} px window"] \
        if scroll_width > inner_width else []


@pytest.mark.parametrize("width", PHONE_WIDTHS)
@pytest.mark.parametrize("role", ["anonymous", "seller", "agent", "manager"])
def test_no_page_scrolls_sideways_on_a_phone(chromium, desk, role, width):
    # At the wider phone width, axe-core too: a table that scrolls inside its box on a phone
    # only must be reachable by keyboard (static/js/scroll_regions.js).
    check = sideways_scroll if width != 390 else lambda page: sideways_scroll(page) + blocking(page)
    found = visit_all(chromium, desk, role, check, width=width)
    assert not found, "\n".join(found)


def test_a_table_that_scrolls_on_a_phone_is_a_named_tab_stop_and_only_there(chromium, desk):
    for width, scrolls in ((390, True), (1280, False)):
        context, page = signed_in_page(chromium, desk, "manager", width)
        try:
            page.goto(f"{desk.base}/dashboard")
            regions = page.locator(".table-scroll[tabindex='0'][role=region]")
            names = regions.evaluate_all("boxes => boxes.map(box => box.getAttribute('aria-label'))")
            if scrolls:
                assert "Decisions per agent in the period (scrolls sideways)" in names, names
            else:
                assert names == []
        finally:
            context.close()


def test_the_exports_list_updates_itself_until_the_form_is_touched(chromium, desk):
    """While an export waits, the list opens itself again (static/js/refresh.js), but never under
    a manager filling in the export form: it pauses and says so, and what they typed stays."""
    with desk.app.app_context():
        manager = find_user(demo_login("manager")[0])
        export = AuditExport(requested_by_id=manager.id, format=ExportFormat.CSV)
        db.session.add(export)
        db.session.commit()
        export_id = export.id
    context, page = signed_in_page(chromium, desk, "manager")
    try:
        page.goto(f"{desk.base}/audit/exports")
        assert "Queued" in page.locator(f"tr:has(td:text-is('{export_id}'))").inner_text()
        with page.expect_navigation(timeout=6000):
            pass  # the list opens itself again within its 3 s
        page.fill("input[name=actor]", "ana")
        status = page.locator("[data-refresh]")
        assert status.inner_text().startswith("Updates paused while you fill in the form.")
        page.wait_for_timeout(4000)
        assert page.input_value("input[name=actor]") == "ana"
        assert blocking(page) == []
    finally:
        context.close()
        with desk.app.app_context():
            db.session.execute(delete(AuditExport).where(AuditExport.id == export_id))
            db.session.commit()


def test_stars_differ_in_shape_and_read_as_text(chromium, desk):
    context, page = signed_in_page(chromium, desk, "seller")
    try:
        page.goto(f"{desk.base}/seller/reviews")
        stars = page.locator(".stars").first
        label = stars.get_attribute("aria-label")
        shown = stars.inner_text()
        assert label and label.endswith("of 5 stars")
        filled = int(label.split()[0])
        assert shown == "★" * filled + "☆" * (5 - filled)
    finally:
        context.close()


def test_a_later_page_of_requests_offers_only_the_ways_up_as_links(chromium, desk):
    """The page the axe check above reads: its pager is there, and the ways down are text."""
    later = next(path for path in desk.pages["seller"] if "after=" in path)
    context, page = signed_in_page(chromium, desk, "seller")
    try:
        page.goto(f"{desk.base}{later}")
        pager = page.get_by_role("navigation", name="Pages of requests")
        links = [link.inner_text().strip("«← ") for link in pager.get_by_role("link").all()]
        assert links == ["Newest", "Newer"]
        assert pager.locator(".disabled").all_inner_texts() == ["Older →", "Oldest »"]
    finally:
        context.close()


def test_skip_link_is_the_first_stop_and_leads_to_the_content(chromium, desk):
    context, page = signed_in_page(chromium, desk, "seller")
    try:
        page.goto(f"{desk.base}/seller/reviews")
        page.keyboard.press("Tab")
        focused = page.evaluate("[document.activeElement.textContent.trim(), "
                                "document.activeElement.getAttribute('href')]")
        assert focused == ["Skip to content", "#content"]
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "content"
    finally:
        context.close()


def test_a_field_with_an_error_points_at_its_message(chromium, desk):
    context, page = signed_in_page(chromium, desk, "anonymous")
    try:
        page.goto(f"{desk.base}/login")
        page.click("button[type=submit]")
        page.wait_for_load_state()
        email = page.locator("input[name=email]")
        assert email.get_attribute("aria-invalid") == "true"
        described = email.get_attribute("aria-describedby").split()
        messages = [page.locator(f"#{error_id}").inner_text() for error_id in described]
        assert messages and all(messages)
        assert page.locator("input[name=password]").get_attribute("aria-invalid") == "true"
    finally:
        context.close()
