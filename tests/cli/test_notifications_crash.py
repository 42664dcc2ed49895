"""The sender as a real process: killed with SIGKILL in the middle of a batch and run again, every
notification reaches the SMTP server exactly once. What it marked sent before dying it does not
send again (the proof is the rows and the count at the server, not the receiver's Message-ID
dedupe); the message in flight when it died had not been accepted, so it is sent by a later run (on
SQLite once the dead sender's lease on it has ended, a minute later; until then a run sends the
rest and leaves it alone). (The one window left, a kill after the server's 250 and before the mark's commit, means a resend
with the same Message-ID: docs/notifications.md.) SIGTERM stops the loop between messages."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess  # nosec B404
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models import Notification, NotificationStatus
from tests.helpers.database import TEST_DATABASE_URL, engine_options
from tests.helpers.notifications import decided, filed, outbox
from tests.helpers.smtp import TRY_LATER, Recorder, smtp_server

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).with_name("flask"))
EVENTS = 6
KILLED_AT = 3  # the sender dies while the server reads the 3rd message's DATA
NOTIFICATION_ID = re.compile(r"^<notification-(\d+)\.")


def sender_environment(app, smtp_url: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("FLASK_") and key not in ("DATABASE_URL", "UPLOAD_DIR", "SMTP_URL")}
    env.update({
        "SECRET_KEY": "notification-test-secret-key",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "FLASK_SQLALCHEMY_ENGINE_OPTIONS": json.dumps(engine_options()),
        "UPLOAD_DIR": app.config["UPLOAD_DIR"],
        "PUBLIC_URL": "https://desk.example.com",
        "FLASK_NOTIFICATION_POLL_SECONDS": "0.2",
    })
    if smtp_url:
        env["SMTP_URL"] = smtp_url
    return env


def start_sender(app, smtp_url: str | None) -> subprocess.Popen:
    return subprocess.Popen(  # nosec B603
        [FLASK, "--app", "wsgi", "notifications", "send"], cwd=PROJECT_ROOT,
        env=sender_environment(app, smtp_url), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)


def notification_ids(recorder: Recorder) -> list[int]:
    return sorted(int(NOTIFICATION_ID.match(message_id).group(1))
                  for message_id in recorder.message_ids())


def end_lease(app, notification_id: int) -> None:
    """What a minute's wait would do, without the wait."""
    with app.app_context():
        db.session.execute(update(Notification).where(Notification.id == notification_id)
                           .values(next_attempt_at=utcnow()))
        db.session.commit()


@pytest.fixture
def decided_requests(app, seller, seller_client, agent_client) -> list[int]:
    request_ids = [filed(app, seller_client, seller) for _ in range(EVENTS)]
    for request_id in request_ids:
        decided(agent_client, request_id, "reject")
    return request_ids


def test_a_sender_killed_mid_batch_leaves_every_email_delivered_exactly_once(
        app, runner, decided_requests):
    sender: dict[str, subprocess.Popen] = {}
    killed_at = []

    def kill_sender_during(attempt: int) -> str | None:
        if attempt != KILLED_AT:
            return None
        killed_at.append(utcnow())
        sender["process"].send_signal(signal.SIGKILL)
        sender["process"].wait(timeout=30)
        return TRY_LATER  # never seen by the dead sender: the message was not accepted

    recorder = Recorder(on_data=kill_sender_during)
    with smtp_server(recorder) as port:
        smtp_url = f"smtp://127.0.0.1:{port}"
        sender["process"] = start_sender(app, smtp_url)
        output, _ = sender["process"].communicate(timeout=60)
        assert sender["process"].returncode == -signal.SIGKILL, output

        rows = outbox(app)
        sent_before = [row.id for row in rows if row.status is NotificationStatus.SENT]
        assert len(sent_before) == KILLED_AT - 1
        assert notification_ids(recorder) == sent_before
        assert [row.attempts for row in rows if row.status is NotificationStatus.PENDING] \
            == [0] * (EVENTS - KILLED_AT + 1)

        app.config.update(SMTP_URL=smtp_url, PUBLIC_URL="https://desk.example.com")
        if not TEST_DATABASE_URL:
            # SQLite: the dead sender leased the row it was sending (PostgreSQL's lock died with
            # its connection). For the lease, 2 × SMTP_TIMEOUT_SECONDS (30 s) from just before
            # the DATA, no other sender takes it: a run now sends the rest only.
            (in_flight,) = [row for row in rows if row.status is NotificationStatus.PENDING
                            and row.next_attempt_at > killed_at[0]]
            lease = in_flight.next_attempt_at - killed_at[0]
            assert timedelta(seconds=50) < lease <= timedelta(seconds=60)
            result = runner.invoke(args=["notifications", "send", "--once"])
            assert "sent 3," in result.output, result.output
            assert in_flight.id not in notification_ids(recorder)
            end_lease(app, in_flight.id)
        result = runner.invoke(args=["notifications", "send", "--once"])
        assert result.exit_code == 0, result.output

    rows = outbox(app)
    assert notification_ids(recorder) == [row.id for row in rows]  # each exactly once
    assert {row.status for row in rows} == {NotificationStatus.SENT}
    assert recorder.attempts == EVENTS + 1  # the one killed in flight was tried twice
    assert len(set(recorder.message_ids())) == EVENTS


def test_sigterm_stops_the_loop_between_messages(app, decided_requests):
    recorder = Recorder()
    with smtp_server(recorder) as port:
        process = start_sender(app, f"smtp://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while len(recorder.received) < EVENTS and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)

    assert process.returncode == 0, output
    assert "stopped" in output
    assert len(recorder.received) == EVENTS


def test_without_smtp_url_the_loop_waits_and_sends_nothing(app, decided_requests):
    process = start_sender(app, None)
    first_line = process.stdout.readline()  # printed once it is listening for signals
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)

    assert process.returncode == 0, first_line + output
    assert "SMTP_URL is not set" in first_line
    assert {row.status for row in outbox(app)} == {NotificationStatus.PENDING}
