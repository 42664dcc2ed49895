"""Bearer-token authentication and the per-token rate limit for the API's views.

`token_required` is the API's access declaration and its check in one: the view it wraps runs only
for an active token within its rate limit. Cookies never get this far (permissions.
refuse_cookies_to_api), and CSRF does not apply: a browser cannot attach the header on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import TypeVar

from flask import abort, current_app, g, request
from limits import parse
from werkzeug.exceptions import TooManyRequests

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.permissions import ACCESS_ATTRIBUTE, TOKEN
from moderation_app.services.api_tokens import authenticate, needs_touch, touch
from moderation_app.throttle import rate_limiter, seconds_until_allowed
from moderation_app.transactions import writing
from moderation_app.web import API_TOKEN_ID

View = TypeVar("View", bound=Callable[..., object])

RATE_SCOPE = "api-token"
# Refused tokens per address: guessing 256 bits is hopeless, but each try costs a lookup, and a
# client stuck on a revoked token should stop before it fills the security log.
FAILED_SCOPE = "api-token-refused"
_BEARER = "bearer "


@dataclass(frozen=True)
class Caller:
    """The token a call came with (plain values: the row's session may be gone)."""

    token_id: int
    name: str
    prefix: str


def current_caller() -> Caller:
    return g.api_caller


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:len(_BEARER)].lower() != _BEARER:
        return None
    return header[len(_BEARER):].strip() or None


def _refused(description: str) -> None:
    """401, counted against the caller's address."""
    limit = parse(current_app.config["API_FAILED_AUTH_PER_ADDRESS"])
    rate_limiter(current_app).hit(limit, FAILED_SCOPE, request.remote_addr or "")
    abort(401, description=description)


def _address_not_locked_out() -> None:
    """429 while the address is over its refused-token limit: even a good token waits."""
    limit = parse(current_app.config["API_FAILED_AUTH_PER_ADDRESS"])
    limiter, address = rate_limiter(current_app), request.remote_addr or ""
    if not limiter.test(limit, FAILED_SCOPE, address):
        retry_after = seconds_until_allowed(limiter, limit, FAILED_SCOPE, address)
        raise TooManyRequests(description="Too many refused API tokens from this address; "
                                          f"retry after {retry_after} s.", retry_after=retry_after)


def _authenticate() -> Caller:
    _address_not_locked_out()
    token = _bearer_token()
    if token is None:
        _refused("Send the API token as 'Authorization: Bearer <token>'.")
    row = authenticate(token)
    if row is None:
        _refused("The API token is not valid (unknown or revoked).")
    caller = Caller(row.id, row.name, row.prefix)
    now = utcnow()
    if needs_touch(row, now):
        with writing():  # a write of its own: a GET reads in a deferred transaction on SQLite
            touch(row.id, now)
            db.session.commit()
    return caller


def _within_rate_limit(caller: Caller) -> None:
    """Every call counts, under the token's id, in the app's one limiter (RATELIMIT_STORAGE_URI:
    shared between workers when it is Redis)."""
    setting = current_app.config["API_RATE_LIMIT"]
    limit, key = parse(setting), str(caller.token_id)
    limiter = rate_limiter(current_app)
    if not limiter.hit(limit, RATE_SCOPE, key):
        retry_after = seconds_until_allowed(limiter, limit, RATE_SCOPE, key)
        raise TooManyRequests(description=f"Token {caller.name} is limited to {setting}; "
                                          f"retry after {retry_after} s.",
                              retry_after=retry_after)


def token_required(view: View) -> View:
    """The view runs for an active token within its rate limit; g.api_caller says which."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        caller = _authenticate()
        _within_rate_limit(caller)
        g.api_caller = caller
        setattr(g, API_TOKEN_ID, caller.token_id)
        return view(*args, **kwargs)

    setattr(wrapper, ACCESS_ATTRIBUTE, TOKEN)
    return wrapper  # type: ignore[return-value]
