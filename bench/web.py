"""What the page benchmarks share: the app on a filled database, a client signed in through the real
login form, and a page timed through Flask's test client (routing, queries, template) with the SQL
statements it sent."""

from __future__ import annotations

import os
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import event  # noqa: E402

from bench.fill import PASSWORD_VARIABLE  # noqa: E402


def bench_password() -> str:
    password = os.environ.get(PASSWORD_VARIABLE)
    if not password:
        sys.exit(f"Set {PASSWORD_VARIABLE} to the password bench/fill.py was given.")
    return password


def app_on(database_url: str) -> Flask:
    """The desk's app on `database_url`, as `make run` configures it but for plain-HTTP cookies."""
    from moderation_app import create_app

    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ["DATABASE_URL"] = database_url
    return create_app({"SESSION_COOKIE_SECURE": False})


def signed_in(app: Flask, email: str, password: str) -> FlaskClient:
    client = app.test_client()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").get_data(as_text=True))
    answer = client.post("/login", data={"email": email, "password": password, "csrf_token": token.group(1)})
    if answer.status_code not in (302, 303):
        sys.exit(f"{email} could not sign in ({answer.status_code}): is {PASSWORD_VARIABLE} right?")
    return client


@dataclass(frozen=True)
class Timing:
    median_ms: float
    max_ms: float
    statements: int


class StatementCounter:
    """Counts the statements an engine sends, for one page at a time."""

    def __init__(self, engine) -> None:
        self.sent = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_call) -> None:
        self.sent += 1


def time_page(client: FlaskClient, counter: StatementCounter, path: str, repeat: int) -> Timing:
    """Median and max of `repeat` GETs of `path` after one warm-up; fails loudly on anything but 200."""
    response = client.get(path)
    if response.status_code != 200:
        sys.exit(f"{path} answered {response.status_code}")
    times = []
    for _ in range(repeat):
        counter.sent = 0
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            sys.exit(f"{path} answered {response.status_code}")
    return Timing(statistics.median(times), max(times), counter.sent)
