"""PostgreSQL sessions price random reads as on SSDs (random_page_cost 1.1, PG_RANDOM_PAGE_COST
overrides; see moderation_app/config.py for the plan it fixes); SQLite gets no such option."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from moderation_app.config import ConfigError, engine_options
from moderation_app.extensions import db
from tests.helpers.database import TEST_DATABASE_URL

PG_URL = "postgresql+psycopg://desk@db.example.com/desk"


def test_postgresql_connections_carry_the_ssd_page_cost(monkeypatch):
    monkeypatch.delenv("PG_RANDOM_PAGE_COST", raising=False)
    assert engine_options(PG_URL)["connect_args"] == {"options": "-c random_page_cost=1.1"}
    assert "connect_args" not in engine_options("sqlite:////tmp/desk.sqlite3")


def test_the_page_cost_can_be_changed_or_left_to_the_server(monkeypatch):
    monkeypatch.setenv("PG_RANDOM_PAGE_COST", "2")
    assert engine_options(PG_URL)["connect_args"] == {"options": "-c random_page_cost=2.0"}
    monkeypatch.setenv("PG_RANDOM_PAGE_COST", "")
    assert engine_options(PG_URL)["connect_args"] == {"options": ""}
    monkeypatch.setenv("PG_RANDOM_PAGE_COST", "cheap")
    with pytest.raises(ConfigError, match="PG_RANDOM_PAGE_COST must be a number"):
        engine_options(PG_URL)


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="a PostgreSQL session setting")
def test_the_app_s_postgresql_sessions_use_it(app):
    with app.app_context():
        assert db.session.execute(text("SHOW random_page_cost")).scalar() == "1.1"
