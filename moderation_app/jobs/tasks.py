"""The jobs: each runs in an app context of its own (the worker's, or a fresh one inline), reads
its settings there and commits its own transactions. Arguments are ids, never rows."""

from __future__ import annotations

import logging

from flask import render_template
from rq.timeouts import BaseTimeoutException
from sqlalchemy.orm import Session

from moderation_app.extensions import db
from moderation_app.services.audit.exports import write_export
from moderation_app.security_log import log_security_event
from moderation_app.services.evidence.images import EvidenceLimits
from moderation_app.services.evidence.processing import Processed, process_upload, request_pending
from moderation_app.services.evidence.storage import EvidenceStore
from moderation_app.services.notifications.delivery import deliver_round
from moderation_app.services.webhooks.delivery import deliver_due
from moderation_app.settings import (
    evidence_limits,
    evidence_store,
    export_files,
    export_keep,
    mail_settings,
    retry_policy,
    smtp_transport,
    webhook_retry_policy,
    webhook_transport,
)
from moderation_app.transactions import reading, writing

log = logging.getLogger(__name__)


def write_audit_export(export_id: int) -> None:
    """The export's file, written and stored; its row says queued → running → ready or failed."""
    # The log is read through a session of its own, so the progress commits (db.session) do not
    # end the read. Its transaction begins deferred: on SQLite an IMMEDIATE one would hold the
    # write lock for the whole export, and the progress commits would wait for it forever.
    reader = Session(db.engine)
    try:
        with reading():
            reader.connection()
        write_export(export_id, reader, export_files, commit=db.session.commit,
                     keep=export_keep())
    finally:
        reader.close()


def deliver_webhooks() -> None:
    """One round of `webhooks send`: what is due now, right after a decision committed."""
    transport = webhook_transport()
    if transport is None:
        return
    report = deliver_due(transport, webhook_retry_policy(), commit=db.session.commit)
    log.info("webhooks: %s", report)


def deliver_emails() -> None:
    """One round of `notifications send`: the seller's e-mail, right after a decision."""
    transport = smtp_transport()
    if transport is None:
        return
    report = deliver_round(transport, mail_settings(), retry_policy(), render=render_template,
                           commit=db.session.commit)
    log.info("e-mails: %s", report)


def process_evidence(request_id: int) -> None:
    """Decodes the request's held uploads into evidence (services/evidence/processing.py), one
    transaction each. One that fails is left for `flask evidence process` and the rest go on;
    the job then fails, so RQ keeps the traceback."""
    store, limits = evidence_store(), evidence_limits()
    errors = 0
    # Every transaction takes the write lock when it begins (SQLite), also when this runs inline
    # in a request; none is held while a file is decoded.
    with writing():
        for upload_id in request_pending(request_id):
            try:
                done = process_held_upload(upload_id, store, limits)
            except BaseTimeoutException:
                # RQ's limit for the whole job, not one upload's trouble: stop here; the rest
                # wait for `flask evidence process`.
                db.session.rollback()
                raise
            except Exception:  # noqa: BLE001  (S3 down, a database error: retried by the sweep)
                db.session.rollback()
                log.exception("evidence upload %s of request %s left processing",
                              upload_id, request_id)
                errors += 1
                continue
            log.info("evidence upload %s: %s", upload_id, done.outcome)
    if errors:
        raise RuntimeError(f"{errors} evidence upload(s) of request {request_id} left processing")


def process_held_upload(upload_id: int, store: EvidenceStore, limits: EvidenceLimits) -> Processed:
    """One held upload processed and committed (process_upload), by the job above or by the sweep
    (`flask evidence process`): a file that could not be decoded reaches the security log either
    way, as a small file refused on the form does: the operators see every refusal."""
    done = process_upload(upload_id, store, limits, commit=db.session.commit)
    if done.outcome == "failed":
        log_security_event("upload_refused", seller_id=done.uploaded_by_id, reason=done.reason,
                           processed_later=True)
    return done
