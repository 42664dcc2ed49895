"""Throttling of sign-in attempts, per account and per address, on the `limits` library.

Per account, every attempt is counted *before* its password is checked, with the limiter's
atomic hit: however many attempts arrive at once, at most the limit of them get a password
check in a window. The key is the account's id when the address names one (so every spelling
of the address that the lookup accepts shares one count), else the normalised address. A
correct password clears the account's count, so only failures in a row lock an account.

Per address (a coarse guard against spraying many accounts), only failures count, so an office
full of people signing in correctly from one address is never blocked.

One throttle per app (app.extensions["login_throttle"]): apps never share counters. Use a shared
storage (RATELIMIT_STORAGE_URI=redis://…) when several workers serve the desk.
"""

from __future__ import annotations

import time

from flask import Flask, current_app
from limits import RateLimitItem, parse, storage
from limits.strategies import MovingWindowRateLimiter

ACCOUNT_SCOPE = "login-account"
ADDRESS_SCOPE = "login-address"


LIMITER_EXTENSION = "rate_limiter"


def rate_limiter(app: Flask) -> MovingWindowRateLimiter:
    """The app's one moving-window limiter on RATELIMIT_STORAGE_URI (one storage, one set of
    connections): sign-in attempts here and refused uploads (seller/uploads.py) count in it, each
    under a scope of its own."""
    limiter = app.extensions.get(LIMITER_EXTENSION)
    if limiter is None:
        backend = storage.storage_from_string(app.config["RATELIMIT_STORAGE_URI"])
        limiter = app.extensions[LIMITER_EXTENSION] = MovingWindowRateLimiter(backend)
    return limiter


class LoginThrottle:
    def __init__(self, app: Flask) -> None:
        self._limiter = rate_limiter(app)
        app.extensions["login_throttle"] = self

    @staticmethod
    def _limit(setting: str) -> RateLimitItem:
        # Read at each call, so an operator's (or a test's) config change takes effect at once.
        return parse(current_app.config[setting])

    def _wait(self, limit: RateLimitItem, scope: str, key: str) -> int:
        reset_at = self._limiter.get_window_stats(limit, scope, key).reset_time
        return max(1, int(reset_at - time.time()) + 1)

    def attempt(self, account_key: str, address: str) -> int | None:
        """Count one attempt; None when its password may be checked, else seconds to wait."""
        address_limit = self._limit("LOGIN_LIMIT_PER_ADDRESS")
        if not self._limiter.test(address_limit, ADDRESS_SCOPE, address):
            return self._wait(address_limit, ADDRESS_SCOPE, address)
        account_limit = self._limit("LOGIN_LIMIT_PER_ACCOUNT")
        if not self._limiter.hit(account_limit, ACCOUNT_SCOPE, account_key):
            return self._wait(account_limit, ACCOUNT_SCOPE, account_key)
        return None

    def failed(self, address: str) -> None:
        """The password was wrong: one more failure from this address."""
        self._limiter.hit(self._limit("LOGIN_LIMIT_PER_ADDRESS"), ADDRESS_SCOPE, address)

    def succeeded(self, account_key: str) -> None:
        """The password was right: the account's count starts again."""
        self._limiter.clear(self._limit("LOGIN_LIMIT_PER_ACCOUNT"), ACCOUNT_SCOPE, account_key)


def login_throttle() -> LoginThrottle:
    return current_app.extensions["login_throttle"]
