"""What the team tests share: the one-time link as the page shows it, and audit counts."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import func, select

from moderation_app.extensions import db
from moderation_app.models import AuditEvent, User

LINK_INPUT = re.compile(r'id="one-time-link-url"[^>]*value="([^"]+)"')


def shown_link(response) -> str | None:
    """The path of the one-time link on a page (None when the page shows none)."""
    match = LINK_INPUT.search(response.get_data(as_text=True))
    return urlsplit(html.unescape(match.group(1))).path if match else None


def event_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent))


def user_by_email(app: Flask, email: str) -> User | None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        if user is not None:
            db.session.expunge(user)
        return user
