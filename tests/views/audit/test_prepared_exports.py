"""Prepared audit exports through the real HTTP stack: asked for with the form, written by a real RQ
worker on the machine's Redis (or inline without REDIS_URL), listed with their progress, and
downloaded as the very bytes the streamed export of the same filters gives; refused without a
recent password, to non-managers and to another manager; a failed job and a Redis outage shown."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from moderation_app.audit.prepared import QUEUE_DOWN
from moderation_app.cli import audit as audit_cli
from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models import AuditEvent, AuditExport, ExportStatus
from moderation_app.models.users import Role
from moderation_app.services.audit.log import record_event
from moderation_app.sessions import PASSWORD_AT
from tests.helpers.accounts import make_user
from tests.helpers.clients import page_text, signed_in
from tests.helpers.jobs import UNREACHABLE_REDIS_URL, job_queue, run_worker
from tests.helpers.s3 import local_storage_only
from tests.helpers.stored import (
    all_rows,
    audit_details,
    break_export_store,
    store_export,
    stored_export_bytes,
    stored_exports,
)


def ask(client, fmt: str = "csv", **filters: str):
    return client.post_form("/audit/exports", {"format": fmt, **filters})


def exports(app) -> list[AuditExport]:
    return all_rows(app, AuditExport)


def actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def some_events(app) -> None:
    """Events with awkward values: a formula, non-ASCII text, quotes and a line break."""
    with app.app_context():
        for action, request_id, details in [
                ("request.claimed", 7, {}), ("request.decided", None, {"decision": "approve", "note": "=1+1"}),
                ("request.claimed", 8, {"note": 'ünïcode, "quoted"\nline'})]:
            record_event(action, actor_email="script@example.com", actor_role="system",
                         request_id=request_id, details=details)
        db.session.commit()


@pytest.mark.parametrize(("fmt", "filters"), [
    ("csv", {}),
    ("jsonl", {"action": "request.claimed"}),
    ("csv", {"since": "2000-01-01", "actor": "SCRIPT"}),
])
def test_a_queued_export_becomes_a_download_with_the_streamed_exports_bytes(
        app, manager, manager_client, fmt, filters):
    some_events(app)
    with job_queue(app) as queue:
        response = ask(manager_client, fmt, **filters)
        assert response.status_code == 303 and response.location.endswith("/audit/exports")
        [export] = exports(app)
        assert export.status is ExportStatus.QUEUED and queue.count == 1
        listing = manager_client.get("/audit/exports")
        assert "Queued" in page_text(listing)
        html = listing.get_data(as_text=True)
        assert re.search(r'<p [^>]*data-refresh data-seconds="3" data-page="/audit/exports">', html)
        assert "js/refresh.js" in html and 'http-equiv="refresh"' not in html

        assert run_worker(app)

    [export] = exports(app)
    assert export.status is ExportStatus.READY and export.rows_done > 0
    listing = page_text(manager_client.get("/audit/exports"))
    assert "Ready" in listing and f"/audit/exports/{export.id}/download" in listing
    assert "data-refresh" not in listing and "js/refresh.js" not in listing
    # The streamed export now reads what the job read: nothing was recorded in between.
    streamed = manager_client.get(f"/audit/export.{fmt}", query_string=filters).get_data()
    download = manager_client.get(f"/audit/exports/{export.id}/download")
    assert download.status_code == 200
    assert download.get_data() == streamed and len(streamed) == export.byte_size
    assert download.headers["Content-Type"] == manager_client.get(
        f"/audit/export.{fmt}", query_string=filters).headers["Content-Type"]
    assert download.headers["Content-Disposition"].startswith('attachment; filename="audit-')
    [details] = [item for item in audit_details(app, "audit.exported") if "export_id" in item]
    assert details["export_id"] == export.id and details["completed"] is True
    assert details["rows"] == export.rows_done and details["bytes_sent"] == export.byte_size
    assert actions(app).count("audit.export_requested") == 1


def test_without_redis_the_export_runs_inline_and_is_ready_at_once(app, manager_client):
    some_events(app)
    assert not app.config["REDIS_URL"]

    response = ask(manager_client, "jsonl")

    assert response.status_code == 303
    [export] = exports(app)
    assert export.status is ExportStatus.READY
    page = page_text(manager_client.get("/audit/exports"))
    assert f"Export #{export.id} is ready" in page and "data-refresh" not in page
    body = manager_client.get(f"/audit/exports/{export.id}/download").get_data()
    assert body.count(b"\n") == export.rows_done
    # In the evidence store's own exports/ folder (or prefix).
    assert stored_export_bytes(app, export.stored_name) == body


@local_storage_only  # a file's mode: S3 objects have none
def test_a_local_export_file_is_private_like_the_evidence_folder(app, manager_client, tmp_path):
    ask(manager_client, "jsonl")
    [export] = exports(app)
    stored = tmp_path / "uploads" / "exports" / export.stored_name
    assert oct(stored.stat().st_mode & 0o777) == "0o600"


def test_without_a_recent_password_nothing_is_queued_and_the_form_comes_back_filled(
        app, manager_client):
    with manager_client.session_transaction() as session:
        session[PASSWORD_AT] = int(time.time()) - 3600

    response = ask(manager_client, "jsonl", action="request.claimed", since="2026-01-02")

    assert response.status_code == 302 and "/reauthenticate" in response.location
    assert "next=/audit/exports?" in response.location.replace("%2F", "/").replace("%3F", "?")
    assert exports(app) == []
    assert "audit.export_requested" not in actions(app)


def test_a_download_asks_for_the_password_again_too(app, manager_client):
    ask(manager_client)
    [export] = exports(app)
    with manager_client.session_transaction() as session:
        session[PASSWORD_AT] = int(time.time()) - 3600

    response = manager_client.get(f"/audit/exports/{export.id}/download")

    assert response.status_code == 302 and "/reauthenticate" in response.location
    assert "audit.exported" not in actions(app)


def test_only_the_manager_who_asked_may_download_and_agents_may_not_ask(
        app, manager_client, agent_client):
    ask(manager_client)
    [export] = exports(app)
    other = signed_in(app, make_user(app, "other.manager@example.com", Role.MANAGER))

    assert other.get(f"/audit/exports/{export.id}/download").status_code == 404
    assert f"/audit/exports/{export.id}/download" not in page_text(other.get("/audit/exports"))
    assert agent_client.post_form("/audit/exports", {"format": "csv"}).status_code == 403
    assert agent_client.get(f"/audit/exports/{export.id}/download").status_code == 403
    assert len(exports(app)) == 1


def test_a_job_that_fails_shows_failed_with_the_reason(app, manager_client):
    error = break_export_store(app)
    with job_queue(app) as queue:
        ask(manager_client)
        run_worker(app)
        assert queue.failed_job_registry.count == 1

    [export] = exports(app)
    assert export.status is ExportStatus.FAILED and error in export.error
    page = page_text(manager_client.get("/audit/exports"))
    assert f"Failed: {error}" in page and "/download" not in page
    assert manager_client.get(f"/audit/exports/{export.id}/download").status_code == 404


def test_with_redis_down_the_export_is_refused_with_a_clear_message(app, manager_client):
    app.config.update(REDIS_URL=UNREACHABLE_REDIS_URL, JOBS_QUEUE="unreachable")

    response = ask(manager_client)

    assert response.status_code == 303
    page = page_text(manager_client.get(response.location))
    assert "the job queue (Redis) does not answer" in page and QUEUE_DOWN[:40] in page
    [export] = exports(app)
    assert export.status is ExportStatus.FAILED and "Not started" in export.error


def test_a_bad_format_or_filter_is_refused_and_nothing_queued(app, manager_client):
    assert ask(manager_client, "xlsx").status_code == 422
    response = ask(manager_client, "csv", since="2026-05-02", until="2026-05-01")
    assert response.status_code == 422 and "start date is after the end date" in page_text(response)
    assert exports(app) == []


def test_an_export_past_its_expiry_is_not_downloadable_before_the_clean_up_runs(app, manager_client):
    some_events(app)
    ask(manager_client)
    [export] = exports(app)
    assert manager_client.get(f"/audit/exports/{export.id}/download").status_code == 200
    with app.app_context():
        db.session.execute(update(AuditExport).where(AuditExport.id == export.id)
                           .values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()

    assert manager_client.get(f"/audit/exports/{export.id}/download").status_code == 404
    listing = page_text(manager_client.get("/audit/exports"))
    assert "Expired: the file is being removed" in listing
    assert f"/audit/exports/{export.id}/download" not in listing


def test_clean_exports_removes_expired_files_lost_jobs_and_orphans(app, manager_client, runner,
                                                                    monkeypatch):
    ask(manager_client)
    ask(manager_client)
    old, kept = exports(app)
    store_export(app, "ab" * 16 + ".csv", b"left by a crash")
    with app.app_context():
        db.session.execute(update(AuditExport).where(AuditExport.id == old.id)
                           .values(expires_at=utcnow() - timedelta(minutes=1)))
        lost = AuditExport(requested_by_id=old.requested_by_id, format=old.format,
                           status=ExportStatus.RUNNING, created_at=utcnow() - timedelta(days=2))
        db.session.add(lost)
        db.session.commit()
        lost_id = lost.id

    # Run two hours later, past ORPHAN_MIN_AGE: the files age as they do between a crash and the
    # daily clean-up. The clock moves, not the files: S3's Last-Modified cannot be set.
    later = utcnow() + timedelta(hours=2)
    monkeypatch.setattr(audit_cli, "utcnow", lambda: later)

    result = runner.invoke(args=["audit", "clean-exports"])

    assert result.exit_code == 0, result.output
    assert "expired 1 exports, failed 1 unfinished ones, removed 1 orphan files" in result.output
    statuses = {export.id: export.status for export in exports(app)}
    assert statuses == {old.id: ExportStatus.EXPIRED, kept.id: ExportStatus.READY,
                        lost_id: ExportStatus.FAILED}
    assert stored_exports(app) == [kept.stored_name]
    assert audit_details(app, "audit.exports_cleaned")[-1]["expired"] == [old.id]
