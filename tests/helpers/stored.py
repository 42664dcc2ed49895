"""What the database and the evidence store (UPLOAD_DIR or S3) hold after a test's steps: row counts, rows loaded and detached,
audit events, stored files. Each reads in its own app context, so it sees only what was committed."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from moderation_app.extensions import db
from moderation_app.models import AuditEvent, DeletionRequest, Evidence, RequestMessage
from moderation_app.services.evidence.backends import EXPORTS_FOLDER
from moderation_app.settings import evidence_store
from tests.helpers.s3 import object_bytes, put_object, remove_object, stored_keys


def row_counts(app: Flask) -> dict[str, int]:
    """Everything a filing, an answer or a withdrawal writes."""
    with app.app_context():
        return {
            "requests": db.session.scalar(select(func.count()).select_from(DeletionRequest)),
            "evidence": db.session.scalar(select(func.count()).select_from(Evidence)),
            "messages": db.session.scalar(select(func.count()).select_from(RequestMessage)),
            "request events": db.session.scalar(select(func.count()).select_from(AuditEvent)
                                                .where(AuditEvent.action.like("request.%"))),
        }


NOTHING = {"requests": 0, "evidence": 0, "messages": 0, "request events": 0}


def _local(app: Flask, folder: str) -> Path:
    return Path(app.config["UPLOAD_DIR"]) / folder


def stored_files(app: Flask, folder: str = "") -> list[str]:
    """The names in the app's evidence store, or in its `folder` (exports/): its S3 prefix, or
    the files of UPLOAD_DIR."""
    if app.config.get("EVIDENCE_STORAGE"):
        return stored_keys(app, folder)
    directory = _local(app, folder)
    return sorted(path.name for path in directory.iterdir()) if directory.exists() else []


def stored_bytes(app: Flask, name: str, folder: str = "") -> bytes:
    """What the store holds under `name`, read past the app's own backend."""
    if app.config.get("EVIDENCE_STORAGE"):
        return object_bytes(app, name, folder)
    return (_local(app, folder) / name).read_bytes()


def store_file(app: Flask, name: str, data: bytes, folder: str = "") -> None:
    """A file written behind the app's back (one a crashed job left)."""
    if app.config.get("EVIDENCE_STORAGE"):
        put_object(app, name, data, folder)
    else:
        directory = _local(app, folder)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(data)


def remove_stored(app: Flask, name: str, folder: str = "") -> None:
    """A file lost behind the app's back (a restored backup, a manual clean-up)."""
    if app.config.get("EVIDENCE_STORAGE"):
        remove_object(app, name, folder)
    else:
        (_local(app, folder) / name).unlink()


# Prepared audit exports: the same store's folder exports/ (settings.export_files).

def stored_exports(app: Flask) -> list[str]:
    return stored_files(app, EXPORTS_FOLDER)


def stored_export_bytes(app: Flask, name: str) -> bytes:
    return stored_bytes(app, name, EXPORTS_FOLDER)


def store_export(app: Flask, name: str, data: bytes) -> None:
    store_file(app, name, data, EXPORTS_FOLDER)


def break_export_store(app: Flask) -> str:
    """Makes every later write of an export fail, as a broken store does: a file stands where the
    local exports/ folder would be made, or (S3) the store names a bucket that does not exist.
    Returns the error class the failed export's reason starts with."""
    if app.config.get("EVIDENCE_STORAGE"):
        app.config["EVIDENCE_STORAGE"] = f"s3://missing-{uuid.uuid4().hex}/"
        return "StorageUnavailable"
    _local(app, "").mkdir(parents=True, exist_ok=True)
    _local(app, EXPORTS_FOLDER).write_text("not a folder")
    return "NotADirectoryError"


def fail_opening(monkeypatch: pytest.MonkeyPatch, name_ending: str, code: int) -> None:
    """The local folder's files whose names end so cannot be opened, failing with errno `code`
    (EIO, EMFILE…): the disk in trouble, not the file gone. Others open as usual."""
    real_open = os.open

    def failing(path, flags, *args, **kwargs):
        if str(path).endswith(name_ending):
            raise OSError(code, os.strerror(code))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", failing)


def backend_class(app: Flask) -> type:
    """The class of the app's evidence backend, for a test that makes its writes fail."""
    with app.app_context():
        return type(evidence_store().backend)


def nothing_stored(app: Flask) -> bool:
    return row_counts(app) == NOTHING and stored_files(app) == []


def load(app: Flask, model: type, object_id: int):
    """One row, detached with its columns loaded."""
    with app.app_context():
        row = db.session.get(model, object_id)
        assert row is not None
        db.session.expunge(row)
        return row


def all_rows(app: Flask, model: type) -> list:
    """Every row of a model, by id, detached with its columns loaded."""
    with app.app_context():
        rows = list(db.session.scalars(select(model).order_by(model.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def request_state(app: Flask, request_id: int) -> dict[str, Any]:
    row = load(app, DeletionRequest, request_id)
    return {"status": row.status, "seller_id": row.seller_id, "submitted_at": row.submitted_at,
            "version": row.version}


def evidence_rows(app: Flask) -> list[Evidence]:
    with app.app_context():
        rows = list(db.session.scalars(select(Evidence).order_by(Evidence.id)))
        db.session.expunge_all()
        return rows


def audit_events(app: Flask, action: str | None = None, *,
                 request_id: int | None = None) -> list[AuditEvent]:
    """Audit events in log order, detached; only `action`'s (a LIKE pattern such as "request.%"
    works too) and only `request_id`'s when given."""
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action is not None:
            query = query.where(AuditEvent.action.like(action) if "%" in action
                                else AuditEvent.action == action)
        if request_id is not None:
            query = query.where(AuditEvent.request_id == request_id)
        events = list(db.session.scalars(query))
        db.session.expunge_all()
        return events


def audit_details(app: Flask, action: str, *, request_id: int | None = None) -> list[dict]:
    """The details of `action`'s events, in log order."""
    return [json.loads(event.details) for event in audit_events(app, action, request_id=request_id)]


def request_events(app: Flask) -> list[AuditEvent]:
    return audit_events(app, "request.%")
