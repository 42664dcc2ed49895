"""Appeals (issue 13; DSA Art. 20, internal complaint handling): a seller may appeal a rejected
request once, within APPEAL_WINDOW of the decision, with a message and optional screenshots (the
request's upload pipeline and quota). The request goes back to the queue as `appealed`, and
anyone but the agent who rejected it may claim and decide it; decide() takes that decision, which
is final. A question on the appeal keeps it one: the seller's answer returns it to `appealed`.

Two appeals of one request at once: the version column (and on PostgreSQL the row lock the caller
takes) leaves one; the second finds the request appealed and is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models.evidence import Evidence
from moderation_app.models.requests import (
    Decision,
    DecisionRecord,
    DeletionRequest,
    MessageKind,
    RequestMessage,
    RequestStatus,
)
from moderation_app.models.users import User
from moderation_app.services.audit.log import record_event
from moderation_app.services.errors import DomainError, NoSuchRecord
from moderation_app.services.evidence.storage import StagedFiles
from moderation_app.services.requests.filing import Uploads, attach_evidence
from moderation_app.services.requests.statement import (
    APPEAL_WINDOW,
    StatementOfReasons,
    last_final_decision,
    statement_of_reasons,
)

APPEAL_MIN_LENGTH = 20
APPEAL_MAX_LENGTH = 5000

FIRST_DECIDER = ("You took the decision under appeal, so another agent or a manager must "
                 "handle the appeal. Leave it for a colleague.")


class AppealRefused(DomainError):
    """This request cannot be appealed (any more); the message says why."""


class FirstDeciderRefused(DomainError):
    """The agent whose decision is appealed may neither claim nor decide the appeal."""


def appeal_deadline(deletion_request: DeletionRequest) -> datetime | None:
    """Until when a rejected, never appealed request may be appealed; None for any other."""
    if deletion_request.status is not RequestStatus.REJECTED or deletion_request.appealed_at:
        return None
    record = last_final_decision(deletion_request)
    return None if record is None else record.decided_at + APPEAL_WINDOW


def _later_request(deletion_request: DeletionRequest) -> int | None:
    """A newer request on the same review (the seller asked again instead of appealing)."""
    return db.session.scalar(
        select(DeletionRequest.id).where(DeletionRequest.review_id == deletion_request.review_id,
                                         DeletionRequest.id > deletion_request.id)
        .order_by(DeletionRequest.id.desc()).limit(1))


def appeal_refusal(deletion_request: DeletionRequest, now: datetime | None = None) -> str | None:
    """Why this request cannot be appealed now, or None if it can."""
    now = now or utcnow()
    status = deletion_request.status
    if deletion_request.appealed_at is not None:
        return ("This request has already been appealed. A request can be appealed once, and the "
                "decision on the appeal is final.")
    if status is RequestStatus.APPROVED:
        return "This request was approved and the review is hidden: there is nothing to appeal."
    if status is RequestStatus.WITHDRAWN:
        return "You withdrew this request. Only a rejected request can be appealed."
    if deletion_request.is_open:
        return ("This request is still open. You can appeal only once it has been decided, "
                "and only a rejection.")
    deadline = appeal_deadline(deletion_request)
    if deadline is None:
        return "Only a rejected request can be appealed."
    if now > deadline:
        return (f"The {APPEAL_WINDOW.days} days to appeal this decision have passed; the "
                "decision stands.")
    later = _later_request(deletion_request)
    if later is not None:
        return (f"You asked again about this review in request #{later}, so this one can no "
                "longer be appealed.")
    return None


def appeal(seller: User, deletion_request: DeletionRequest, message: str,
           images: Uploads, staged: StagedFiles, *, daily_quota: int) -> RequestMessage:
    """File the seller's one appeal of a rejected request. Raises NoSuchRecord for another
    seller's request, AppealRefused when it cannot be appealed or the message is out of bounds,
    EvidenceRejected for the files (the daily quota)."""
    if deletion_request.seller_id != seller.id:
        raise NoSuchRecord("No such request.")
    refusal = appeal_refusal(deletion_request)
    if refusal:
        raise AppealRefused(refusal)
    message = message.strip()
    if not APPEAL_MIN_LENGTH <= len(message) <= APPEAL_MAX_LENGTH:
        raise AppealRefused(f"Write between {APPEAL_MIN_LENGTH} and {APPEAL_MAX_LENGTH} characters "
                            "on why the decision should change.")
    now = utcnow()
    body = RequestMessage(request=deletion_request, author=seller, kind=MessageKind.APPEAL,
                          body=message, created_at=now)
    db.session.add(body)
    db.session.flush()
    evidence = attach_evidence(deletion_request, seller, images, staged, daily_quota, message=body)
    deletion_request.first_decided_by_id = deletion_request.decided_by_id
    deletion_request.status = RequestStatus.APPEALED
    deletion_request.appealed_at = now
    deletion_request.waiting_since = now  # the agents' court again: ages count from the appeal
    deletion_request.assignee_id = None
    deletion_request.lease_expires_at = None
    db.session.flush()  # version check: a concurrent appeal or change makes this raise
    record_event("request.appealed", actor=seller, request_id=deletion_request.id,
                 review_id=deletion_request.review_id, details={
                     "message_id": body.id, "message_length": len(message),
                     "status_before": RequestStatus.REJECTED.value,
                     "status_after": RequestStatus.APPEALED.value,
                     "first_decided_by_id": deletion_request.first_decided_by_id,
                     "evidence": evidence})
    return body


def refuse_first_decider(user: User, deletion_request: DeletionRequest) -> None:
    """Claims and decisions on an appeal: never by the one who took the decision appealed."""
    if deletion_request.on_appeal and deletion_request.first_decided_by_id == user.id:
        raise FirstDeciderRefused(FIRST_DECIDER)


def appeal_message(deletion_request: DeletionRequest) -> RequestMessage | None:
    """The seller's appeal, if they appealed."""
    return next((message for message in deletion_request.messages
                 if message.kind is MessageKind.APPEAL), None)


@dataclass(frozen=True)
class AppealSummary:
    """What staff see of an appeal: the seller's message and the decision appealed."""

    appealed_at: datetime
    message: RequestMessage | None
    first_decider: User | None
    first_statement: StatementOfReasons | None
    pending: bool


def first_decision(deletion_request: DeletionRequest) -> DecisionRecord | None:
    """The rejection that was appealed: the latest one not taken on the appeal."""
    return db.session.scalars(
        select(DecisionRecord)
        .where(DecisionRecord.request_id == deletion_request.id,
               DecisionRecord.decision == Decision.REJECT, DecisionRecord.on_appeal.is_(False))
        .order_by(DecisionRecord.decided_at.desc(), DecisionRecord.id.desc()).limit(1)).first()


def appeal_summary(deletion_request: DeletionRequest,
                   evidence: Sequence[Evidence] | None = None) -> AppealSummary | None:
    """`evidence`: the request's files, when the caller has them and its messages loaded."""
    if deletion_request.appealed_at is None:
        return None
    record = first_decision(deletion_request)
    return AppealSummary(
        appealed_at=deletion_request.appealed_at,
        message=appeal_message(deletion_request),
        first_decider=deletion_request.first_decided_by,
        first_statement=(None if record is None
                         else statement_of_reasons(deletion_request, record, evidence=evidence)),
        pending=deletion_request.on_appeal,
    )
