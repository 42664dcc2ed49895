"""Accounts: creating them, passwords, checking credentials, signing out; and the team rules a
manager works under: deactivating and reactivating, changing roles, set-password links. The desk
always keeps one active manager, and a manager never locks themself out through the desk. Also
what each user sets for themself: the time zone their pages show times in."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Select, case, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models.users import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    PASSWORD_HASH_METHOD,
    STAFF_ROLES,
    Role,
    User,
)
from moderation_app.services.audit.log import record_event
from moderation_app.services.errors import DomainError
from moderation_app.services.password_links import (
    LINK_VALIDITY,
    IssuedLink,
    LinkNotValid,
    find_live_link,
    issue_link,
    redeem_link,
    revoke_links,
)
from moderation_app.services.requests.claims import release_all_held


class TeamChangeRefused(DomainError):
    """A team change the rules forbid (oneself, the last manager, an address already taken)."""


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
        raise TeamChangeRefused(f"A user with email {email} already exists.")
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


def deactivate(user: User, actor: User | None = None) -> bool:
    """The account can no longer sign in, its open sessions end now, its unused set-password
    link stops working and the requests it holds go back to the queue. False, and nothing
    recorded, when it was already inactive."""
    _refuse_on_oneself(user, actor, "deactivate")
    if not user.active:
        return False
    _refuse_losing_the_last_manager(user)
    user.active = False
    user.rotate_session_token()
    revoke_links(user, utcnow())
    record_event("user.deactivated", actor=actor, details={"user_id": user.id, "email": user.email})
    release_all_held(user, actor, why="holder deactivated")
    return True


def reactivate(user: User, actor: User | None = None) -> bool:
    """The account may sign in again (with its password, or through a new link). False, and
    nothing recorded, when it was active already."""
    if user.active:
        return False
    user.active = True
    record_event("user.reactivated", actor=actor, details={"user_id": user.id, "email": user.email})
    return True


def change_role(user: User, role: Role, actor: User | None = None) -> bool:
    """A new role, effective on the user's next request. Someone who stops being staff hands
    back the requests they hold. False, and nothing recorded, when the role is the same."""
    if user.role is role:
        return False
    _refuse_on_oneself(user, actor, "change the role of")
    if user.role is Role.MANAGER:
        _refuse_losing_the_last_manager(user)
    previous = user.role
    user.role = role
    record_event("user.role_changed", actor=actor,
                 details={"user_id": user.id, "email": user.email, "from": previous.value,
                          "to": role.value})
    if role not in STAFF_ROLES:
        release_all_held(user, actor, why=f"holder's role changed to {role.value}")
    return True


def invite(email: str, role: Role, actor: User | None, now: datetime,
           validity: timedelta = LINK_VALIDITY) -> IssuedLink:
    """A new account without a password, and the link with which its owner chooses one."""
    user = create_user(email, role, actor=actor)
    return issue_link(user, actor=actor, now=now, validity=validity)


def reset_password(user: User, actor: User | None, now: datetime,
                   validity: timedelta = LINK_VALIDITY) -> IssuedLink:
    """A new set-password link (older ones stop working) and the end of the user's sessions.
    The current password keeps working until the link is used: a reset is for someone who
    forgot theirs; a compromised account is deactivated."""
    _refuse_on_oneself(user, actor, "reset the password of")
    if not user.active:
        raise TeamChangeRefused(f"{user.email} is deactivated; reactivate the account first.")
    link = issue_link(user, actor=actor, now=now, validity=validity)
    user.rotate_session_token()
    # Never the token: whoever reads the log must not be able to set the password.
    record_event("user.password_reset_link", actor=actor,
                 details={"user_id": user.id, "email": user.email,
                          "expires_at": link.expires_at.isoformat()})
    return link


def set_password_with_link(token: str, password: str, now: datetime) -> User:
    """The owner of a live link chooses their password; the link is used up. LinkNotValid for a
    link that does not work (nothing changes), DomainError for a password the policy refuses."""
    link = find_live_link(token, now)
    if link is None:
        raise LinkNotValid()
    check_password_policy(password)
    user = redeem_link(link, now)
    user.set_password(password)  # also rotates the session token: old sessions end
    record_event("user.password_set", actor=user,
                 details={"user_id": user.id, "email": user.email, "via": "link"})
    return user


def _refuse_on_oneself(user: User, actor: User | None, verb: str) -> None:
    if actor is not None and actor.id == user.id:
        raise TeamChangeRefused(f"You cannot {verb} your own account; ask another manager.")


def _refuse_losing_the_last_manager(user: User) -> None:
    """Refused when `user` is the only active manager left. On PostgreSQL the managers' rows
    stay locked until commit, so two managers removing each other at once cannot both succeed
    (SQLite's write transactions already run one at a time)."""
    if user.role is not Role.MANAGER or not user.active:
        return
    others = db.session.scalars(
        select(User.id).where(User.role == Role.MANAGER, User.active.is_(True), User.id != user.id)
        .with_for_update()
    ).all()
    if not others:
        raise TeamChangeRefused(f"{user.email} is the last active manager; the desk needs one. "
                                "Make someone else a manager first.")


def team_query(role: Role | None = None, active: bool | None = None,
               email_contains: str = "") -> Select:
    """Every account, staff first (managers, then agents, then sellers), then by email."""
    rank = case((User.role == Role.MANAGER, 0), (User.role == Role.AGENT, 1), else_=2)
    query = select(User).order_by(rank, User.email, User.id)
    if role is not None:
        query = query.where(User.role == role)
    if active is not None:
        query = query.where(User.active.is_(active))
    if email_contains:
        query = query.where(User.email.contains(email_contains.lower(), autoescape=True))
    return query


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
    user.last_sign_in_at = utcnow()
    record_event("auth.login", actor=user, details=details)


def record_failed_sign_in(attempt: SignInAttempt, **details: object) -> None:
    """Filed under the address the lookup used, so filtering by the account finds every try."""
    record_event("auth.login_failed", actor_email=attempt.email, actor_role="anonymous",
                 details=details)


# In the system's tz database but no place a person lives in: the server's own zone under another
# name, the "-00" placeholder, and the compiler's template.
UNCHOOSABLE_ZONES = frozenset({"localtime", "Factory", "posixrules"})
MAX_ZONE_NAME_LENGTH = 64  # users.timezone is a String(64)


@cache
def time_zone_names() -> tuple[str, ...]:
    """The zones a user may choose, sorted: IANA names (Europe/Berlin) of the system's tz database,
    read once (reading it walks the zoneinfo directory)."""
    return tuple(sorted(name for name in available_timezones() - UNCHOOSABLE_ZONES
                        if len(name) <= MAX_ZONE_NAME_LENGTH))


@cache
def _time_zone_set() -> frozenset[str]:
    return frozenset(time_zone_names())


def is_time_zone(name: str | None) -> bool:
    """Whether `name` is one of time_zone_names(): anything else (a typo, a path) is not a zone."""
    return name is not None and name in _time_zone_set()


def set_time_zone(user: User, name: str | None) -> None:
    """The zone the user's pages show times in; None for their browser's. A display preference
    only, so no audit event: it changes no one's access and no moderation decision."""
    if name is not None and not is_time_zone(name):
        raise DomainError(f"“{name[:MAX_ZONE_NAME_LENGTH]}” is not a time zone the desk knows; "
                          "choose one from the list, e.g. Europe/Berlin.")
    user.timezone = name


def load_user_by_session_token(session_token: str) -> User | None:
    """Flask-Login's loader: the cookie holds the user's current session token, not their id."""
    user = db.session.scalar(select(User).where(User.session_token == session_token))
    return user if user is not None and user.is_active else None
