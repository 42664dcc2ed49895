"""One-time set-password links: issued to a new or reset account, redeemed once by its owner.

The token (`secrets.token_urlsafe(32)`, 256 bits) leaves the desk only in the link shown to the
manager; the database keeps its SHA-256. SHA-256 without salt or stretching is enough here:
the token is random, so there is no dictionary to run, unlike a password. A link that is unknown,
used, expired, superseded or for an inactive account is simply not found: every way of failing
looks the same from outside, and costs one indexed read and no write.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from moderation_app.extensions import db
from moderation_app.models.users import PasswordLink, User
from moderation_app.services.errors import DomainError

LINK_VALIDITY = timedelta(hours=24)
# token_urlsafe(32) is 43 characters; anything much longer is not ours and is not even hashed.
MAX_TOKEN_LENGTH = 64


class LinkNotValid(DomainError):
    """Unknown, used, expired or superseded: one answer for all, so nothing is learnt by trying."""

    def __init__(self) -> None:
        super().__init__("This link is not valid. It may have been used already or have expired; "
                         "ask a manager for a new one.")


@dataclass(frozen=True)
class IssuedLink:
    """What the manager is shown once. The token is in no table and no audit event."""

    token: str
    user_id: int
    email: str
    expires_at: datetime


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def revoke_links(user: User, now: datetime) -> None:
    """End the user's live links now (a newer link, or the account deactivated)."""
    db.session.execute(
        update(PasswordLink)
        .where(PasswordLink.user_id == user.id, PasswordLink.used_at.is_(None),
               PasswordLink.expires_at > now)
        .values(expires_at=now)
    )


def issue_link(user: User, *, actor: User | None, now: datetime,
               validity: timedelta = LINK_VALIDITY) -> IssuedLink:
    """A new link for `user`; their older unused links stop working. Records no event: the
    caller's event (user.created, user.password_reset_link) says why the link was made."""
    revoke_links(user, now)
    token = secrets.token_urlsafe(32)
    link = PasswordLink(user_id=user.id, token_hash=hash_token(token), created_at=now,
                        expires_at=now + validity, created_by_id=actor.id if actor else None)
    db.session.add(link)
    db.session.flush()
    return IssuedLink(token, user.id, user.email, link.expires_at)


def find_live_link(token: str, now: datetime) -> PasswordLink | None:
    """The link `token` opens, if it still works; reads only."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    link = db.session.scalar(select(PasswordLink).where(PasswordLink.token_hash == hash_token(token)))
    if link is None or link.used_at is not None or link.expires_at <= now or not link.user.active:
        return None
    return link


def pending_link(user: User, now: datetime) -> PasswordLink | None:
    """The user's live link, if any (for the manager's page: "a link is waiting until …")."""
    return db.session.scalar(
        select(PasswordLink)
        .where(PasswordLink.user_id == user.id, PasswordLink.used_at.is_(None),
               PasswordLink.expires_at > now)
        .order_by(PasswordLink.id.desc()).limit(1)
    )


def redeem_link(link: PasswordLink, now: datetime) -> User:
    """Use the link up and return its owner, whose password the caller sets in the same
    transaction (accounts.set_password_with_link). A conditional UPDATE, so two submissions of
    one link at the same moment redeem it once."""
    consumed = db.session.execute(
        update(PasswordLink)
        .where(PasswordLink.id == link.id, PasswordLink.used_at.is_(None),
               PasswordLink.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if consumed.rowcount != 1:
        raise LinkNotValid()
    set_committed_value(link, "used_at", now)  # what the UPDATE wrote, without a second one
    return link.user
