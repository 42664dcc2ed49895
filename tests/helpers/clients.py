"""Test clients that behave like a browser: forms posted with the page's CSRF token, and signing in
through the real sign-in form. The one way to get a signed-in client is `signed_in`."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from moderation_app.models.users import User
from tests.helpers.accounts import PASSWORD

CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class FormClient(FlaskClient):
    """A test client that posts forms the way a browser does: with the page's CSRF token."""

    def csrf_token(self) -> str:
        page = self.get("/login", follow_redirects=True).get_data(as_text=True)
        match = CSRF_INPUT.search(page)
        assert match, "no CSRF token on the landing page"
        return match.group(1)

    def post_form(self, url: str, data: dict | None = None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token())
        return self.post(url, data=data, **kwargs)

    def sign_in(self, email: str, password: str = PASSWORD):
        """Posts the sign-in form and returns the response, whatever it is (tests of the form
        itself look at it; to simply be signed in, use `signed_in`)."""
        return self.post_form("/login", {"email": email, "password": password})


def signed_in(app: Flask, user: User | str, password: str = PASSWORD) -> FormClient:
    """A new client of `app`, signed in as `user` (a User or an email) through the real form."""
    email = user if isinstance(user, str) else user.email
    client = app.test_client()
    response = client.sign_in(email, password)
    assert response.status_code == 302, f"{email} could not sign in"
    return client


def page_text(response) -> str:
    return response.get_data(as_text=True)


def page_without_csrf_tokens(page) -> str:
    """A response's (or a body's) text with its CSRF tokens blanked: a token carries the second it
    was signed, so two otherwise identical pages differ when they straddle a second boundary."""
    text = page.decode() if isinstance(page, bytes) else page_text(page)
    return re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value=""', text)
