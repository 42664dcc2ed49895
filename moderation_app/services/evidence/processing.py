"""Large uploads decoded in the background: held as received, then turned into evidence by a job.

Decoding and re-encoding ten 12 MP photos takes 1.5 s of CPU (bench/held_uploads.py), seconds of
waiting for a seller on a busy server; checking and holding them takes 0.05 s. With a job queue (REDIS_URL), a request of at least EVIDENCE_BACKGROUND_PIXELS is
checked as every request is, short of decoding (storage.prepare_images with ``hold_from_pixels``):
every refusal that needs no decode still comes at once. Its files are then written as received
under names that are never served (``.upload``), with an ``EvidenceUpload`` row each, in the same
transaction as the request; the request page shows them as "processing…".

``process_upload`` (a job, jobs/tasks.process_evidence) decodes one the same way a small upload is
decoded, then in one transaction stores the re-encoded image and its thumbnail, adds the
``Evidence`` row with its reuse marks, deletes the ``EvidenceUpload`` row and records
``evidence.processed``; the held bytes are removed after that commits. A file that turns out to be
damaged is kept as FAILED with the seller's message (``evidence.failed``); nothing is stored.

It is safe to run twice at once: the row is read again under a lock (PostgreSQL) or inside the
write lock (SQLite), and the second finds it gone. A job lost with Redis, or a worker stopped
mid-way, leaves the row PROCESSING: ``flask evidence process`` picks up what is older than a
minute (``pending_uploads``). Each decode begun is counted first (``attempts``), so a file that
stops its worker every time is given up after MAX_ATTEMPTS instead of waiting forever; a try whose
decode finished and whose storing failed (S3 or the database down) is not counted. Nothing here
commits itself: the caller passes ``commit``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta

from sqlalchemy import ScalarSelect, func, select, update

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models.evidence import Evidence, EvidenceUpload, UploadStatus
from moderation_app.models.requests import DeletionRequest, RequestMessage
from moderation_app.models.users import User
from moderation_app.services.audit.log import record_event
from moderation_app.services.evidence.backends import NotStored
from moderation_app.services.evidence.images import EvidenceLimits, prepare_image
from moderation_app.services.evidence.reuse import reuse_marks
from moderation_app.services.evidence.storage import (
    EvidenceRejected,
    EvidenceStore,
    HeldUpload,
    PreparedImage,
    StagedFiles,
)

log = logging.getLogger(__name__)

# A job normally takes an upload within seconds; older than this, the sweep assumes it was lost.
SWEEP_AFTER = timedelta(minutes=1)
LOST = "The file was lost before it could be processed."
# Decodes begun before an upload is given up: each one stopped its worker (killed, timed out).
MAX_ATTEMPTS = 3
GAVE_UP = "The file could not be processed; the desk tried several times."


def hold_upload(deletion_request: DeletionRequest, seller: User, upload: HeldUpload,
                staged: StagedFiles, message: RequestMessage | None = None) -> EvidenceUpload:
    """Writes the upload as received (removed again if the caller's transaction fails) and adds
    its row; the caller flushes and commits."""
    held = EvidenceUpload(
        request=deletion_request, uploaded_by=seller, message_id=message.id if message else None,
        original_filename=upload.original_filename, held_name=staged.hold(upload),
        format=upload.format, width=upload.width, height=upload.height,
        received_bytes=len(upload.data), received_sha256=upload.sha256,
    )
    db.session.add(held)
    return held


def held_details(held: Sequence[EvidenceUpload]) -> list[dict[str, object]]:
    """An audit event's record of held files: what arrived, before it is re-encoded."""
    return [{"upload_id": item.id, "received_sha256": item.received_sha256,
             "format": item.format, "received_bytes": item.received_bytes, "processing": True}
            for item in held]


def processing_count(request_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(EvidenceUpload).where(
        EvidenceUpload.request_id == request_id,
        EvidenceUpload.status == UploadStatus.PROCESSING)) or 0


def stored_evidence_count(request_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Evidence).where(
        Evidence.request_id == request_id)) or 0


def uploads_since(seller_id: int, since) -> ScalarSelect[int]:
    """The seller's held and failed files since then, for the upload quota: a subquery, counted
    in one statement with the stored files, so a file stored in between is counted once."""
    return select(func.count()).select_from(EvidenceUpload).where(
        EvidenceUpload.uploaded_by_id == seller_id, EvidenceUpload.created_at >= since
    ).scalar_subquery()


def pending_uploads(older_than: timedelta = SWEEP_AFTER) -> list[int]:
    """Ids of uploads still processing that were held at least `older_than` ago, oldest first."""
    return list(db.session.scalars(
        select(EvidenceUpload.id).where(EvidenceUpload.status == UploadStatus.PROCESSING,
                                        EvidenceUpload.created_at <= utcnow() - older_than)
        .order_by(EvidenceUpload.created_at, EvidenceUpload.id)))


def recent_uploads_count(younger_than: timedelta = SWEEP_AFTER) -> int:
    """Uploads still processing that were held less than `younger_than` ago: normally still with
    their job, so the sweep leaves them alone and says how many."""
    return db.session.scalar(
        select(func.count()).select_from(EvidenceUpload)
        .where(EvidenceUpload.status == UploadStatus.PROCESSING,
               EvidenceUpload.created_at > utcnow() - younger_than)) or 0


@dataclass(frozen=True)
class Processed:
    upload_id: int
    outcome: str  # "stored", "failed" or "gone" (done by someone else, or no such upload)
    evidence_id: int | None = None
    reason: str | None = None  # why it failed: the seller's message
    uploaded_by_id: int | None = None


