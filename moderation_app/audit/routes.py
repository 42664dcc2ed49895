"""Audit viewer (`/audit`) and streamed exports (`/audit/export.csv`, `/audit/export.jsonl`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import wraps
from typing import TypeVar

from flask import Blueprint, Response, render_template, request, stream_with_context
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.exceptions import MethodNotAllowed

from moderation_app.audit.display import detail_items
from moderation_app.audit.filters import ACTOR_SEARCH_MAX_LENGTH, audit_args, audit_filters_from
from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models.users import Role, User
from moderation_app.permissions import role_required
from moderation_app.services.audit.actions import action_label
from moderation_app.services.audit.export import (
    AuditFilters,
    export_filename,
    export_lines,
    known_actions,
    page,
    record_export,
)
from moderation_app.sessions import recent_login_required
from moderation_app.transactions import writing

View = TypeVar("View", bound=Callable[..., object])

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE_SIZE = 50
# Given whole as content_type: as a mimetype, Werkzeug would add a second charset.
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


@bp.context_processor
def audit_link_helpers() -> dict[str, object]:
    return {"audit_args": audit_args, "action_label": action_label, "detail_items": detail_items,
            "actor_search_max_length": ACTOR_SEARCH_MAX_LENGTH}


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


def _stream(manager: User, first: str, chunks: Iterator[str], reader: Session, fmt: str,
            filters: AuditFilters, rows: list[int]) -> Iterator[str]:
    completed = False
    try:
        if first:
            yield first
        yield from chunks
        completed = True
    finally:
        # Also when the stream breaks off (a failed read, a client gone): what was sent is on
        # the record, with completed false. The read ends first: it held nothing to keep.
        chunks.close()
        reader.close()
        with writing():
            record_export(manager, fmt, filters, rows[0], completed)
            db.session.commit()


def _export(fmt: str) -> Response:
    filters, _ = audit_filters_from(request.args)
    # The download outlives the request's session, which Flask ends as soon as the view returns,
    # so it reads through a session of its own, closed with the response.
    reader = Session(db.engine)
    rows = [0]
    chunks = export_lines(reader, filters, fmt, rows)
    try:
        # The query runs here, before there is a response: if it fails, the manager gets the
        # error page (security headers, error id) rather than a download cut off inside
        # Werkzeug's bare 500 page.
        first = next(chunks, "")
    except BaseException:
        reader.close()
        raise
    body = _stream(current_user._get_current_object(), first, chunks, reader, fmt, filters, rows)
    response = Response(stream_with_context(body), content_type=CONTENT_TYPES[fmt])
    response.call_on_close(reader.close)  # also when the body is never read
    name = export_filename(filters, fmt, utcnow().date())
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def get_only(view: View) -> View:
    """Flask answers HEAD with the GET view, which for an export would send download headers
    and record no export. HEAD is refused like any method the route does not take."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if request.method == "HEAD":
            raise MethodNotAllowed(valid_methods=["GET"])
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@bp.route("/export.csv")
@role_required(Role.MANAGER)
@get_only
@recent_login_required
def export_csv() -> Response:
    return _export("csv")


@bp.route("/export.jsonl")
@role_required(Role.MANAGER)
@get_only
@recent_login_required
def export_jsonl() -> Response:
    return _export("jsonl")
