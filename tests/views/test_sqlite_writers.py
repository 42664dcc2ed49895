"""SQLite serving a team: a write-ahead log, a busy timeout, and writers that queue for the lock
(BEGIN IMMEDIATE) instead of failing midway, while pages keep reading."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from flask import Flask
from sqlalchemy import text

from moderation_app.database import SQLITE_BUSY_TIMEOUT_MS
from moderation_app.extensions import db
from tests.helpers.clients import signed_in
from tests.helpers.database import TEST_DATABASE_URL
from tests.helpers.stored import audit_events

pytestmark = pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="SQLite's own locking")

HOLD_SECONDS = 1.0


def database_file(app: Flask) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")


def hold_the_write_lock(app: Flask, seconds: float,
                        until: threading.Event | None = None) -> threading.Thread:
    """Another writer (as another worker would be) holds the write lock for `seconds`, or until
    `until` is set."""
    taken = threading.Event()

    def hold() -> None:
        connection = sqlite3.connect(database_file(app), isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        taken.set()
        if until is None:
            time.sleep(seconds)
        else:
            until.wait(seconds)
        connection.execute("COMMIT")
        connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert taken.wait(10)
    return thread


def test_connections_use_the_write_ahead_log_and_wait_for_the_lock(app):
    with app.app_context():
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(text("PRAGMA busy_timeout")).scalar() == SQLITE_BUSY_TIMEOUT_MS


def test_a_post_waits_for_another_writer_and_then_succeeds(app, agent):
    client = signed_in(app, agent)
    token = client.csrf_token()
    holder = hold_the_write_lock(app, HOLD_SECONDS)

    # The lock is taken for a second: the sign-out can only succeed by waiting for it.
    response = client.post("/logout", data={"csrf_token": token})

    holder.join()
    assert response.status_code == 302
    assert [event.actor_email for event in audit_events(app, "auth.logout")] == [agent.email]


def test_a_page_reads_while_another_writer_holds_the_lock(app, agent):
    client = signed_in(app, agent)
    page_done = threading.Event()
    # Held until the page is done (or past the busy timeout, when the page would fail with 503).
    holder = hold_the_write_lock(app, SQLITE_BUSY_TIMEOUT_MS / 1000 + 5, until=page_done)

    response = client.get("/queue")

    page_done.set()
    holder.join()
    assert response.status_code == 200
