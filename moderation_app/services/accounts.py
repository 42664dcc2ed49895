"""Accounts: creating them, passwords, checking credentials, signing out and deactivating."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from moderation_app.extensions import db
from moderation_app.models.users import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    PASSWORD_HASH_METHOD,
    Role,
    User,
)
from moderation_app.services.audit.log import record_event
from moderation_app.services.errors import DomainError


@cache
def _dummy_hash() -> str:
    """Checked against when the email is unknown, so both failures take the same time."""
    return generate_password_hash("not-a-real-password", method=PASSWORD_HASH_METHOD)


def normalize_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise DomainError(f"Invalid email address: {error}") from None


def find_user(email: str) -> User | None:
    """Look an email up the way create_user stored it; an invalid address matches nobody."""
    return identify(email).user


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(f"Password must be at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise DomainError(f"Password must be at most {MAX_PASSWORD_LENGTH} characters.")


def create_user(email: str, role: Role, password: str | None = None,
                actor: User | None = None) -> User:
    email = normalize_email(email)
    if db.session.scalar(select(func.count()).select_from(User).where(User.email == email)):
        raise DomainError(f"A user with email {email} already exists.")
    user = User(email=email, role=role)
    if password is not None:
        check_password_policy(password)
        user.set_password(password)
    db.session.add(user)
    db.session.flush()
    record_event("user.created", actor=actor,
                 details={"user_id": user.id, "email": email, "role": role.value,
                          "has_password": password is not None})
    return user


def set_password(user: User, password: str, actor: User | None = None) -> None:
    check_password_policy(password)
    user.set_password(password)  # also rotates the session token: old sessions end
    record_event("user.password_set", actor=actor,
                 details={"user_id": user.id, "email": user.email})


def deactivate(user: User, actor: User | None = None) -> None:
    """The account can no longer sign in, and its open sessions end now."""
    user.active = False
    user.rotate_session_token()
    record_event("user.deactivated", actor=actor, details={"user_id": user.id, "email": user.email})


def sign_out(user: User) -> None:
    """End the user's sessions everywhere: rotating the token makes every copy of the old
    session cookie worthless."""
    user.rotate_session_token()
    record_event("auth.logout", actor=user)


@dataclass(frozen=True)
class SignInAttempt:
    """Who a sign-in names: the address as the lookup reads it, the account that may sign in
    with it, and the account it is counted against (the same one, or for an address that is not
    valid but reads like an account's, e.g. with a soft hyphen in it, that account)."""

    email: str
    user: User | None
    account_id: int | None

    @property
    def throttle_key(self) -> str:
        # Every spelling of an address that reads like the account counts against the account.
        return f"user:{self.account_id}" if self.account_id is not None else f"email:{self.email}"


def _plain_spelling(email: str) -> str:
    """An address without compatibility forms or invisible characters, in lower case."""
    text = unicodedata.normalize("NFKC", email)
    return "".join(char for char in text if unicodedata.category(char) != "Cf").strip().lower()


def identify(email: str) -> SignInAttempt:
    """The account an entered address names, normalised the way create_user stored it. An
    address that is not valid signs nobody in; it is recorded in its plain spelling."""
    try:
        normalized = normalize_email(email)
    except DomainError:
        plain = _plain_spelling(email)[:254] or "(blank)"
        account_id = db.session.scalar(select(User.id).where(User.email == plain))
        return SignInAttempt(plain, None, account_id)
    user = db.session.scalar(select(User).where(User.email == normalized))
    return SignInAttempt(normalized, user, user.id if user is not None else None)


def check_password(user: User | None, password: str) -> User | None:
    """The user if the password is right and the account may sign in, else None. Reads only.
    The caller cannot tell an unknown email from a wrong password, by answer or by time."""
    if user is None or user.password_hash is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if not user.check_password(password) or not user.is_active:
        return None
    return user


def record_sign_in(user: User, password: str, **details: object) -> None:
    """The sign-in on the record; a hash made with older, weaker settings is replaced now that
    the password is known."""
    if user.password_needs_rehash():
        user.set_password(password)
        record_event("user.password_rehashed", actor=user,
                     details={"user_id": user.id, "method": PASSWORD_HASH_METHOD})
    record_event("auth.login", actor=user, details=details)


def record_failed_sign_in(attempt: SignInAttempt, **details: object) -> None:
    """Filed under the address the lookup used, so filtering by the account finds every try."""
    record_event("auth.login_failed", actor_email=attempt.email, actor_role="anonymous",
                 details=details)


def load_user_by_session_token(session_token: str) -> User | None:
    """Flask-Login's loader: the cookie holds the user's current session token, not their id."""
    user = db.session.scalar(select(User).where(User.session_token == session_token))
    return user if user is not None and user.is_active else None
