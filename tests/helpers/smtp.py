"""A real SMTP server on loopback (aiosmtpd) for the notification tests: it records what it
accepted, can refuse the first attempts with 451, can run a hook on each DATA, and speaks STARTTLS
or TLS with a throwaway self-signed certificate."""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import ssl
import subprocess  # nosec B404  (openssl, a fixed command, for a test certificate)
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

ACCEPTED = "250 2.0.0 Message accepted for delivery"
TRY_LATER = "451 4.3.0 Try again later"


@dataclass
class Received:
    mail_from: str
    recipients: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content()

    @property
    def html(self) -> str:
        return self.message.get_body(("html",)).get_content()


@dataclass
class Recorder:
    """The server's handler. `refuse_first` DATA commands get 451; `on_data(n)` runs before the
    n-th DATA (1-based) is answered and may return a reply of its own."""

    refuse_first: int = 0
    on_data: Callable[[int], str | None] | None = None
    received: list[Received] = field(default_factory=list)
    attempts: int = 0
    logins: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.lock:
            self.attempts += 1
            attempt = self.attempts
        if self.on_data is not None:
            reply = self.on_data(attempt)
            if reply:
                return reply
        if attempt <= self.refuse_first:
            return TRY_LATER
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return ACCEPTED

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
            return AuthResult(success=auth_data.password == b"s3cret p@ss")
        return AuthResult(success=False)

    def message_ids(self) -> list[str]:
        return [item.message["Message-ID"] for item in self.received]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server(recorder: Recorder, **server_options) -> Iterator[int]:
    """Serves on 127.0.0.1 until the block ends; yields the port."""
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port,
                            ready_timeout=10, **server_options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def has_openssl() -> bool:
    return shutil.which("openssl") is not None


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1 and localhost, valid for a day."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(  # nosec B603 B607
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True)
    return cert, key


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
