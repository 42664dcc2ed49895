"""One signed POST of an event's body to the marketplace, with the standard library: a timeout
for the whole attempt (connect, send, answer), no redirects followed (a 3xx is a failure like any
non-2xx: a moved endpoint must be configured, not guessed), and the answer or error as an
AttemptResult."""

from __future__ import annotations

import http.client
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from http.client import HTTPException
from urllib.parse import urlsplit

from moderation_app.services.webhooks.outbox import AttemptResult
from moderation_app.services.webhooks.signing import parse_secret, sign

USER_AGENT = "review-moderation-desk-webhooks/1"
# Of an error answer's body, what a manager reads next to its status.
ANSWER_EXCERPT_BYTES = 200


class WebhookUrlError(ValueError):
    """MARKETPLACE_WEBHOOK_URL is not an http(s) address; the message says why."""


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookUrlError("MARKETPLACE_WEBHOOK_URL must be the marketplace's http(s) "
                              "endpoint, e.g. https://marketplace.example.com/webhooks/desk.")
    if parts.username or parts.password:
        raise WebhookUrlError("MARKETPLACE_WEBHOOK_URL must not carry credentials: requests "
                              "are authenticated by their signature.")
    return url


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return None  # urllib then raises HTTPError with the 3xx


class _Deadline:
    """The attempt's whole time limit. A socket timeout bounds each connect and each read only,
    so a receiver that answers a byte every few seconds could hold an attempt for ever, past the
    lease that keeps other senders off the event (outbox_rounds.lease_for: 2 x the timeout):
    when the time is up, the attempt's sockets are shut down and its read ends."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def cancel(self) -> None:
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _watched(connection_class: type[http.client.HTTPConnection], deadline: _Deadline):
    class Watched(connection_class):  # type: ignore[misc, valid-type]
        def connect(self) -> None:
            super().connect()
            deadline.watch(self.sock)

    return Watched


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req):  # noqa: ANN001, ANN201
        return self.do_open(_watched(http.client.HTTPConnection, self.deadline), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def https_open(self, req):  # noqa: ANN001, ANN201
        options = {"context": self._context}
        if hasattr(self, "_check_hostname"):  # Python 3.11; gone from 3.12
            options["check_hostname"] = self._check_hostname
        return self.do_open(_watched(http.client.HTTPSConnection, self.deadline), req, **options)


class WebhookTransport:
    """POSTs to `url`, signed with `secret` (`whsec_…`); `clock` gives each attempt's
    webhook-timestamp (unix seconds)."""

    def __init__(self, url: str, secret: str, *, timeout: float = 10.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.url = check_url(url)
        self.timeout = timeout
        self.clock = clock
        self._key = parse_secret(secret)

    @property
    def display(self) -> str:
        """The URL without its query string, which may carry a token of the marketplace's."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}{parts.path}"

    def headers(self, webhook_id: str, body: str) -> dict[str, str]:
        timestamp = int(self.clock())
        return {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                "webhook-id": webhook_id, "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(self._key, webhook_id, timestamp, body)}

    def post(self, webhook_id: str, body: str) -> AttemptResult:
        request = urllib.request.Request(self.url, data=body.encode("utf-8"), method="POST",
                                         headers=self.headers(webhook_id, body))
        started = time.monotonic()
        deadline = _Deadline(self.timeout)
        # Proxies from the environment (HTTPS_PROXY, NO_PROXY) apply as everywhere in urllib.
        opener = urllib.request.build_opener(_NoRedirects(), _HTTPHandler(deadline),
                                             _HTTPSHandler(deadline))

        def took() -> int:
            return round((time.monotonic() - started) * 1000)

        try:
            result = self._attempt(opener, request, took)
        finally:
            deadline.cancel()
        # Cut short by the deadline, whatever that made of the attempt (a partial answer, a reset
        # connection): it timed out.
        return self._timed_out(took()) if deadline.expired else result

    def _timed_out(self, took: int) -> AttemptResult:
        return AttemptResult(took, error=f"timed out after {self.timeout:g} s")

    def _attempt(self, opener: urllib.request.OpenerDirector, request: urllib.request.Request,
                 took: Callable[[], int]) -> AttemptResult:
        try:
            with opener.open(request, timeout=self.timeout) as response:  # nosec B310 (http(s) only: check_url)
                response.read(ANSWER_EXCERPT_BYTES)
            return AttemptResult(took(), status_code=response.status)
        except urllib.error.HTTPError as answer:
            excerpt = _excerpt(answer)
            return AttemptResult(took(), status_code=answer.code,
                                 error=f"HTTP {answer.code} {answer.reason}" + (f": {excerpt}" if excerpt else ""))
        except urllib.error.URLError as error:
            return AttemptResult(took(), error=f"{type(error.reason).__name__}: {error.reason}")
        except (TimeoutError, socket.timeout):
            return self._timed_out(took())
        except (OSError, HTTPException) as error:
            return AttemptResult(took(), error=f"{type(error).__name__}: {error}")


def _excerpt(answer: urllib.error.HTTPError) -> str:
    try:
        raw = answer.read(ANSWER_EXCERPT_BYTES)
    except (OSError, HTTPException):
        return ""
    return " ".join(raw.decode("utf-8", "replace").split())
