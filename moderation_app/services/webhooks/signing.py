"""Standard Webhooks signatures (https://www.standardwebhooks.com): the secret in its
`whsec_<base64>` form, and `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

SECRET_PREFIX = "whsec_"
# The specification asks for a random key of 24 to 64 bytes.
SECRET_MIN_BYTES, SECRET_MAX_BYTES = 24, 64


class WebhookSecretError(ValueError):
    """The secret is not a `whsec_` key the marketplace could verify with; the message says why."""


def parse_secret(secret: str) -> bytes:
    """The key's bytes, from `whsec_` followed by its standard base64."""
    if not secret.startswith(SECRET_PREFIX):
        raise WebhookSecretError("MARKETPLACE_WEBHOOK_SECRET must start with 'whsec_' followed "
                                 "by the key in base64, as the Standard Webhooks specification says.")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise WebhookSecretError("MARKETPLACE_WEBHOOK_SECRET: what follows 'whsec_' is not "
                                 "base64.") from None
    if not SECRET_MIN_BYTES <= len(key) <= SECRET_MAX_BYTES:
        raise WebhookSecretError(
            f"MARKETPLACE_WEBHOOK_SECRET must hold {SECRET_MIN_BYTES} to {SECRET_MAX_BYTES} random "
            f"bytes, not {len(key)}; make one with `python -c \"import base64, secrets; "
            f"print('whsec_' + base64.b64encode(secrets.token_bytes(32)).decode())\"`.")
    return key


def sign(key: bytes, webhook_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` header for one attempt."""
    signed = f"{webhook_id}.{timestamp}.{body}".encode()
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")
