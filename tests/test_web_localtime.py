"""web.localtime and web.localtime_text, the template filters every page shows times with: the
viewer's zone as text, UTC in the tooltip and the machine-readable datetime, escaped as markup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from flask import render_template_string
from markupsafe import Markup

from moderation_app.web import localtime, localtime_text, viewer_time_zone

WINTER = datetime(2026, 11, 27, 13, 2, tzinfo=UTC)
SUMMER = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)


def in_browser_zone(app, zone: str):
    return app.test_request_context(headers={"Cookie": f"tz={zone}"})


def test_a_time_is_shown_in_the_viewers_zone_with_utc_on_hover(app):
    with in_browser_zone(app, "Europe/Berlin"):
        shown = localtime(WINTER)

    assert isinstance(shown, Markup)
    assert shown == ('<time datetime="2026-11-27T13:02:00Z" title="2026-11-27 13:02 UTC">'
                     '2026-11-27 14:02 CET</time>')


def test_summer_time_and_a_date_only_format(app):
    with in_browser_zone(app, "Europe/Berlin"):
        assert localtime(SUMMER, "%Y-%m-%d") == (
            '<time datetime="2026-07-01T22:30:00Z" title="2026-07-01 22:30 UTC">2026-07-02 CEST</time>')


def test_a_time_stored_with_another_offset_is_the_same_moment(app):
    same_moment = WINTER.astimezone(timezone(timedelta(hours=5, minutes=30)))

    with in_browser_zone(app, "Europe/Berlin"):
        assert localtime(same_moment) == localtime(WINTER)


def test_no_time_is_empty(app):
    with in_browser_zone(app, "Europe/Berlin"):
        assert localtime(None) == "" and localtime_text(None) == ""


def test_the_format_is_escaped_not_trusted(app):
    with in_browser_zone(app, "UTC"):
        shown = localtime(WINTER, "<b>%H</b>")

    assert "<b>" not in shown and "&lt;b&gt;13&lt;/b&gt;" in shown


def test_the_text_variant_is_plain_and_escaped_inside_an_attribute(app):
    with in_browser_zone(app, "Asia/Kolkata"):
        assert localtime_text(WINTER) == "2026-11-27 18:32 IST"
        rendered = render_template_string('<td title="Held {{ t|localtime_text }}">', t=WINTER)

    assert rendered == '<td title="Held 2026-11-27 18:32 IST">'


def test_outside_a_request_times_are_utc(app):
    with app.app_context():
        assert viewer_time_zone().key == "UTC"
        assert localtime_text(WINTER) == "2026-11-27 13:02 UTC"


@pytest.mark.parametrize("cookie", ["Nowhere/Special", "/etc/passwd", "Factory", "x" * 300])
def test_a_cookie_that_is_no_zone_gives_utc(app, cookie):
    with in_browser_zone(app, cookie):
        assert viewer_time_zone().key == "UTC"
