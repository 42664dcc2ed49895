"""A real HTTP receiver on loopback for the webhook tests (http.server in a thread): it checks
each signature with the `standardwebhooks` package (an implementation independent of the desk's),
records every request, can fail the first N, redirect, answer slowly, or run something (another
sender's round) while the first request waits for its answer; and the outbox's rows."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from moderation_app.extensions import db
from moderation_app.models import WebhookEvent

# 32 fixed bytes, in the specification's form.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@dataclass
class Delivery:
    headers: dict[str, str]
    body: str
    status: int
    verified: bool

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """fail_first: answer 503 to that many requests first; redirect_to: answer 302 there;
    delay: seconds before answering (for timeouts); during_first: runs before the first request
    is answered, while its sender waits; trickle: seconds between the answer's header lines, each
    sent on its own (a receiver that never lets a read time out, yet never finishes)."""

    fail_first: int = 0
    redirect_to: str | None = None
    delay: float = 0.0
    trickle: float = 0.0
    during_first: Callable[[], None] | None = None
    arrived: int = 0
    secret: str = SECRET
    requests: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run_during_first(self) -> None:
        with self.lock:
            self.arrived += 1
            first = self.arrived == 1
        if first and self.during_first is not None:
            self.during_first()

    def answer(self, headers: dict[str, str], body: str) -> tuple[int, dict[str, str]]:
        try:
            Webhook(self.secret).verify(body, headers)
            verified = True
        except WebhookVerificationError:
            verified = False
        with self.lock:
            if not verified:
                status, extra = 401, {}
            elif self.redirect_to:
                status, extra = 302, {"Location": self.redirect_to}
            elif len(self.requests) < self.fail_first:
                status, extra = 503, {}
            else:
                status, extra = 204, {}
            self.requests.append(Delivery(headers, body, status, verified))
        return status, extra

    @property
    def accepted(self) -> list[Delivery]:
        """What the marketplace took, deduplicated by webhook-id as the specification asks."""
        seen: dict[str, Delivery] = {}
        for delivery in self.requests:
            if delivery.status < 300:
                seen.setdefault(delivery.headers["webhook-id"], delivery)
        return list(seen.values())

    def accepted_types(self) -> list[str]:
        return [delivery.payload["type"] for delivery in self.accepted]


@contextmanager
def webhook_receiver(receiver: Receiver) -> Iterator[str]:
    """The receiver on a free loopback port; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode("utf-8")
            receiver.run_during_first()
            if receiver.delay:
                time.sleep(receiver.delay)
            # Header names are case-insensitive (urllib sends "Webhook-id"): compare them lowered.
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, extra = receiver.answer(headers, body)
            if receiver.trickle:
                self.wfile.write(f"HTTP/1.1 {status} OK\r\n".encode())
                for line in range(20):
                    time.sleep(receiver.trickle)
                    try:
                        self.wfile.write(f"X-Line-{line}: .\r\n".encode())
                        self.wfile.flush()
                    except OSError:  # the sender gave up
                        return
                self.wfile.write(b"Content-Length: 0\r\n\r\n")
                return
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/desk"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def webhook_events(app: Flask) -> list[WebhookEvent]:
    """Every event, oldest first, detached with its columns and attempts loaded."""
    with app.app_context():
        rows = list(db.session.scalars(select(WebhookEvent).options(
            selectinload(WebhookEvent.attempt_log)).order_by(WebhookEvent.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def send_once(runner) -> str:
    result = runner.invoke(args=["webhooks", "send", "--once"])
    assert result.exit_code == 0, result.output
    return result.output
