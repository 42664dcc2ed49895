"""Signatures as the Standard Webhooks specification defines them, checked against the
`standardwebhooks` package, and a bad secret or URL stopping the app at start-up."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from moderation_app import create_app
from moderation_app.config import ConfigError
from moderation_app.services.webhooks.signing import WebhookSecretError, parse_secret, sign
from tests.helpers.database import base_test_config
from tests.helpers.webhooks import SECRET


def test_the_signature_is_the_one_the_reference_implementation_computes():
    body = '{"type":"review.kept","data":{"review_id":"R-1 ünïcode"}}'

    ours = sign(parse_secret(SECRET), "msg_abc", 1_700_000_000, body)

    reference = Webhook(SECRET).sign("msg_abc", datetime.fromtimestamp(1_700_000_000, UTC), body)
    assert ours == reference and ours.startswith("v1,")


@pytest.mark.parametrize(("secret", "message"), [
    ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "must start with 'whsec_'"),
    ("whsec_not base64!", "is not base64"),
    ("whsec_" + base64.b64encode(b"short").decode(), "24 to 64 random bytes, not 5"),
    ("whsec_" + base64.b64encode(bytes(65)).decode(), "not 65"),
])
def test_a_malformed_secret_is_refused_with_the_reason(secret, message):
    with pytest.raises(WebhookSecretError, match=message):
        parse_secret(secret)


def app_with(tmp_path, **settings):
    return create_app({**base_test_config(f"sqlite:///{tmp_path / 'x.sqlite3'}", tmp_path), **settings})


@pytest.mark.parametrize(("settings", "message"), [
    ({"MARKETPLACE_WEBHOOK_URL": "https://market.example.com/hooks"}, "MARKETPLACE_WEBHOOK_SECRET is not"),
    ({"MARKETPLACE_WEBHOOK_URL": "ftp://market.example.com/", "MARKETPLACE_WEBHOOK_SECRET": SECRET},
     "http\\(s\\) endpoint"),
    ({"MARKETPLACE_WEBHOOK_URL": "https://user:pw@market.example.com/", "MARKETPLACE_WEBHOOK_SECRET": SECRET},
     "must not carry credentials"),
    ({"MARKETPLACE_WEBHOOK_URL": "https://market.example.com/", "MARKETPLACE_WEBHOOK_SECRET": "s3cret"},
     "must start with 'whsec_'"),
    ({"MARKETPLACE_WEBHOOK_SECRET": "whsec_%%%"}, "is not base64"),
])
def test_bad_webhook_settings_stop_the_app_at_start_up(tmp_path, settings, message):
    with pytest.raises(ConfigError, match=message):
        app_with(tmp_path, **settings)


def test_good_webhook_settings_or_none_start_the_app(tmp_path):
    assert app_with(tmp_path, MARKETPLACE_WEBHOOK_URL="https://market.example.com/hooks",
                    MARKETPLACE_WEBHOOK_SECRET=SECRET)
    assert app_with(tmp_path)
