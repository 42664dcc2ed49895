"""SMTP_URL: each scheme parsed, anything else a configuration error at start-up; and the
transport against a real SMTP server on loopback, in clear, with STARTTLS and with TLS, signing in
where the URL says so and checking the server's certificate."""

from __future__ import annotations

import re
import smtplib
import ssl
from email.message import EmailMessage

import pytest

from moderation_app import create_app
from moderation_app.config import ConfigError
from moderation_app.services.notifications.smtp import (
    SmtpSettings,
    SmtpTransport,
    SmtpUrlError,
    parse_smtp_url,
)
from tests.helpers.database import base_test_config
from tests.helpers.smtp import (
    Recorder,
    has_openssl,
    self_signed_certificate,
    server_tls_context,
    smtp_server,
)

needs_openssl = pytest.mark.skipif(not has_openssl(), reason="openssl makes the test certificate")


@pytest.mark.parametrize(("url", "expected"), [
    ("smtp://127.0.0.1:2525", SmtpSettings("smtp", "127.0.0.1", 2525)),
    ("smtp://relay.internal", SmtpSettings("smtp", "relay.internal", 25)),
    ("smtp+starttls://desk:s3cret@mail.example.com:587",
     SmtpSettings("smtp+starttls", "mail.example.com", 587, "desk", "s3cret")),
    ("smtp+starttls://desk:pw@mail.example.com", SmtpSettings("smtp+starttls", "mail.example.com", 587, "desk", "pw")),
    ("smtps://desk%40example.com:p%40ss%3Aword@mail.example.com:465",
     SmtpSettings("smtps", "mail.example.com", 465, "desk@example.com", "p@ss:word")),
    ("SMTPS://mail.example.com", SmtpSettings("smtps", "mail.example.com", 465)),
])
def test_each_scheme_is_parsed(url, expected):
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize(("url", "complaint"), [
    ("http://mail.example.com", "scheme 'http'"),
    ("smtp+ssl://mail.example.com:465", "scheme 'smtp+ssl'"),
    ("mail.example.com:25", "scheme"),
    ("smtp://", "no host"),
    ("smtp://mail.example.com:notaport", "bad port"),
    ("smtp://mail.example.com:70000", "bad port"),
    ("smtp://user:pw@mail.example.com:25", "takes no credentials"),
    ("smtps://user@mail.example.com", "both a user name and a password"),
    ("smtp://mail.example.com:25/inbox", "no path"),
])
def test_a_bad_smtp_url_is_refused_with_the_reason(url, complaint):
    with pytest.raises(SmtpUrlError, match=re.escape(complaint)):
        parse_smtp_url(url)


def test_the_display_form_hides_the_password():
    settings = parse_smtp_url("smtps://desk:s3cret@mail.example.com")
    assert settings.display == "smtps://desk@mail.example.com:465"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(("setting", "value", "complaint"), [
    ("SMTP_URL", "imap://mail.example.com", "scheme 'imap'"),
    ("PUBLIC_URL", "desk.example.com", "PUBLIC_URL"),
    ("MAIL_FROM", "not an address", "MAIL_FROM"),
])
def test_the_app_refuses_to_start_with_a_bad_mail_setting(tmp_path, setting, value, complaint):
    config = base_test_config(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path)
    config[setting] = value
    with pytest.raises(ConfigError, match=complaint):
        create_app(config)


def test_the_app_starts_with_a_good_smtp_url(tmp_path):
    config = base_test_config(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path)
    config["SMTP_URL"] = "smtp+starttls://desk:pw@mail.example.com:587"
    assert create_app(config).config["SMTP_URL"]


# --- against a real server -----------------------------------------------------------------------

def message(subject: str = "Hello") -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "desk@example.com", "seller@example.com", subject
    mail.set_content("Body")
    return mail


def test_plain_smtp_delivers_to_the_server():
    recorder = Recorder()
    with smtp_server(recorder) as port:
        SmtpTransport(parse_smtp_url(f"smtp://127.0.0.1:{port}")).send(message())
    assert [item.message["Subject"] for item in recorder.received] == ["Hello"]
    assert recorder.received[0].recipients == ["seller@example.com"]


def test_a_refusal_raises_so_the_sender_can_retry():
    recorder = Recorder(refuse_first=1)
    with smtp_server(recorder) as port, pytest.raises(smtplib.SMTPDataError) as refused:
        SmtpTransport(parse_smtp_url(f"smtp://127.0.0.1:{port}")).send(message())
    assert refused.value.smtp_code == 451
    assert recorder.received == []


def test_a_server_that_is_not_there_raises_an_os_error():
    transport = SmtpTransport(parse_smtp_url("smtp://127.0.0.1:9"), timeout=2)
    with pytest.raises(OSError):
        transport.send(message())


@pytest.fixture
def certificate(tmp_path):
    return self_signed_certificate(tmp_path)


def trusting(cert) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


@needs_openssl
def test_starttls_upgrades_then_signs_in(certificate):
    cert, key = certificate
    recorder = Recorder()
    with smtp_server(recorder, tls_context=server_tls_context(cert, key), require_starttls=True,
                     auth_required=True, authenticator=recorder.authenticate) as port:
        url = f"smtp+starttls://desk:s3cret%20p%40ss@127.0.0.1:{port}"
        SmtpTransport(parse_smtp_url(url), ssl_context=trusting(cert)).send(message())
    assert recorder.logins == [("desk", "s3cret p@ss")]
    assert len(recorder.received) == 1


@needs_openssl
def test_smtps_speaks_tls_from_the_first_byte_and_signs_in(certificate):
    cert, key = certificate
    recorder = Recorder()
    # auth_require_tls=False: aiosmtpd counts only STARTTLS as TLS; this connection is TLS throughout.
    with smtp_server(recorder, ssl_context=server_tls_context(cert, key),
                     auth_require_tls=False, authenticator=recorder.authenticate) as port:
        url = f"smtps://desk:s3cret%20p%40ss@127.0.0.1:{port}"
        SmtpTransport(parse_smtp_url(url), ssl_context=trusting(cert)).send(message())
    assert recorder.logins == [("desk", "s3cret p@ss")]
    assert len(recorder.received) == 1


@needs_openssl
def test_tls_refuses_a_server_whose_certificate_it_cannot_verify(certificate):
    cert, key = certificate
    recorder = Recorder()
    with smtp_server(recorder, ssl_context=server_tls_context(cert, key),
                     auth_require_tls=False, authenticator=recorder.authenticate) as port:
        # The system's trust store does not know the throwaway certificate.
        transport = SmtpTransport(parse_smtp_url(f"smtps://desk:s3cret%20p%40ss@127.0.0.1:{port}"))
        with pytest.raises(ssl.SSLCertVerificationError):
            transport.send(message())
    assert recorder.logins == [] and recorder.received == []
