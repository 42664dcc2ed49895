"""Evidence downloads. Files live outside static/; only these views read them, after
permissions.can_view: staff, or the seller who filed the request."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, send_file
from flask_login import current_user
from werkzeug.wrappers import Response

from moderation_app.extensions import db
from moderation_app.models.evidence import Evidence
from moderation_app.models.requests import DeletionRequest
from moderation_app.models.users import Role
from moderation_app.permissions import can_view, role_required
from moderation_app.services.errors import NoSuchRecord
from moderation_app.services.evidence.backends import NotStored, content_type
from moderation_app.services.evidence.processing import processing_count
from moderation_app.settings import evidence_store

bp = Blueprint("evidence", __name__, url_prefix="/evidence")

def _visible_evidence(evidence_id: int) -> Evidence:
    evidence = db.session.get(Evidence, evidence_id)
    if evidence is None:
        raise NoSuchRecord("No such file.")
    if not can_view(current_user, evidence):
        raise NoSuchRecord("No such file.")
    return evidence


def _send(name: str, download_name: str) -> Response:
    """Streamed through the desk from either store, never a redirect to a presigned S3 address:
    the headers below are ours whatever the S3 server honours, the address of a file never
    leaves the desk (a presigned one works for anyone who has it until it expires), and the
    access check runs on every read. A screenshot is at most a few MB."""
    try:
        opened = evidence_store().open(name)
    except NotStored:
        # A row whose file is gone (restored backup, manual cleanup): say so in the log, answer 404.
        current_app.logger.error("evidence file missing from the store: %s", name)
        raise NoSuchRecord("No such file.") from None
    response = send_file(opened.stream, mimetype=content_type(name), download_name=download_name,
                         conditional=False, etag=False, max_age=0)
    response.content_length = opened.size
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Even if a file were ever misread as a document, it could run nothing and reach nothing.
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/<int:evidence_id>")
@role_required(Role.SELLER, Role.AGENT, Role.MANAGER)
def full_size(evidence_id: int) -> Response:
    evidence = _visible_evidence(evidence_id)
    extension = ".jpg" if evidence.stored_name.endswith(".jpg") else ".png"
    return _send(evidence.stored_name, f"evidence-{evidence.id}{extension}")


@bp.route("/<int:evidence_id>/thumbnail")
@role_required(Role.SELLER, Role.AGENT, Role.MANAGER)
def thumbnail(evidence_id: int) -> Response:
    evidence = _visible_evidence(evidence_id)
    return _send(evidence.thumbnail_name, f"evidence-{evidence.id}-thumbnail.jpg")


@bp.route("/processing/<int:request_id>")
@role_required(Role.SELLER, Role.AGENT, Role.MANAGER)
def processing(request_id: int) -> Response:
    """How many of a request's screenshots are still being processed: the request pages poll this
    (static/js/processing.js) and reload once it is 0."""
    deletion_request = db.session.get(DeletionRequest, request_id)
    if deletion_request is None or not can_view(current_user, deletion_request):
        raise NoSuchRecord("No such request.")
    response = jsonify(processing=processing_count(request_id))
    response.headers["Cache-Control"] = "private, no-store"
    return response
