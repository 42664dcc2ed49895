"""What every browser test shares: Debian's Chromium, how to sign in through the real form, and the
checks each page must pass (no sideways scrolling; axe-core's serious and critical findings)."""

from __future__ import annotations

import os

import pytest

from tests.helpers.accounts import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# pytestmark of every browser test module: its own marker (run once, in `make test`), and a skip
# on a machine without Chromium rather than a tool downloading a browser.
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
    # Werkzeug's test server skips close() on a file response whose browser dropped the
    # connection (a thumbnail or the favicon still loading when the page navigates or closes:
    # serving.py drains the socket first, and that raises), so the garbage collector closes the
    # file. gunicorn, the server `make run` and production use, closes it.
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <_io.FileIO name=:pytest.PytestUnraisableExceptionWarning"),
]
# What fails an accessibility check: "minor" and "moderate" findings are reported, not enforced.
BLOCKING_IMPACTS = {"serious", "critical"}


def sign_in(page, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, f"{email} could not sign in"


def no_sideways_scroll(page) -> None:
    scroll_width, inner_width = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
    assert scroll_width <= inner_width, f"{page.url}: {scroll_width} px wide in {inner_width} px"


def blocking(page) -> list[str]:
    """axe-core's serious and critical findings on the page, one readable line per element."""
    from axe_playwright_python.sync_playwright import Axe

    found = []
    for violation in Axe().run(page).response["violations"]:
        if violation["impact"] in BLOCKING_IMPACTS:
            for node in violation["nodes"]:
                found.append(f"{page.url}: {violation['id']} ({violation['impact']}): "
                             f"{violation['help']} at {node['target']}")
    return found
