"""Accounts: creating them, passwords, checking credentials, signing out and deactivating."""

from __future__ import annotations

from functools import cache

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from moderation_app.extensions import db
from moderation_app.models.users import (
    MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, PASSWORD_HASH_METHOD, Role, User,
)
from moderation_app.services.errors import DomainError
from moderation_app.services.audit.log import record_event


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
    try:
        normalized = normalize_email(email)
    except DomainError:
        return None
    return db.session.scalar(select(User).where(User.email == normalized))


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


def authenticate(email: str, password: str) -> User | None:
    """The user if the credentials are right and the account may sign in, else None.
    The caller cannot tell an unknown email from a wrong password, by answer or by time.
    A hash made with older, weaker settings is replaced now that the password is known."""
    user = find_user(email)
    if user is None or user.password_hash is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if not user.check_password(password) or not user.is_active:
        return None
    if user.password_needs_rehash():
        user.set_password(password)
        record_event("user.password_rehashed", actor=user,
                     details={"user_id": user.id, "method": PASSWORD_HASH_METHOD})
    return user


def load_user_by_session_token(session_token: str) -> User | None:
    """Flask-Login's loader: the cookie holds the user's current session token, not their id."""
    user = db.session.scalar(select(User).where(User.session_token == session_token))
    return user if user is not None and user.is_active else None
