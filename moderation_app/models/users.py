"""Desk accounts: sellers, customer-service agents and managers, and the one-time links with
which a new or reset account chooses its password."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from moderation_app.database import UTCDateTime, utcnow
from moderation_app.extensions import db

# scrypt with OWASP's minimum cost (N=2**16, r=8, p=1).
PASSWORD_HASH_METHOD = "scrypt:65536:8:1"
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256


class Role(enum.StrEnum):
    SELLER = "seller"
    AGENT = "agent"
    MANAGER = "manager"


STAFF_ROLES = frozenset({Role.AGENT, Role.MANAGER})


def enum_values(enum_cls: type[enum.Enum]) -> list[str]:
    return [member.value for member in enum_cls]


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased: one person, one account, whatever the capitalisation.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(256))
    role: Mapped[Role] = mapped_column(
        Enum(Role, name="role", native_enum=False, create_constraint=True,
             length=16, values_callable=enum_values)
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # What the session cookie carries instead of the id; rotating it ends every session of the user.
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_session_token)
    # An IANA zone name the user chose (services.accounts.set_time_zone); None: their browser's
    # zone, which web.viewer_time_zone reads from a cookie.
    timezone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"

    # Flask-Login: an inactive account or one without a password cannot hold a session.
    @property
    def is_active(self) -> bool:
        return self.active and self.password_hash is not None

    def get_id(self) -> str:
        return self.session_token

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=PASSWORD_HASH_METHOD)
        self.rotate_session_token()

    def check_password(self, password: str) -> bool:
        if self.password_hash is None:
            return False
        return check_password_hash(self.password_hash, password)

    def password_needs_rehash(self) -> bool:
        # Werkzeug stores "method$salt$hash"; any other method or cost is an older setting.
        method = (self.password_hash or "").split("$", 1)[0]
        return method != PASSWORD_HASH_METHOD

    def rotate_session_token(self) -> None:
        self.session_token = new_session_token()


class PasswordLink(db.Model):
    """A one-time `/set-password/<token>` link. Only the token's SHA-256 is kept: a copy of the
    table (a backup, a read replica) sets nobody's password. A link is live while unused and
    before `expires_at`; issuing a newer one for the user, or deactivating the user, ends it by
    moving `expires_at` to that moment."""

    __tablename__ = "password_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])

    def __repr__(self) -> str:
        return f"<PasswordLink {self.id} user {self.user_id}>"
