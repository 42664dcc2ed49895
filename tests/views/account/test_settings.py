"""`/account`: choosing the time zone pages show times in, or leaving it to the browser; refused
values change nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models.users import Role, User
from tests.helpers.accounts import make_user
from tests.helpers.clients import page_text, signed_in

SELECTED = re.compile(r'<option selected value="([^"]*)">|<option value="([^"]*)" selected>')


def stored_zone(app, email: str) -> str | None:
    with app.app_context():
        return db.session.scalar(select(User.timezone).where(User.email == email))


def selected_option(body: str) -> str:
    select_element = re.search(r'<select[^>]*name="timezone".*?</select>', body, re.DOTALL)
    assert select_element, "no time zone list on the page"
    chosen = [value for pair in SELECTED.findall(select_element.group(0)) for value in pair if value
              ] or [""]
    return chosen[0]


def save(client, zone: str, **kwargs):
    return client.post_form("/account", {"timezone": zone}, **kwargs)


def test_a_new_account_follows_the_browser(app, seller, seller_client):
    body = page_text(seller_client.get("/account"))

    assert stored_zone(app, seller.email) is None
    assert selected_option(body) == ""
    assert '<option selected value="">Use my browser&#39;s time zone</option>' in body


def test_the_top_bar_links_to_the_settings(seller_client):
    body = page_text(seller_client.get("/seller/reviews"))

    assert re.search(r'<div class="account">.*?<a href="/account">Settings</a>', body, re.DOTALL)


@pytest.mark.parametrize("role", list(Role))
def test_every_role_chooses_a_zone(app, role):
    user = make_user(app, f"{role.value}@example.com", role)
    client = signed_in(app, user)

    response = save(client, "Europe/Berlin")

    assert response.status_code == 303
    assert response.location.endswith("/account")
    assert stored_zone(app, user.email) == "Europe/Berlin"
    body = page_text(client.get("/account"))
    assert "Times are now shown in Europe/Berlin." in body
    assert selected_option(body) == "Europe/Berlin"
    assert "the zone you chose" in body


def test_choosing_the_browser_again_clears_the_choice(app, seller, seller_client):
    save(seller_client, "Asia/Tokyo")

    response = save(seller_client, "")

    assert response.status_code == 303
    assert stored_zone(app, seller.email) is None
    assert "Times now follow your browser&#39;s time zone." in page_text(seller_client.get("/account"))


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "europe/berlin", "../../etc/passwd",
                                  "localtime", "Factory", "Europe/" + "x" * 80, "UTC\x00"])
def test_a_zone_not_in_the_list_is_refused_and_nothing_changes(app, seller, seller_client, zone):
    save(seller_client, "Asia/Tokyo")

    response = save(seller_client, zone)

    assert response.status_code == 422
    body = page_text(response)
    assert "Choose a time zone from the list, or “Use my browser&#39;s time zone”." in body
    assert re.search(r'<select[^>]*aria-invalid="true"', body)
    assert re.search(r'aria-describedby="timezone-hint timezone-error-1"', body)
    assert selected_option(body) == "Asia/Tokyo"  # the list shows what is still in effect
    assert stored_zone(app, seller.email) == "Asia/Tokyo"


def test_a_form_without_the_field_is_refused(app, seller, seller_client):
    response = seller_client.post_form("/account", {})

    assert response.status_code == 422
    assert stored_zone(app, seller.email) is None


def test_a_post_without_the_csrf_token_is_refused(app, seller, seller_client):
    response = seller_client.post("/account", data={"timezone": "Asia/Tokyo"})

    assert response.status_code == 400
    assert stored_zone(app, seller.email) is None


def test_without_a_browser_zone_the_page_says_times_are_utc(seller_client):
    body = page_text(seller_client.get("/account"))

    assert "so times are shown in UTC" in body


def test_with_the_browser_cookie_the_page_names_the_browsers_zone(seller_client):
    seller_client.set_cookie("tz", "America/Sao_Paulo")

    body = page_text(seller_client.get("/account"))

    assert "in America/Sao Paulo, your browser's time zone" in body
    # The choice is still "the browser's": nothing was stored on reading the cookie.
    assert selected_option(body) == ""
