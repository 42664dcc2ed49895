"""Throttling of failed logins, per account and per address, on the `limits` library.

Only failures are counted, so an office full of people signing in correctly from one address is
never blocked. One throttle per app (app.extensions["login_throttle"]): apps never share counters.
"""

from __future__ import annotations

import time

from flask import Flask, current_app
from limits import parse, storage
from limits.strategies import MovingWindowRateLimiter


class LoginThrottle:
    def __init__(self, app: Flask) -> None:
        backend = storage.storage_from_string(app.config["RATELIMIT_STORAGE_URI"])
        self._limiter = MovingWindowRateLimiter(backend)
        app.extensions["login_throttle"] = self

    @staticmethod
    def _limits() -> list[tuple[str, object]]:
        # Read at each call, so an operator's (or a test's) config change takes effect at once.
        return [("login-account", parse(current_app.config["LOGIN_LIMIT_PER_ACCOUNT"])),
                ("login-address", parse(current_app.config["LOGIN_LIMIT_PER_ADDRESS"]))]

    def _keys(self, email: str, address: str) -> dict[str, str]:
        return {"login-account": email.strip().lower(), "login-address": address}

    def retry_after(self, email: str, address: str) -> int | None:
        """Seconds until another attempt is allowed, or None when attempts are open."""
        keys = self._keys(email, address)
        waits = []
        for scope, limit in self._limits():
            if not self._limiter.test(limit, scope, keys[scope]):
                reset_at = self._limiter.get_window_stats(limit, scope, keys[scope]).reset_time
                waits.append(max(1, int(reset_at - time.time()) + 1))
        return max(waits) if waits else None

    def record_failure(self, email: str, address: str) -> None:
        keys = self._keys(email, address)
        for scope, limit in self._limits():
            self._limiter.hit(limit, scope, keys[scope])


def login_throttle() -> LoginThrottle:
    return current_app.extensions["login_throttle"]
