"""Signed checkpoints: `audit checkpoint` signs the chain's head, and `audit verify --checkpoint`
catches a log cut short or rewritten up to that head, which the chain alone cannot."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models import AuditEvent, Role
from moderation_app.services.audit.checkpoint import KEY_SETTING
from moderation_app.services.audit.log import event_hash, verify_chain
from tests.helpers.accounts import make_user
from tests.helpers.database import raw_sql

KEY = "test-checkpoint-key-0123456789abcdef"
OTHER_KEY = "another-checkpoint-key-0123456789abc"


@pytest.fixture
def logged(app):
    """A log of four events and a checkpoint key in the settings."""
    app.config[KEY_SETTING] = KEY
    for number in range(4):
        make_user(app, f"user{number}@example.com", Role.SELLER)
    return app


@pytest.fixture
def checkpoint_file(tmp_path):
    return tmp_path / "checkpoint.json"


def make_checkpoint(runner, path):
    result = runner.invoke(args=["audit", "checkpoint", "-o", str(path)])
    assert result.exit_code == 0, result.output
    return json.loads(path.read_text(encoding="utf-8"))


def verify(runner, path):
    return runner.invoke(args=["audit", "verify", "--checkpoint", str(path)])


def stored_hash(app, event_id: int) -> str:
    with app.app_context():
        return db.session.scalar(select(AuditEvent.hash).where(AuditEvent.id == event_id))


def checkpoint_events(app) -> list[AuditEvent]:
    with app.app_context():
        return db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "audit.checkpointed")).all()


def test_checkpoint_then_verify_passes(logged, runner, checkpoint_file):
    checkpoint = make_checkpoint(runner, checkpoint_file)
    make_user(logged, "later@example.com", Role.SELLER)

    result = verify(runner, checkpoint_file)

    assert result.exit_code == 0, result.output
    assert (checkpoint["format"], checkpoint["count"], checkpoint["last_id"]) == (1, 4, 4)
    assert checkpoint["head_hash"] == stored_hash(logged, 4)
    assert checkpoint["created_at"].endswith("Z")
    assert result.stdout.startswith("audit log ok: 6 events, head ")
    assert "checkpoint ok: event 4 holds the hash signed at" in result.stdout
    assert "later events: 2" in result.stdout


def test_the_checkpoint_is_recorded_after_the_head_it_signs(logged, runner):
    result = runner.invoke(args=["audit", "checkpoint"])

    assert result.exit_code == 0, result.output
    checkpoint = json.loads(result.stdout)
    [event] = checkpoint_events(logged)
    assert event.id == checkpoint["last_id"] + 1
    assert event.prev_hash == checkpoint["head_hash"]
    assert json.loads(event.details) == {key: checkpoint[key] for key in
                                         ("count", "last_id", "head_hash", "created_at")}
    with logged.app_context():
        assert verify_chain().ok


def test_an_outsider_can_check_the_signature_from_the_documented_bytes(logged, runner,
                                                                       checkpoint_file):
    fields = make_checkpoint(runner, checkpoint_file)
    signature = fields.pop("signature")

    # As docs/audit-log.md describes it, with nothing from the app.
    signed = json.dumps(fields, sort_keys=True, separators=(",", ":"),
                        ensure_ascii=False).encode("utf-8")
    assert hmac.new(KEY.encode("utf-8"), signed, hashlib.sha256).hexdigest() == signature


@pytest.mark.parametrize("field, forge", [
    ("signature", lambda value, app: value[:-1] + ("0" if value[-1] != "0" else "1")),
    ("count", lambda value, app: value - 1),
    ("last_id", lambda value, app: value - 1),
    ("head_hash", lambda value, app: stored_hash(app, 3)),
    ("created_at", lambda value, app: value.replace(value[:4], str(int(value[:4]) + 1), 1)),
])
def test_a_tampered_checkpoint_file_is_rejected(logged, runner, checkpoint_file, field, forge):
    checkpoint = make_checkpoint(runner, checkpoint_file)
    checkpoint[field] = forge(checkpoint[field], logged)
    checkpoint_file.write_text(json.dumps(checkpoint), encoding="utf-8")

    result = verify(runner, checkpoint_file)

    assert result.exit_code == 1
    assert "the signature does not match: the file was altered" in result.stderr
    assert "audit log ok" not in result.stdout


def test_verify_with_another_key_rejects_the_checkpoint(logged, runner, checkpoint_file):
    make_checkpoint(runner, checkpoint_file)
    logged.config[KEY_SETTING] = OTHER_KEY

    result = verify(runner, checkpoint_file)

    assert result.exit_code == 1
    assert "the signature does not match" in result.stderr


def test_verify_catches_a_log_cut_short_after_the_checkpoint(logged, runner, checkpoint_file,
                                                            without_triggers):
    make_checkpoint(runner, checkpoint_file)
    make_user(logged, "later@example.com", Role.SELLER)
    raw_sql(logged, "DELETE FROM audit_events WHERE id > 2")

    plain = runner.invoke(args=["audit", "verify"])
    result = verify(runner, checkpoint_file)

    assert plain.exit_code == 0, "the chain alone cannot see a missing tail"
    assert result.exit_code == 1
    assert "log CUT SHORT" in result.stderr
    assert "covers 4 events up to event 4, the log holds 2; events 3 to 4 missing" in result.stderr


def test_verify_catches_a_log_rewritten_before_the_checkpoint(logged, runner, checkpoint_file,
                                                             without_triggers):
    make_checkpoint(runner, checkpoint_file)
    # A careful forger changes event 2 and re-hashes every event after it: the chain holds.
    previous, rows = stored_hash(logged, 1), []
    with logged.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.id >= 2)
                                    .order_by(AuditEvent.id)).all()
        for event in events:
            db.session.expunge(event)
            if event.id == 2:
                event.actor_email = "forger@example.com"
            event.prev_hash = previous
            event.hash = previous = event_hash(event)
            rows.append({"id": event.id, "email": event.actor_email, "prev": event.prev_hash,
                         "hash": event.hash})
    raw_sql(logged, "UPDATE audit_events SET actor_email = :email, prev_hash = :prev, hash = :hash "
                "WHERE id = :id", rows)

    plain = runner.invoke(args=["audit", "verify"])
    result = verify(runner, checkpoint_file)

    assert plain.exit_code == 0, "the forged chain is consistent in itself"
    assert result.exit_code == 1
    assert "log REWRITTEN: event 4 has hash" in result.stderr


@pytest.mark.parametrize("key", [None, ""])
def test_checkpoint_without_a_key_is_refused(logged, runner, checkpoint_file, key):
    logged.config[KEY_SETTING] = key

    result = runner.invoke(args=["audit", "checkpoint", "-o", str(checkpoint_file)])

    assert result.exit_code == 1
    assert "AUDIT_CHECKPOINT_KEY is not set" in result.stderr
    assert not checkpoint_file.exists()
    assert checkpoint_events(logged) == []


def test_verify_against_a_checkpoint_without_a_key_is_refused(logged, runner, checkpoint_file):
    make_checkpoint(runner, checkpoint_file)
    logged.config[KEY_SETTING] = None

    result = verify(runner, checkpoint_file)

    assert result.exit_code == 1
    assert "AUDIT_CHECKPOINT_KEY is not set" in result.stderr


@pytest.mark.parametrize("key, message", [
    ("too-short", "shorter than 32 characters"),
    # FLASK_AUDIT_CHECKPOINT_KEY=1234… arrives as a number (parsed as JSON).
    (12345678901234567890123456789012345, "must be text, not int"),
])
def test_a_weak_or_mistyped_key_is_refused(logged, runner, checkpoint_file, key, message):
    logged.config[KEY_SETTING] = key

    result = runner.invoke(args=["audit", "checkpoint", "-o", str(checkpoint_file)])

    assert result.exit_code == 1
    assert message in result.stderr
    assert not checkpoint_file.exists()


def test_checkpoint_of_a_broken_log_is_refused(logged, runner, checkpoint_file, without_triggers):
    raw_sql(logged, "UPDATE audit_events SET actor_email = 'someone.else@example.com' WHERE id = 3")

    result = runner.invoke(args=["audit", "checkpoint", "-o", str(checkpoint_file)])

    assert result.exit_code == 1
    assert "the audit log is broken at event 3" in result.stderr
    assert not checkpoint_file.exists()


@pytest.mark.parametrize("content", [
    "not json",
    "[]",
    '{"format": 1, "count": 4}',
    '{"format": 1, "count": true, "last_id": 4, "head_hash": "", "created_at": "",'
    ' "signature": ""}',
    "{}" + " " * 5000,
])
def test_a_file_that_is_not_a_checkpoint_is_rejected(logged, runner, checkpoint_file, content):
    checkpoint_file.write_text(content, encoding="utf-8")

    result = verify(runner, checkpoint_file)

    assert result.exit_code == 1
    assert "not a checkpoint file" in result.stderr
