"""The audit log is a hash chain nobody can quietly change: ORM and database both refuse, and
`audit verify` names the first event that no longer matches."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DatabaseError, IntegrityError

from moderation_app.extensions import db
from moderation_app.models import AuditEvent, Role
from moderation_app.models.audit import GENESIS_HASH, AuditLogIsAppendOnly
from moderation_app.services.audit import log as log_module
from moderation_app.services.audit.log import event_hash, record_event, verify_chain
from tests.helpers.accounts import make_user
from tests.helpers.database import TEST_DATABASE_URL, raw_sql

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def logged(app):
    """A log with a few events in it."""
    for number in range(4):
        make_user(app, f"user{number}@example.com", Role.SELLER)
    with app.app_context():
        assert db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)) == 4
    return app


def test_each_event_links_to_the_previous_and_hashes_its_content(logged):
    with logged.app_context():
        events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [event.id for event in events] == [1, 2, 3, 4]
    assert events[0].prev_hash == GENESIS_HASH
    for previous, current in zip(events, events[1:]):
        assert current.prev_hash == previous.hash
    assert all(event_hash(event) == event.hash for event in events)


def test_verify_passes_on_an_untouched_log(logged, runner):
    result = logged.test_cli_runner().invoke(args=["audit", "verify"])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("audit log ok: 4 events, head ")


def test_verify_names_the_event_whose_content_was_altered(logged, without_triggers):
    raw_sql(logged, "UPDATE audit_events SET actor_email = 'someone.else@example.com' WHERE id = 3")

    result = logged.test_cli_runner().invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    assert "BROKEN at event 3: content does not match its hash" in result.stderr


def test_verify_names_the_event_after_a_deleted_one(logged, without_triggers):
    raw_sql(logged, "DELETE FROM audit_events WHERE id = 2")

    result = logged.test_cli_runner().invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    assert "BROKEN at event 3: expected event 2 next" in result.stderr


def test_a_rehashed_event_still_breaks_the_link_to_the_next(logged, without_triggers):
    with logged.app_context():
        event = db.session.get(AuditEvent, 2)
        event.actor_email = "forger@example.com"
        forged_hash = event_hash(event)
        db.session.expunge(event)
    raw_sql(logged, f"UPDATE audit_events SET actor_email = 'forger@example.com', hash = '{forged_hash}' "
                "WHERE id = 2")

    result = logged.test_cli_runner().invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    assert "BROKEN at event 3: prev_hash does not match" in result.stderr


def _respaced(details: str) -> str:
    """The same JSON in another layout: what the hash covers is the parsed value, not the text."""
    return json.dumps(json.loads(details), sort_keys=False, indent=1)


def test_verify_still_accepts_details_rewritten_in_another_layout(logged, without_triggers):
    with logged.app_context():
        details = db.session.scalar(select(AuditEvent.details).where(AuditEvent.id == 2))
    raw_sql(logged, "UPDATE audit_events SET details = :details WHERE id = 2",
            [{"details": _respaced(details)}])

    result = logged.test_cli_runner().invoke(args=["audit", "verify"])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("audit log ok: 4 events, head ")


def test_verify_refuses_a_hash_taken_over_details_in_another_layout(logged, without_triggers):
    # A hash over the event's text with the details spliced in as stored, not in canonical form:
    # the fast path builds exactly that text, so it must not take it for the canonical one.
    with logged.app_context():
        event = db.session.get(AuditEvent, 4)
        content = {column: getattr(event, column) for column in
                   ("id", "actor_id", "actor_email", "actor_role", "action", "request_id", "review_id",
                    "prev_hash")}
        content["occurred_at"] = log_module.format_timestamp(event.occurred_at)
        content["details"] = "DETAILS"
        layout = _respaced(event.details)
        text = log_module.canonical_json(content).replace('"DETAILS"', layout)
    raw_sql(logged, "UPDATE audit_events SET details = :details, hash = :hash WHERE id = 4",
            [{"details": layout, "hash": hashlib.sha256(text.encode()).hexdigest()}])

    result = logged.test_cli_runner().invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    assert "BROKEN at event 4: content does not match its hash" in result.stderr


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="SQLite keeps times as text")
def test_verify_still_accepts_a_time_stored_in_another_layout(logged, without_triggers):
    raw_sql(logged, "UPDATE audit_events SET occurred_at = replace(occurred_at, ' ', 'T') WHERE id = 3")

    result = logged.test_cli_runner().invoke(args=["audit", "verify"])

    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET action = 'nothing.happened' WHERE id = 1",
    "DELETE FROM audit_events WHERE id = 4",
])
def test_the_database_refuses_updates_and_deletes(logged, statement):
    with pytest.raises(DatabaseError, match="append-only"):
        raw_sql(logged, statement)
    assert logged.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="SQLite has no TRUNCATE")
@pytest.mark.parametrize("statement", [
    "TRUNCATE audit_events",
    "TRUNCATE users, audit_events RESTART IDENTITY CASCADE",
])
def test_postgresql_refuses_to_truncate_the_log(logged, statement):
    with pytest.raises(DatabaseError, match="append-only: TRUNCATE refused"):
        raw_sql(logged, statement)

    result = logged.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("audit log ok: 4 events")


def test_the_orm_refuses_to_change_or_delete_an_event(logged):
    with logged.app_context():
        event = db.session.get(AuditEvent, 1)
        event.action = "nothing.happened"
        with pytest.raises(AuditLogIsAppendOnly):
            db.session.flush()
        db.session.rollback()

        db.session.delete(db.session.get(AuditEvent, 1))
        with pytest.raises(AuditLogIsAppendOnly):
            db.session.flush()
        db.session.rollback()

        for statement in (update(AuditEvent).values(action="x"), delete(AuditEvent)):
            with pytest.raises(AuditLogIsAppendOnly):
                db.session.execute(statement)
        db.session.rollback()


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="the outsider script reads a SQLite file")
def test_an_outsiders_script_following_the_docs_verifies_the_same_chain(logged):
    database = logged.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")

    result = subprocess.run([sys.executable, str(ROOT / "docs" / "verify_audit_chain.py"), database],
                            capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok: 4 events")


def test_concurrent_appenders_keep_one_unbroken_chain(app):
    """PostgreSQL: the advisory lock. SQLite: transactions that write begin IMMEDIATE."""

    writers, appends_each = 8, 10
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def append(writer: int) -> None:
        try:
            with app.app_context():
                barrier.wait()
                for number in range(appends_each):
                    record_event("test.appended", actor_email=f"writer{writer}@example.com",
                                 actor_role="system", details={"n": number})
                    db.session.commit()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=append, args=(writer,)) for writer in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    with app.app_context():
        result = verify_chain()
    assert result.ok, result.reason
    assert result.count == writers * appends_each


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="PostgreSQL appenders hold a lock: no stale head")
def test_an_append_that_read_a_stale_head_tries_again_from_the_new_one(logged, monkeypatch):
    real_head = log_module._chain_head
    stale = []

    def head_one_behind():
        head = real_head()
        if not stale:  # the first read: as if another appender had just moved the head
            stale.append(head)
            return db.session.execute(select(AuditEvent.id, AuditEvent.hash, AuditEvent.occurred_at)
                                      .where(AuditEvent.id == head.id - 1)).first()
        return head

    monkeypatch.setattr(log_module, "_chain_head", head_one_behind)
    with logged.app_context():
        event = record_event("test.appended")
        db.session.commit()
        assert event.id == 5
        assert verify_chain().ok


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="PostgreSQL appenders hold a lock: no stale head")
def test_an_append_gives_up_after_a_bounded_number_of_collisions(logged, monkeypatch):
    reads = []

    def always_behind():
        reads.append(1)
        return db.session.execute(select(AuditEvent.id, AuditEvent.hash, AuditEvent.occurred_at)
                                  .where(AuditEvent.id == 3)).first()

    monkeypatch.setattr(log_module, "_chain_head", always_behind)
    with logged.app_context():
        with pytest.raises(IntegrityError):
            record_event("test.appended")
    assert len(reads) == log_module.APPEND_ATTEMPTS
