"""The SMTP transport, configured by one URL (SMTP_URL):

    smtp://host:port                     plain, as to a local relay (port 25 by default)
    smtp+starttls://user:pass@host:587   upgraded with STARTTLS before anything is said
    smtps://user:pass@host:465           TLS from the first byte

Credentials are percent-encoded in the URL (`p%40ss` for `p@ss`). TLS verifies the server's
certificate and name against the system's trust store; credentials are never sent in clear (the
plain scheme takes none)."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

PLAIN, STARTTLS, TLS = "smtp", "smtp+starttls", "smtps"
DEFAULT_PORTS = {PLAIN: 25, STARTTLS: 587, TLS: 465}
DEFAULT_TIMEOUT_SECONDS = 30.0


class SmtpUrlError(ValueError):
    """SMTP_URL does not describe a server the sender can use; the message says why."""


@dataclass(frozen=True)
class SmtpSettings:
    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def display(self) -> str:
        """The URL without its password, for logs and the managers' page."""
        user = f"{self.username}@" if self.username else ""
        return f"{self.scheme}://{user}{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpSettings:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise SmtpUrlError(
            f"SMTP_URL has the scheme {scheme or '(none)'!r}; use smtp://host:port, "
            "smtp+starttls://user:pass@host:587 or smtps://user:pass@host:465.")
    if not parts.hostname:
        raise SmtpUrlError("SMTP_URL names no host, e.g. smtp://127.0.0.1:25.")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError as error:  # a port that is not a number or out of range
        raise SmtpUrlError(f"SMTP_URL has a bad port: {error}.") from None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SmtpUrlError("SMTP_URL takes no path, query or fragment.")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if scheme == PLAIN and username:
        raise SmtpUrlError("SMTP_URL: smtp:// sends in clear and takes no credentials; use "
                           "smtp+starttls:// or smtps:// to sign in.")
    if (username is None) != (password is None):
        raise SmtpUrlError("SMTP_URL: give both a user name and a password, or neither.")
    return SmtpSettings(scheme, parts.hostname, port, username, password)


class SmtpTransport:
    """Sends one message per connection: the sender is slow-paced (a decision at a time), and a
    fresh connection leaves no half-broken session behind after an error."""

    def __init__(self, settings: SmtpSettings, *, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self.timeout = timeout
        self.ssl_context = ssl_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        if settings.scheme == TLS:
            return smtplib.SMTP_SSL(settings.host, settings.port, timeout=self.timeout,
                                    context=self.ssl_context)
        connection = smtplib.SMTP(settings.host, settings.port, timeout=self.timeout)
        if settings.scheme == STARTTLS:
            connection.starttls(context=self.ssl_context)
        return connection

    def send(self, message: EmailMessage) -> None:
        """Returns once the server has accepted the message for every recipient; raises
        smtplib.SMTPException or OSError otherwise."""
        with self._connect() as connection:
            if self.settings.username is not None:
                connection.login(self.settings.username, self.settings.password or "")
            refused = connection.send_message(message)
            if refused:  # some recipients refused: for one recipient, send_message raises instead
                raise smtplib.SMTPRecipientsRefused(refused)
