"""The seller's side of a deletion request: file it, answer a question, withdraw it.

Each function checks that the seller owns what they touch (NoSuchRecord otherwise, so ids cannot be
probed), changes the session and appends the audit event; the caller commits once.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import joinedload

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models.evidence import Evidence
from moderation_app.models.marketplace import Review
from moderation_app.models.requests import (
    OPEN_STATUSES,
    DeletionRequest,
    MessageKind,
    Reason,
    RequestMessage,
    RequestStatus,
)
from moderation_app.models.users import User
from moderation_app.services.audit.log import record_event
from moderation_app.services.errors import DomainError, NoSuchRecord
from moderation_app.services.keyset import KeysetPage, Position, newest_first
from moderation_app.services.evidence.processing import held_details, hold_upload, uploads_since
from moderation_app.services.evidence.reuse import reuse_marks
from moderation_app.services.evidence.storage import (
    EvidenceRejected,
    HeldUpload,
    PreparedImage,
    StagedFiles,
)

# What a form's files become: re-encoded images, or large ones held for a job (processing.py).
Uploads = list[PreparedImage] | list[HeldUpload]

EXPLANATION_MIN_LENGTH = 20
EXPLANATION_MAX_LENGTH = 5000
MESSAGE_MAX_LENGTH = 5000


class RequestClosed(DomainError):
    """The request is no longer in a state that allows this."""


# --- lookups -----------------------------------------------------------------------------------

def seller_review(seller: User, review_external_id: str) -> Review:
    if "\x00" in review_external_id:  # no id holds one, and PostgreSQL fails on it in a lookup
        raise NoSuchRecord("No such review.")
    review = db.session.scalar(select(Review).where(Review.external_id == review_external_id))
    if review is None or review.seller_id != seller.id:
        raise NoSuchRecord("No such review.")
    return review


def seller_request(seller: User, request_id: int) -> DeletionRequest:
    deletion_request = db.session.get(DeletionRequest, request_id)
    if deletion_request is None or deletion_request.seller_id != seller.id:
        raise NoSuchRecord("No such request.")
    return deletion_request


def seller_requests(seller: User, statuses: frozenset[RequestStatus] | None = None,
                    position: Position = Position(), size: int = 25) -> KeysetPage:
    """A page of the seller's requests, newest first, optionally only those in `statuses`. Keyed on
    ix_deletion_requests_seller_submitted (seller_id, submitted_at): any page is one seek (the
    open ones, a few among thousands, want their own partial index: see docs/benchmarks.md)."""
    query = (
        select(DeletionRequest)
        .where(DeletionRequest.seller_id == seller.id)
        .options(joinedload(DeletionRequest.review))
    )
    if statuses is not None:
        # Written out, in declaration order: SQLite uses a partial index (the open requests'
        # one, see docs/benchmarks.md) only when the query repeats its WHERE term as written.
        ordered = [status for status in RequestStatus if status in statuses]
        query = query.where(DeletionRequest.status.in_(
            bindparam("statuses", ordered, expanding=True, literal_execute=True)))
    return newest_first(query, DeletionRequest.submitted_at, DeletionRequest.id, position, size)


def latest_requests_on(review_ids: list[int]) -> dict[int, DeletionRequest]:
    """The latest request on each of these reviews, by review id (reviews without one are absent)."""
    latest: dict[int, DeletionRequest] = {}
    if review_ids:
        for deletion_request in db.session.scalars(
            select(DeletionRequest).where(DeletionRequest.review_id.in_(review_ids))
            .order_by(DeletionRequest.id)
        ):
            latest[deletion_request.review_id] = deletion_request
    return latest


def open_request_for(review: Review) -> DeletionRequest | None:
    return db.session.scalar(select(DeletionRequest).where(
        DeletionRequest.review_id == review.id, DeletionRequest.status.in_(OPEN_STATUSES)))


def refusal_for(review: Review) -> str | None:
    """Why a deletion of this review cannot be requested now, or None if it can."""
    if not review.is_visible:
        return "This review is already hidden from your page."
    if not review.order.is_reviewable:
        return (f"The order's status is {review.order.status.label.lower()}; only reviews on finished, "
                "refunded or canceled orders can be challenged.")
    if open_request_for(review) is not None:
        return "This review already has an open deletion request. Follow it on your requests page."
    return None


# --- quota -------------------------------------------------------------------------------------

def check_upload_quota(seller: User, new_files: int, quota: int, refused: int = 0) -> None:
    """At most `quota` files from one seller in 24 hours: the stored ones, and `refused`, the
    files of the seller's refused uploads in that time (the caller keeps that count), which cost
    as much to check as to store."""
    since = utcnow() - timedelta(days=1)
    stored = select(func.count()).select_from(Evidence).where(
        Evidence.uploaded_by_id == seller.id, Evidence.created_at >= since).scalar_subquery()
    # Plus files held for processing, and those that then failed (a processed one is an Evidence
    # row): one statement, one snapshot, while a job may be turning one into the other.
    uploaded = db.session.scalar(select(stored + uploads_since(seller.id, since))) or 0
    if uploaded + refused + new_files > quota:
        left = max(quota - uploaded - refused, 0)
        counting = ", counting files that could not be accepted" if refused else ""
        raise EvidenceRejected(
            f"You can upload at most {quota} screenshot{'s' if quota != 1 else ''} in 24 hours"
            f"{counting}; you have {left} left. Try again later.")


# --- changes -----------------------------------------------------------------------------------

def review_snapshot(review: Review) -> dict[str, Any]:
    return {
        "review_id": review.external_id,
        "ratings": review.ratings,
        "text": review.text,
        "created_at": review.created_at.isoformat(),
        "order_id": review.order.external_id,
        "order_status": review.order.status.value,
        "offer_id": review.order.offer.external_id,
        "offer_title": review.order.offer.title,
        "buyer": review.buyer.username,
    }


def _hold_upload_quota(seller: User, new_files: int, quota: int) -> None:
    """The quota, checked again under a lock on the seller's row: on PostgreSQL a seller's
    simultaneous uploads queue here until the first commits, so none can slip past the count.
    (The view's earlier check only spares a doomed upload the work of decoding.)"""
    # NO KEY UPDATE (key_share): it waits for another upload's lock, but not for the key-share
    # lock that inserting a row which refers to the seller takes, so the two cannot deadlock.
    db.session.execute(select(User.id).where(User.id == seller.id)
                       .with_for_update(key_share=True))
    check_upload_quota(seller, new_files, quota)


def attach_evidence(deletion_request: DeletionRequest, seller: User, images: Uploads,
                    staged: StagedFiles, quota: int,
                    message: RequestMessage | None = None) -> list[dict[str, Any]]:
    """Stores the files (or holds large ones for processing) and adds their rows; returns their
    record for the audit event."""
    if images:
        _hold_upload_quota(seller, len(images), quota)
    evidence, held = [], []
    for image in images:
        if isinstance(image, HeldUpload):
            held.append(hold_upload(deletion_request, seller, image, staged, message))
            continue
        stored = staged.save(image)
        marks = reuse_marks(deletion_request.id, stored.sha256, stored.perceptual_hash)
        evidence.append(Evidence(request=deletion_request, uploaded_by=seller, message=message,
                                 **asdict(stored), **marks))
    db.session.add_all(evidence)
    db.session.flush()
    return evidence_details(evidence) + held_details(held)


def evidence_details(evidence: list[Evidence]) -> list[dict[str, Any]]:
    return [{"id": item.id, "sha256": item.sha256, "format": item.format, "bytes": item.byte_size}
            for item in evidence]


def submit_request(seller: User, review: Review, reason: Reason, explanation: str,
                   images: Uploads, staged: StagedFiles, *,
                   daily_quota: int) -> DeletionRequest:
    """File a request with its evidence; `daily_quota` caps the seller's uploads per 24 hours."""
    if review.seller_id != seller.id:
        raise NoSuchRecord("No such review.")
    refusal = refusal_for(review)
    if refusal:
        raise RequestClosed(refusal)
    if not images:
        raise EvidenceRejected("Attach at least one screenshot.")
    deletion_request = DeletionRequest(
        review=review, seller=seller, buyer_id=review.buyer_id, reason=reason,
        explanation=explanation.strip(),
        review_snapshot=review_snapshot(review), status=RequestStatus.SUBMITTED,
    )
    db.session.add(deletion_request)
    db.session.flush()
    evidence = attach_evidence(deletion_request, seller, images, staged, daily_quota)
    record_event("request.submitted", actor=seller, request_id=deletion_request.id,
                 review_id=review.id, details={
                     "reason": reason.value, "explanation_length": len(deletion_request.explanation),
                     "evidence": evidence})
    return deletion_request


def answer_request(seller: User, deletion_request: DeletionRequest, message: str,
                   images: Uploads, staged: StagedFiles, *,
                   daily_quota: int) -> RequestMessage:
    """The seller answers an agent's question; the request goes back to the queue at its old place."""
    if deletion_request.seller_id != seller.id:
        raise NoSuchRecord("No such request.")
    if deletion_request.status is not RequestStatus.NEEDS_INFO:
        raise RequestClosed("Customer service has not asked a question on this request, "
                            "so there is nothing to answer right now.")
    reply = RequestMessage(request=deletion_request, author=seller, kind=MessageKind.SELLER_REPLY,
                           body=message.strip())
    db.session.add(reply)
    db.session.flush()
    evidence = attach_evidence(deletion_request, seller, images, staged, daily_quota, message=reply)
    # submitted_at stays: same place in the queue; an appeal's question keeps it an appeal.
    deletion_request.status = (RequestStatus.APPEALED if deletion_request.appealed_at
                               else RequestStatus.SUBMITTED)
    # Back in the agents' court: the queue's age and response target count from the answer.
    deletion_request.waiting_since = utcnow()
    record_event("request.evidence_added", actor=seller, request_id=deletion_request.id,
                 review_id=deletion_request.review_id, details={
                     "message_id": reply.id, "status_before": RequestStatus.NEEDS_INFO.value,
                     "status_after": deletion_request.status.value,
                     "evidence": evidence})
    return reply


def withdraw_request(seller: User, deletion_request: DeletionRequest, reason: str = "") -> None:
    if deletion_request.seller_id != seller.id:
        raise NoSuchRecord("No such request.")
    if not deletion_request.is_open:
        raise RequestClosed("This request is already closed.")
    status_before = deletion_request.status
    db.session.add(RequestMessage(request=deletion_request, author=seller,
                                  kind=MessageKind.WITHDRAWN, body=reason.strip()))
    deletion_request.status = RequestStatus.WITHDRAWN
    deletion_request.assignee_id = None
    deletion_request.lease_expires_at = None
    db.session.flush()
    record_event("request.withdrawn", actor=seller, request_id=deletion_request.id,
                 review_id=deletion_request.review_id,
                 details={"status_before": status_before.value, "status_after": "withdrawn"})