def process_upload(upload_id: int, store: EvidenceStore, limits: EvidenceLimits,
                   commit: Callable[[], None]) -> Processed:
    """Decodes one held upload into evidence, or marks it failed (see the module docstring).
    StorageUnavailable (S3 down) leaves it processing for a later try."""
    upload = db.session.get(EvidenceUpload, upload_id)
    if upload is None or not upload.processing:
        return Processed(upload_id, "gone")
    held_name, name = upload.held_name, upload.original_filename
    if upload.attempts >= MAX_ATTEMPTS:
        return _fail(upload_id, GAVE_UP, commit, held_name=held_name, store=store)
    # Decoded outside any transaction: on SQLite the write lock is not held for seconds of it.
    db.session.rollback()
    try:
        data = store.read(held_name)
    except NotStored:
        return _fail(upload_id, LOST, commit)
    # Counted before the decode, in its own commit: a decode that kills its worker still counts.
    if _locked(upload_id) is None:
        db.session.rollback()
        return Processed(upload_id, "gone")
    db.session.execute(update(EvidenceUpload).where(EvidenceUpload.id == upload_id)
                       .values(attempts=EvidenceUpload.attempts + 1))
    commit()
    try:
        prepared = prepare_image(name, data, limits)
    except EvidenceRejected as error:
        return _fail(upload_id, str(error), commit, held_name=held_name, store=store)
    try:
        return _store(upload_id, prepared, held_name, store, commit)
    except Exception:
        # The decode finished: this try did not stop its worker, the store or the database
        # failed after it (S3 down mid-job). Not counted, or a few minutes of an outage would
        # give the file up and remove it; it stays processing for the next run.
        db.session.rollback()
        _uncount(upload_id, commit)
        raise


def _store(upload_id: int, prepared: PreparedImage, held_name: str, store: EvidenceStore,
           commit: Callable[[], None]) -> Processed:
    with store.transaction() as staged:
        upload = _locked(upload_id)
        if upload is None:
            db.session.rollback()
            return Processed(upload_id, "gone")
        stored = staged.save(prepared)
        marks = reuse_marks(upload.request_id, stored.sha256, stored.perceptual_hash)
        evidence = Evidence(request_id=upload.request_id, message_id=upload.message_id,
                            uploaded_by_id=upload.uploaded_by_id, **asdict(stored), **marks)
        db.session.add(evidence)
        db.session.flush()
        record_event("evidence.processed", **_about(upload, {
            "evidence_id": evidence.id, "sha256": stored.sha256,
            "perceptual_hash": stored.perceptual_hash, "format": stored.format,
            "bytes": stored.byte_size, **marks}))
        db.session.delete(upload)
        evidence_id = evidence.id
        commit()  # last statement in the block: a failed commit removes the stored files
    _remove_held(store, held_name)
    return Processed(upload_id, "stored", evidence_id)


def _uncount(upload_id: int, commit: Callable[[], None]) -> None:
    try:
        db.session.execute(update(EvidenceUpload).where(
            EvidenceUpload.id == upload_id, EvidenceUpload.status == UploadStatus.PROCESSING,
            EvidenceUpload.attempts > 0).values(attempts=EvidenceUpload.attempts - 1))
        commit()
    except Exception:  # the database is down too: the try counts, the error that stopped it is raised
        db.session.rollback()
        log.exception("could not uncount the try of upload %s", upload_id)


def _locked(upload_id: int) -> EvidenceUpload | None:
    """The upload again, under a row lock on PostgreSQL; None when another run finished it."""
    upload = db.session.scalar(select(EvidenceUpload).where(EvidenceUpload.id == upload_id)
                               .with_for_update().execution_options(populate_existing=True))
    return upload if upload is not None and upload.processing else None


def _about(upload: EvidenceUpload, details: dict[str, object]) -> dict[str, object]:
    """An upload's event's columns: its request and review, the upload and what arrived."""
    return {"request_id": upload.request_id, "review_id": upload.request.review_id,
            "details": {"upload_id": upload.id, "received_sha256": upload.received_sha256,
                        **details}}


def _fail(upload_id: int, message: str, commit: Callable[[], None], *,
          held_name: str | None = None, store: EvidenceStore | None = None) -> Processed:
    upload = _locked(upload_id)
    if upload is None:
        db.session.rollback()
        return Processed(upload_id, "gone")
    upload.status = UploadStatus.FAILED
    upload.error = message
    upload.held_name = None
    upload.finished_at = utcnow()
    record_event("evidence.failed", **_about(upload, {"reason": message}))
    uploaded_by_id = upload.uploaded_by_id
    commit()
    if held_name is not None and store is not None:
        _remove_held(store, held_name)
    return Processed(upload_id, "failed", reason=message, uploaded_by_id=uploaded_by_id)


def _remove_held(store: EvidenceStore, name: str) -> None:
    # The row no longer names it; if this fails, `evidence gc` removes it as an orphan.
    try:
        store.delete(name)
    except OSError:
        log.exception("could not remove the held upload %s", name)


def request_pending(request_id: int) -> list[int]:
    """Ids of the request's uploads still processing, in upload order."""
    return list(db.session.scalars(
        select(EvidenceUpload.id).where(EvidenceUpload.request_id == request_id,
                                        EvidenceUpload.status == UploadStatus.PROCESSING)
        .order_by(EvidenceUpload.id)))
