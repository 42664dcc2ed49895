"""What happened to a request, in order, as its seller (or staff) should see it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models.evidence import Evidence
from moderation_app.models.requests import DeletionRequest, MessageKind, RequestStatus


@dataclass
class TimelineEntry:
    at: datetime
    kind: str
    title: str
    body: str = ""
    evidence: list[Evidence] = field(default_factory=list)


def request_evidence(deletion_request: DeletionRequest) -> list[Evidence]:
    return list(db.session.scalars(
        select(Evidence).where(Evidence.request_id == deletion_request.id).order_by(Evidence.id)))


def timeline(deletion_request: DeletionRequest, *, for_staff: bool = False,
             evidence: list[Evidence] | None = None) -> list[TimelineEntry]:
    """`evidence`: the request's files, when the caller has loaded them already."""
    if evidence is None:
        evidence = request_evidence(deletion_request)
    by_message: dict[int | None, list[Evidence]] = {}
    for item in evidence:
        by_message.setdefault(item.message_id, []).append(item)

    seller_word = "The seller" if for_staff else "You"
    entries = [TimelineEntry(
        at=deletion_request.submitted_at, kind="submitted",
        title=f"{seller_word} asked to delete the review: {deletion_request.reason.label.lower()}",
        body=deletion_request.explanation, evidence=by_message.get(None, []),
    )]
    # Only a rejection can be appealed: a decision before the appeal was one.
    appeal_pending = deletion_request.appealed_at is not None
    for message in deletion_request.messages:
        if message.kind is MessageKind.INFO_REQUESTED:
            title = "Customer service asked for more information"
        elif message.kind is MessageKind.SELLER_REPLY:
            title = f"{seller_word} answered"
        elif message.kind is MessageKind.APPEAL:
            appeal_pending = False
            title = f"{seller_word} appealed the rejection"
        elif message.kind is MessageKind.DECISION:
            title = ("Approved: the review is removed from the seller page"
                     if deletion_request.status is RequestStatus.APPROVED and not appeal_pending
                     else "Rejected: the review stays")
            if deletion_request.appealed_at is not None and not appeal_pending:
                title = f"Appeal decided. {title}"
        elif message.kind is MessageKind.WITHDRAWN:
            title = f"{seller_word} withdrew the request"
        elif for_staff:  # internal note
            title = f"Internal note by {message.author.email}"
        else:
            continue
        entries.append(TimelineEntry(at=message.created_at, kind=message.kind.value, title=title,
                                     body=message.body, evidence=by_message.get(message.id, [])))
    return entries
