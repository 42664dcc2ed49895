"""`flask api-tokens create|list|revoke`: the token shown once, only its hash kept, each change audited."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models.api_tokens import ApiToken
from tests.helpers.api import audit_events, bearer


def create(runner, name: str = "marketplace"):
    return runner.invoke(args=["api-tokens", "create", name])


def test_create_prints_the_token_once_and_stores_only_its_hash(app, runner):
    result = create(runner)

    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("mdk_") and len(token) == 4 + 43  # 256 bits, URL-safe base64
    assert token not in result.stderr
    with app.app_context():
        row = db.session.scalars(select(ApiToken)).one()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert row.prefix == token[:12] and row.revoked_at is None
    [event] = audit_events(app, "api_token.created")
    assert json.loads(event.details) == {"token_id": row.id, "name": "marketplace",
                                         "prefix": token[:12]}
    assert token not in event.details


def test_two_tokens_differ(app, runner):
    assert create(runner, "a").stdout != create(runner, "b").stdout


def test_a_name_is_never_reused_even_after_revocation(app, runner):
    create(runner)
    runner.invoke(args=["api-tokens", "revoke", "marketplace"])

    result = create(runner)

    assert result.exit_code == 1
    assert "exists already" in result.stderr
    assert len(audit_events(app, "api_token.created")) == 1


def test_a_name_outside_the_allowed_characters_is_refused(app, runner):
    result = create(runner, "Market Place")

    assert result.exit_code == 1
    assert "lower-case letters" in result.stderr
    with app.app_context():
        assert db.session.scalar(select(ApiToken.id)) is None


def test_list_shows_names_and_prefixes_but_never_a_token(app, runner):
    token = create(runner).stdout.strip()
    create(runner, "staging")
    runner.invoke(args=["api-tokens", "revoke", "staging"])

    result = runner.invoke(args=["api-tokens", "list"])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1].startswith("marketplace") and token[:12] in lines[1] and lines[1].endswith(" -")
    assert lines[2].startswith("staging") and not lines[2].endswith(" -")
    assert token not in result.stdout


def test_revoke_refuses_the_token_at_once_and_is_audited(app, runner, client):
    token = create(runner).stdout.strip()
    assert client.get("/api/v1/requests?updated_since=2026-01-01T00:00:00Z",
                      headers=bearer(token)).status_code == 200

    result = runner.invoke(args=["api-tokens", "revoke", "marketplace"])

    assert result.exit_code == 0, result.output
    response = client.get("/api/v1/requests?updated_since=2026-01-01T00:00:00Z", headers=bearer(token))
    assert response.status_code == 401
    [event] = audit_events(app, "api_token.revoked")
    assert json.loads(event.details)["name"] == "marketplace"
    assert event.actor_role == "system"


def test_revoking_an_unknown_or_revoked_token_fails(app, runner):
    create(runner)
    runner.invoke(args=["api-tokens", "revoke", "marketplace"])

    again = runner.invoke(args=["api-tokens", "revoke", "marketplace"])
    unknown = runner.invoke(args=["api-tokens", "revoke", "nobody"])

    assert (again.exit_code, unknown.exit_code) == (1, 1)
    assert "revoked already" in again.stderr and "No token is named nobody" in unknown.stderr
    assert len(audit_events(app, "api_token.revoked")) == 1
