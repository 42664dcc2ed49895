"""Session lifetimes on top of Flask-Login: an idle timeout (shorter for staff), an absolute
timeout counted from sign-in, and "recent login" for sensitive actions such as audit exports.

The times live in the signed session cookie, so they cannot be forged; a copied cookie still
dies with the session token (see models.users) or when its times run out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import TypeVar

from flask import Flask, current_app, flash, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_login import current_user, logout_user
from werkzeug.wrappers import Response

from moderation_app.extensions import db
from moderation_app.security_log import log_security_event
from moderation_app.services.audit.log import record_event
from moderation_app.transactions import writing

View = TypeVar("View", bound=Callable[..., object])

SIGNED_IN_AT = "signed_in_at"
LAST_SEEN_AT = "last_seen_at"
PASSWORD_AT = "password_at"
# Renewing the idle clock rewrites the cookie; once a minute is precise enough.
LAST_SEEN_RESOLUTION = 60


def start_session() -> None:
    """Call right after login_user(): the clocks start now, the password was just entered."""
    now = int(time.time())
    session[SIGNED_IN_AT] = session[LAST_SEEN_AT] = session[PASSWORD_AT] = now


def confirm_password() -> None:
    session[PASSWORD_AT] = int(time.time())


def _seconds(setting: str) -> float:
    # A timedelta in code; plain seconds when set from the environment (FLASK_…=1800).
    value = current_app.config[setting]
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _idle_timeout() -> float:
    return _seconds("SESSION_IDLE_TIMEOUT_STAFF" if current_user.is_staff
                    else "SESSION_IDLE_TIMEOUT_SELLER")


def _expiry_reason(now: int) -> str | None:
    signed_in_at, last_seen_at = session.get(SIGNED_IN_AT), session.get(LAST_SEEN_AT)
    if not isinstance(signed_in_at, int) or not isinstance(last_seen_at, int):
        return "absolute"  # a session from before these clocks existed: start again
    if now - signed_in_at > _seconds("SESSION_ABSOLUTE_TIMEOUT"):
        return "absolute"
    if now - last_seen_at > _idle_timeout():
        return "idle"
    return None


# Asked by a page's script on a timer, not by a person: they must not keep an idle session alive.
POLLED_ENDPOINTS = frozenset({"evidence.processing"})


def enforce_session_lifetime() -> None:
    """before_request hook, ahead of the access check: an expired session is signed out, so the
    access check then treats the visitor as anonymous (sign-in page, or 401 for a POST)."""
    if request.endpoint == "static" or not current_user.is_authenticated:
        return
    now = int(time.time())
    reason = _expiry_reason(now)
    if reason is None:
        if (now - session[LAST_SEEN_AT] >= LAST_SEEN_RESOLUTION
                and request.endpoint not in POLLED_ENDPOINTS):
            session[LAST_SEEN_AT] = now
        return
    user = current_user._get_current_object()
    with writing():
        record_event("auth.session_expired", actor=user, details={"reason": reason})
        db.session.commit()
    log_security_event("session_expired", reason=reason)
    logout_user()
    session.clear()
    flash("Your session expired. Please sign in again." if reason == "absolute"
          else "You were signed out after a period of inactivity. Please sign in again.", "info")


def has_recent_password() -> bool:
    password_at = session.get(PASSWORD_AT)
    window = _seconds("RECENT_LOGIN_WINDOW")
    return isinstance(password_at, int) and time.time() - password_at <= window


def recent_login_required(view: View) -> View:
    """For sensitive views: ask for the password again unless it was entered a moment ago."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not has_recent_password():
            log_security_event("refused", status=302, reason="recent password required")
            return redirect(url_for("auth.reauthenticate",
                                    next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


_DISCARD = "discard_session_changes"


class DeskSessionInterface(SecureCookieSessionInterface):
    """Signed cookies, as Flask's, but a request that ended in an error sends no cookie: the
    browser keeps the session it came with. A sign-in whose audit event failed to commit must
    not leave anyone signed in, and the same holds for every other change to the session."""

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if g.get(_DISCARD):
            return
        super().save_session(app, session, response)


def discard_session_changes() -> None:
    """Called by the error handlers: this request's changes to the session are not sent."""
    g.setdefault(_DISCARD, True)
