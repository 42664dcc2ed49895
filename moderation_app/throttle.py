"""Throttling of sign-in attempts, per account and per address, on the `limits` library.

Per account, every attempt is counted *before* its password is checked, with the limiter's
atomic hit: however many attempts arrive at once, at most the limit of them get a password
check in a window. The key is the account's id when the address names one (so every spelling
of the address that the lookup accepts shares one count), else the normalised address. A
correct password clears the account's count, so only failures in a row lock an account.

Per address (a coarse guard against spraying many accounts), only failures count, so an office
full of people signing in correctly from one address is never blocked.

One throttle per app (app.extensions["login_throttle"]): apps never share counters. Several
workers or servers share theirs in Redis (REDIS_URL, or RATELIMIT_STORAGE_URI=redis://…); gunicorn
refuses to start more than one worker on memory:// (gunicorn.conf.py).

When Redis cannot be reached, the limiter falls back to this process's memory and says so in the
log at each failed call, and goes back to Redis as soon as it answers: sign-in stays open, still
throttled, each process counting alone (with N processes an attacker gets at most N times the
limit while Redis is down). Refusing every sign-in instead would turn a Redis outage into a desk
outage (docs/deployment.md).
"""

from __future__ import annotations

import logging
import time

from flask import Flask, current_app
from limits import RateLimitItem, parse, storage
from limits.strategies import MovingWindowRateLimiter, WindowStats
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

ACCOUNT_SCOPE = "login-account"
ADDRESS_SCOPE = "login-address"


LIMITER_EXTENSION = "rate_limiter"


class LockedMemoryStorage(storage.MemoryStorage):
    """limits' memory storage, whose ``clear`` takes the key's lock as its expiry thread does.
    limits 5.8 pops the key unlocked, so a correct password (which clears the account's count)
    racing the thread that expires old hits made that thread die with a KeyError."""

    def clear(self, key: str) -> None:
        with self.locks[key]:
            super().clear(key)


# A sign-in waits at most this long for Redis before the limiter falls back to memory.
REDIS_TIMEOUT_SECONDS = 1.0


class SharedLimiter:
    """A moving-window limiter on a shared storage (Redis), with this process's memory standing
    in while the storage cannot be reached (see the module docstring)."""

    def __init__(self, uri: str, key_prefix: str) -> None:
        self.uri = uri
        options = ({"socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
                    "socket_timeout": REDIS_TIMEOUT_SECONDS, "key_prefix": key_prefix}
                   if uri.startswith("redis") else {})
        self._shared = MovingWindowRateLimiter(storage.storage_from_string(uri, **options))
        self._memory = MovingWindowRateLimiter(LockedMemoryStorage())

    def _call(self, method: str, *arguments):
        try:
            return getattr(self._shared, method)(*arguments)
        except (RedisError, OSError) as error:
            logger.error("rate limit storage unreachable (%s); counting in this process's memory",
                         type(error).__name__)
            return getattr(self._memory, method)(*arguments)

    def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        return self._call("hit", item, *identifiers)

    def test(self, item: RateLimitItem, *identifiers: str) -> bool:
        return self._call("test", item, *identifiers)

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        return self._call("get_window_stats", item, *identifiers)

    def clear(self, item: RateLimitItem, *identifiers: str) -> None:
        return self._call("clear", item, *identifiers)


def rate_limiter(app: Flask) -> MovingWindowRateLimiter | SharedLimiter:
    """The app's one moving-window limiter on RATELIMIT_STORAGE_URI (one storage, one set of
    connections): sign-in attempts here and refused uploads (seller/uploads.py) count in it, each
    under a scope of its own."""
    limiter = app.extensions.get(LIMITER_EXTENSION)
    if limiter is None:
        uri = app.config["RATELIMIT_STORAGE_URI"]
        limiter = (MovingWindowRateLimiter(LockedMemoryStorage()) if uri == "memory://"
                   else SharedLimiter(uri, app.config["RATELIMIT_KEY_PREFIX"]))
        app.extensions[LIMITER_EXTENSION] = limiter
    return limiter


def seconds_until_allowed(limiter: MovingWindowRateLimiter | SharedLimiter, limit: RateLimitItem,
                          scope: str, key: str) -> int:
    """How long a refused caller waits (Retry-After): until the window's oldest hit leaves it."""
    reset_at = limiter.get_window_stats(limit, scope, key).reset_time
    return max(1, int(reset_at - time.time()) + 1)


class LoginThrottle:
    def __init__(self, app: Flask) -> None:
        self._limiter = rate_limiter(app)
        app.extensions["login_throttle"] = self

    @staticmethod
    def _limit(setting: str) -> RateLimitItem:
        # Read at each call, so an operator's (or a test's) config change takes effect at once.
        return parse(current_app.config[setting])

    def _wait(self, limit: RateLimitItem, scope: str, key: str) -> int:
        return seconds_until_allowed(self._limiter, limit, scope, key)

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
