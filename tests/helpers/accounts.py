"""Test accounts: the one password every test user has, and users made through the real service."""

from __future__ import annotations

from flask import Flask

from moderation_app.extensions import db
from moderation_app.models.users import Role, User
from moderation_app.services.accounts import create_user

PASSWORD = "correct horse battery staple"


def make_user(app: Flask, email: str, role: Role, password: str | None = PASSWORD) -> User:
    """A committed user, detached with its columns loaded. `password=None` makes an account that
    cannot sign in (and skips scrypt)."""
    with app.app_context():
        user = create_user(email, role, password)
        db.session.commit()
        db.session.refresh(user)
        db.session.expunge(user)
        return user
