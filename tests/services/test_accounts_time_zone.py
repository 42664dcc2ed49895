"""A user's time zone: set_time_zone takes only the desk's zone names (or None, the browser's),
and migration b2d9e4f60a17 turns the old default 'UTC', which nobody chose, into None."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from moderation_app.extensions import db
from moderation_app.models.users import Role, User
from moderation_app.services.accounts import create_user, set_time_zone, time_zone_names
from moderation_app.services.errors import DomainError
from tests.helpers.database import database_at_revision


def test_the_list_is_sorted_iana_names_without_the_servers_own_zone():
    names = time_zone_names()

    assert list(names) == sorted(names)
    assert {"UTC", "Europe/Berlin", "America/Sao_Paulo", "Asia/Kolkata"} <= set(names)
    assert not {"localtime", "Factory", "posixrules"} & set(names)


def test_a_new_user_has_no_zone_until_they_choose(app):
    with app.app_context():
        user = create_user("new@example.com", Role.AGENT)
        db.session.flush()
        assert user.timezone is None


@pytest.mark.parametrize("name", ["Europe/Berlin", "UTC", None])
def test_a_known_zone_or_none_is_set(app, name):
    with app.app_context():
        user = create_user("someone@example.com", Role.SELLER)
        set_time_zone(user, "Asia/Tokyo")
        set_time_zone(user, name)
        assert user.timezone == name


@pytest.mark.parametrize("name", ["Europe/Atlantis", "", "localtime", "../etc/passwd", "UTC " * 30])
def test_anything_else_is_refused_and_nothing_changes(app, name):
    with app.app_context():
        user = create_user("someone@example.com", Role.SELLER)
        set_time_zone(user, "Asia/Tokyo")
        with pytest.raises(DomainError, match="is not a time zone the desk knows"):
            set_time_zone(user, name)
        assert user.timezone == "Asia/Tokyo"


def test_the_migration_leaves_the_old_default_to_the_browser(tmp_path):
    with database_at_revision("f7a1b2c3d4e5", tmp_path) as app:
        with app.app_context():
            # Raw rows: today's model cannot write the old NOT NULL column's default.
            db.session.execute(text(
                "INSERT INTO users (email, role, active, session_token, timezone, created_at) VALUES "
                "('default@example.com', 'seller', TRUE, 't1', 'UTC', '2026-01-01 00:00:00'), "
                "('tokyo@example.com', 'agent', TRUE, 't2', 'Asia/Tokyo', '2026-01-01 00:00:00')"))
            db.session.commit()
            upgrade()
            db.session.remove()

            zones = dict(db.session.execute(select(User.email, User.timezone)).all())
            assert zones == {"default@example.com": None, "tokyo@example.com": "Asia/Tokyo"}
            # NULL is allowed now: create_user leaves the zone to the browser.
            create_user("new@example.com", Role.MANAGER)
            db.session.commit()

            downgrade(revision="f7a1b2c3d4e5")
            db.session.remove()
            zones = dict(db.session.execute(select(User.email, User.timezone)).all())
            assert zones == {"default@example.com": "UTC", "tokyo@example.com": "Asia/Tokyo",
                             "new@example.com": "UTC"}
