"""Prepared exports: `POST /audit/exports` asks for one (a job writes the file: on RQ with
REDIS_URL, inline without), `GET /audit/exports` lists the manager's own with their progress, and
`GET /audit/exports/<id>/download` streams a ready file from the store, audited like the
streamed exports of routes.py. Same filters and the same recent-password rule as those."""

from __future__ import annotations

from collections.abc import Iterator

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user

from moderation_app.audit.filters import audit_args, audit_filters_from
from moderation_app.audit.forms import ExportForm
from moderation_app.audit.routes import CONTENT_TYPES, bp, get_only
from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.jobs import JobsUnavailable, enqueue
from moderation_app.jobs.tasks import write_audit_export
from moderation_app.models.exports import AuditExport, ExportFormat, ExportStatus
from moderation_app.models.users import Role, User
from moderation_app.permissions import role_required
from moderation_app.security_log import log_security_event
from moderation_app.services.audit.export import export_filename, known_actions, record_export
from moderation_app.services.audit.exports import (
    exports_of,
    export_for_download,
    fail_export,
    filters_of,
    request_export,
)
from moderation_app.services.errors import NoSuchRecord
from moderation_app.services.evidence.backends import NotStored, Opened
from moderation_app.sessions import has_recent_password, recent_login_required
from moderation_app.settings import export_files
from moderation_app.transactions import writing

QUEUE_DOWN = ("The desk cannot start exports right now: the job queue (Redis) does not answer, "
              "so nothing was exported. Try again in a few minutes, or use Export CSV / Export "
              "JSON Lines on the audit log, which stream at once.")
# While an export is queued or running, the list reloads itself this often (static/js/refresh.js;
# not a meta refresh, which would wipe the export form while a manager fills it in).
REFRESH_SECONDS = 3
_READ_BYTES = 256 * 1024


def _manager() -> User:
    return current_user._get_current_object()  # type: ignore[attr-defined]


def _render(form: ExportForm, status: int = 200,
            errors: list[str] | None = None) -> ResponseReturnValue:
    filters, ignored = audit_filters_from(request.values)
    exports = exports_of(_manager())
    return render_template(
        "audit/exports.html", form=form, filters=filters, errors=errors or ignored,
        exports=exports, actions=known_actions(), statuses=ExportStatus,
        refresh=REFRESH_SECONDS if any(export.in_progress for export in exports) else None,
        describe=lambda export: filters_of(export).describe()), status


@bp.route("/exports")
@role_required(Role.MANAGER)
def exports() -> ResponseReturnValue:
    form = ExportForm(formdata=None, format=request.args.get("format") or ExportFormat.CSV.value)
    return _render(form)


@bp.route("/exports", methods=["POST"])
@role_required(Role.MANAGER)
def create_export() -> ResponseReturnValue:
    form = ExportForm()
    filters, errors = audit_filters_from(request.form)
    if not has_recent_password():
        # As @recent_login_required, but back to the form with its values: a POST has no URL to
        # return to.
        log_security_event("refused", status=302, reason="recent password required")
        back = url_for(".exports", **audit_args(filters), format=form.format.data or "csv")
        return redirect(url_for("auth.reauthenticate", next=back))
    if not form.validate_on_submit() or errors:
        return _render(form, 422, errors)
    export = request_export(_manager(), ExportFormat(form.format.data), filters)
    export_id = export.id
    db.session.commit()
    # Nothing read from the session until the job is enqueued (or has run inline): a read would
    # begin this POST's next transaction, which on SQLite holds the write lock the job needs.
    try:
        enqueue(write_audit_export, export_id)
    except JobsUnavailable as error:
        current_app.logger.error("export %s not enqueued: %s", export_id, error)
        fail_export(export, f"Not started: {error}.", utcnow())
        db.session.commit()
        flash(QUEUE_DOWN, "error")
        return redirect(url_for(".exports"), 303)
    db.session.refresh(export)  # inline, the job has run in its own session
    if export.status is ExportStatus.READY:
        flash(f"Export #{export.id} is ready: {export.rows_done} events.", "success")
    elif export.status is ExportStatus.FAILED:
        flash(f"Export #{export.id} failed: {export.error}", "error")
    else:
        flash(f"Export #{export.id} is queued: it becomes a download link here when ready.",
              "success")
    return redirect(url_for(".exports"), 303)


def _stream(manager: User, export: AuditExport, opened: Opened) -> Iterator[bytes]:
    sent, completed = 0, False
    try:
        while chunk := opened.stream.read(_READ_BYTES):
            sent += len(chunk)
            yield chunk
        completed = sent == export.byte_size
    finally:
        # Also when the download breaks off: what was sent is on the record, completed false.
        opened.stream.close()
        with writing():
            record_export(manager, export.format.value, filters_of(export), export.rows_done,
                          completed, export_id=export.id, bytes_sent=sent)
            db.session.commit()


@bp.route("/exports/<int:export_id>/download")
@role_required(Role.MANAGER)
@get_only
@recent_login_required
def download_export(export_id: int) -> Response:
    export = export_for_download(_manager(), export_id)
    try:
        opened = export_files().open(export.stored_name)
    except NotStored:
        current_app.logger.error("export file missing from the store: %s", export.stored_name)
        raise NoSuchRecord("No such export.") from None
    db.session.expunge(export)  # read after the view's session has ended
    response = Response(stream_with_context(_stream(_manager(), export, opened)),
                        content_type=CONTENT_TYPES[export.format.value])
    response.call_on_close(opened.stream.close)  # also when the body is never read
    response.content_length = opened.size
    name = export_filename(filters_of(export), export.format.value, export.created_at.date())
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
