"""Audit viewer (`/audit`) and streamed exports (`/audit/export.csv`, `/audit/export.jsonl`)."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response, render_template, request, stream_with_context
from flask_login import current_user

from moderation_app.audit.filters import audit_args, audit_filters_from
from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models.users import Role
from moderation_app.permissions import role_required
from moderation_app.services.audit.export import (
    AuditFilters, export_filename, export_lines, known_actions, page, record_export,
)
from moderation_app.sessions import recent_login_required

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE_SIZE = 50
MIMETYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


@bp.context_processor
def audit_link_helpers() -> dict[str, object]:
    return {"audit_args": audit_args}


@bp.route("")
@role_required(Role.MANAGER)
def index() -> str:
    filters, errors = audit_filters_from(request.args)
    before = request.args.get("before", type=int)
    if before is not None and not 0 < before < 2**63:  # event ids are 64-bit; beyond: page one
        before = None
    events, next_before = page(filters, before, PAGE_SIZE)
    return render_template("audit/index.html", events=events, filters=filters, errors=errors,
                           next_before=next_before, first_page=before is None,
                           actions=known_actions())


def _stream(fmt: str, filters: AuditFilters) -> Iterator[str]:
    manager = current_user._get_current_object()
    rows = [0]
    completed = False
    try:
        yield from export_lines(filters, fmt, rows)
        completed = True
    finally:
        record_export(manager, fmt, filters, rows[0], completed)
        db.session.commit()


def _export(fmt: str) -> Response:
    filters, _ = audit_filters_from(request.args)
    response = Response(stream_with_context(_stream(fmt, filters)), mimetype=MIMETYPES[fmt])
    name = export_filename(filters, fmt, utcnow().date())
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.route("/export.csv")
@role_required(Role.MANAGER)
@recent_login_required
def export_csv() -> Response:
    return _export("csv")


@bp.route("/export.jsonl")
@role_required(Role.MANAGER)
@recent_login_required
def export_jsonl() -> Response:
    return _export("jsonl")
