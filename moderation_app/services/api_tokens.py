"""API tokens for the marketplace: created, listed, revoked (each change audited) and checked.

A token is `mdk_` and 256 random bits (`secrets.token_urlsafe(32)`), shown once when created; the
database keeps its SHA-256 and its first characters for display. SHA-256 without salt or
stretching is enough for a random secret (there is no dictionary to run), and finding the row by
the hash's unique index compares no secret byte by byte in Python: an unknown, revoked or
malformed token all cost one indexed read and look the same from outside.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models.api_tokens import NAME_MAX_LENGTH, ApiToken
from moderation_app.services.audit.log import record_event
from moderation_app.services.errors import DomainError

TOKEN_PREFIX = "mdk_"
# mdk_ + 43 characters; anything much longer is not ours and is not even hashed.
MAX_TOKEN_LENGTH = 64
# `mdk_` and 8 characters (48 of the 256 bits): enough to tell tokens apart, far too few to guess.
DISPLAY_LENGTH = len(TOKEN_PREFIX) + 8
# A stored last_used_at is rewritten at most this often: every call writing it would turn each
# read into a write (on SQLite, a wait for the one write lock).
LAST_USED_RESOLUTION = timedelta(minutes=1)
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
API_ROLE = "api"


class TokenRefused(DomainError):
    """The token cannot be created or revoked; the message says why."""


@dataclass(frozen=True)
class IssuedToken:
    """What the operator is shown once. The token itself is in no table and no audit event."""

    token: str
    name: str
    prefix: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def actor_email(name: str) -> str:
    """How the audit log names the calls of the token called `name` (actor_role `api`)."""
    return f"api-token:{name}"


def _checked_name(name: str) -> str:
    name = name.strip()
    if not _NAME.fullmatch(name) or len(name) > NAME_MAX_LENGTH:
        raise TokenRefused(f"A token name is 1-{NAME_MAX_LENGTH} lower-case letters, digits and "
                           ". _ - (starting with a letter or digit), e.g. marketplace-2026.")
    return name


def create_token(name: str) -> IssuedToken:
    """A new active token named `name` (unique, revoked tokens included), audited."""
    name = _checked_name(name)
    if db.session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise TokenRefused(f"A token named {name} exists already (names are never reused, "
                           "so the audit log's names stay unambiguous).")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, token_hash=hash_token(token), prefix=token[:DISPLAY_LENGTH])
    db.session.add(row)
    db.session.flush()
    record_event("api_token.created", details={"token_id": row.id, "name": name,
                                                "prefix": row.prefix})
    return IssuedToken(token=token, name=name, prefix=row.prefix)


def list_tokens() -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)))


def revoke_token(name: str) -> ApiToken:
    """Revoke the token named `name` at once (its next call is refused), audited."""
    row = db.session.scalar(select(ApiToken).where(ApiToken.name == name.strip()))
    if row is None:
        raise TokenRefused(f"No token is named {name}.")
    if not row.is_active:
        raise TokenRefused(f"Token {row.name} was revoked already.")
    row.revoked_at = utcnow()
    db.session.flush()
    record_event("api_token.revoked", details={"token_id": row.id, "name": row.name,
                                                "prefix": row.prefix})
    return row


def authenticate(token: str) -> ApiToken | None:
    """The active token this is, or None (unknown, revoked, malformed: one answer)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        return None
    return db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token),
                                                    ApiToken.revoked_at.is_(None)))


def needs_touch(token: ApiToken, now: datetime) -> bool:
    return token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION


def touch(token_id: int, now: datetime) -> None:
    """Record that the token was used (in the caller's transaction), at the resolution above."""
    db.session.execute(update(ApiToken).where(ApiToken.id == token_id)
                       .values(last_used_at=now))
