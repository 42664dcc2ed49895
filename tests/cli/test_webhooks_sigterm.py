"""The sender as a real process: it delivers while running, and SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess  # nosec B404
import sys
import time
from pathlib import Path

from moderation_app.models import WebhookStatus
from tests.helpers.database import engine_options
from tests.helpers.notifications import decided, filed
from tests.helpers.webhooks import SECRET, Receiver, webhook_events, webhook_receiver

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).with_name("flask"))


def test_the_sender_delivers_then_stops_on_sigterm(app, seller, seller_client, agent_client):
    decided(agent_client, filed(app, seller_client, seller), "approve")
    receiver = Receiver()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("FLASK_", "MARKETPLACE_")) and key != "DATABASE_URL"}
    with webhook_receiver(receiver) as url:
        env.update({"SECRET_KEY": "webhook-test-secret-key",
                    "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
                    "FLASK_SQLALCHEMY_ENGINE_OPTIONS": json.dumps(engine_options()),
                    "UPLOAD_DIR": app.config["UPLOAD_DIR"],
                    "MARKETPLACE_WEBHOOK_URL": url, "MARKETPLACE_WEBHOOK_SECRET": SECRET,
                    "FLASK_WEBHOOK_POLL_SECONDS": "0.2"})
        sender = subprocess.Popen(  # nosec B603
            [FLASK, "--app", "wsgi", "webhooks", "send"], cwd=PROJECT_ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 30
            while len(receiver.accepted) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            sender.send_signal(signal.SIGTERM)
            output, _ = sender.communicate(timeout=30)
        finally:
            if sender.poll() is None:
                sender.kill()

    assert sender.returncode == 0, output
    assert "stopped" in output and "delivered 2" in output
    assert receiver.accepted_types() == ["request.decided", "review.removed"]
    assert {event.status for event in webhook_events(app)} == {WebhookStatus.DELIVERED}
