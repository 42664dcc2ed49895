"""API tokens: what lets the marketplace call the desk's JSON API (services/api_tokens.py keeps
the rules, docs/api.md says how to use them). Only the token's SHA-256 is stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from moderation_app.database import UTCDateTime, utcnow
from moderation_app.extensions import db

NAME_MAX_LENGTH = 64


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique for ever, revoked or not: the audit log names tokens, and one name must mean one token.
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH), unique=True)
    # Hex SHA-256 of the whole token: a token is 256 random bits, so a plain hash is as strong as
    # a slow one, and an indexed lookup by hash leaks nothing through timing.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The token's first characters, shown by `api-tokens list` to tell tokens apart; not secret.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
