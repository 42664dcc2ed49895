"""One-time set-password links without HTTP: only the token's SHA-256 is stored; a link works
once, for its validity, until a newer one replaces it, and only for an active account; a
password the policy refuses uses nothing up. The services commit nothing: each test commits."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models.users import PasswordLink, Role, User
from moderation_app.services.accounts import deactivate, set_password_with_link
from moderation_app.services.errors import DomainError
from moderation_app.services.password_links import (
    LINK_VALIDITY,
    LinkNotValid,
    find_live_link,
    issue_link,
    pending_link,
)
from tests.helpers.accounts import make_user

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
NEW_PASSWORD = "a fresh and long passphrase"


@pytest.fixture
def newcomer(app) -> User:
    return make_user(app, "newcomer@example.com", Role.AGENT, password=None)


def issue(app, user: User, now: datetime = NOW, actor: User | None = None) -> str:
    with app.app_context():
        link = issue_link(db.session.get(User, user.id),
                          actor=db.session.get(User, actor.id) if actor else None, now=now)
        db.session.commit()
        return link.token


def live(app, token: str, now: datetime) -> bool:
    with app.app_context():
        return find_live_link(token, now) is not None


def redeem(app, token: str, password: str = NEW_PASSWORD, now: datetime = NOW) -> None:
    with app.app_context():
        try:
            set_password_with_link(token, password, now)
            db.session.commit()
        except DomainError:
            db.session.rollback()
            raise


def stored_links(app) -> list[PasswordLink]:
    with app.app_context():
        links = list(db.session.scalars(select(PasswordLink).order_by(PasswordLink.id)))
        db.session.expunge_all()
        return links


def password_hash(app, user: User) -> str | None:
    with app.app_context():
        return db.session.get(User, user.id).password_hash


def test_a_link_is_stored_as_the_sha256_of_its_token_only(app, newcomer, manager):
    token = issue(app, newcomer, actor=manager)

    (link,) = stored_links(app)
    assert len(token) >= 43  # token_urlsafe(32): 256 random bits
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {str(value) for value in vars(link).values()}
    assert (link.user_id, link.created_by_id) == (newcomer.id, manager.id)
    assert (link.created_at, link.expires_at, link.used_at) == (NOW, NOW + LINK_VALIDITY, None)


def test_every_link_has_its_own_token(app, newcomer):
    assert issue(app, newcomer) != issue(app, newcomer)


def test_a_link_works_until_24_hours_after_it_was_made_and_not_a_moment_later(app, newcomer):
    token = issue(app, newcomer)

    assert live(app, token, NOW + timedelta(hours=23, minutes=59))
    assert not live(app, token, NOW + timedelta(hours=24))
    with pytest.raises(LinkNotValid):
        redeem(app, token, now=NOW + timedelta(hours=24, seconds=1))
    assert password_hash(app, newcomer) is None


def test_a_link_sets_the_password_once_and_not_twice(app, newcomer):
    token = issue(app, newcomer)

    redeem(app, token)
    first = password_hash(app, newcomer)
    with pytest.raises(LinkNotValid):
        redeem(app, token, "another long passphrase")

    assert first is not None and password_hash(app, newcomer) == first
    (link,) = stored_links(app)
    assert link.used_at == NOW


def test_a_newer_link_ends_the_older_unused_one(app, newcomer):
    older = issue(app, newcomer)
    newer = issue(app, newcomer, now=NOW + timedelta(minutes=5))

    assert not live(app, older, NOW + timedelta(minutes=6))
    assert live(app, newer, NOW + timedelta(minutes=6))
    newest = stored_links(app)[1].id
    with app.app_context():
        assert pending_link(db.session.get(User, newcomer.id), NOW + timedelta(minutes=6)).id == newest


@pytest.mark.parametrize("token", ["", "x", "not-a-token-we-made", "a" * 43, "a" * 10_000])
def test_an_unknown_token_opens_nothing(app, newcomer, token):
    issue(app, newcomer)

    assert not live(app, token, NOW)
    with pytest.raises(LinkNotValid):
        redeem(app, token)


def test_a_password_the_policy_refuses_uses_nothing_up(app, newcomer):
    token = issue(app, newcomer)

    with pytest.raises(DomainError, match="at least 12 characters"):
        redeem(app, token, "short")

    assert password_hash(app, newcomer) is None
    assert live(app, token, NOW)


def test_deactivating_the_account_ends_its_link(app, newcomer):
    token = issue(app, newcomer, now=datetime.now(UTC))
    with app.app_context():
        deactivate(db.session.get(User, newcomer.id))
        db.session.commit()

    assert not live(app, token, datetime.now(UTC))


def test_setting_the_password_through_a_link_ends_the_users_sessions(app):
    user = make_user(app, "someone@example.com", Role.AGENT)
    token = issue(app, user)

    redeem(app, token)

    with app.app_context():
        assert db.session.get(User, user.id).session_token != user.session_token
