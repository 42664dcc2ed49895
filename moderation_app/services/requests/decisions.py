"""Deciding a request, and staff notes on it.

A decision changes the request, maybe the review, writes its row in the decisions table (the
dashboard's facts), appends its audit event and enqueues the seller's e-mail and the marketplace's
webhook events; the caller commits once, so they land together or
not at all. Two agents deciding at the same moment: on
PostgreSQL the caller loads the request with a row lock, so the second waits and then finds it
decided; everywhere, the version column turns a stale write into StaleDataError.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models.audit import AuditEvent
from moderation_app.models.replies import ReplyTemplate
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
from moderation_app.services.errors import DomainError
from moderation_app.services.evidence.processing import processing_count, stored_evidence_count
from moderation_app.services.marketplace.ratings import SellerRating, seller_rating
from moderation_app.services.notifications.outbox import enqueue as enqueue_notification
from moderation_app.services.requests.appeals import refuse_first_decider
from moderation_app.services.requests.claims import holds, renew
from moderation_app.services.requests.events import latest_events
from moderation_app.services.webhooks.events import enqueue_events as enqueue_webhooks

# The audit action a page reads back (see events.latest_events).
DECIDED = "request.decided"

NOTE_MAX_LENGTH = 5000


__all__ = ["NEW_STATUS", "NOTE_MAX_LENGTH", "Decision", "DecisionOutcome", "DecisionRefused",
           "add_note", "decide", "recorded_decision"]

NEW_STATUS = {
    Decision.APPROVE: RequestStatus.APPROVED,
    Decision.REJECT: RequestStatus.REJECTED,
    Decision.REQUEST_INFO: RequestStatus.NEEDS_INFO,
}


class DecisionRefused(DomainError):
    """The request cannot be decided by this person now; the message says why."""


@dataclass(frozen=True)
class DecisionOutcome:
    decision: Decision
    status_before: RequestStatus
    status_after: RequestStatus
    rating_before: SellerRating
    rating_after: SellerRating


def decide(actor: User, deletion_request: DeletionRequest, decision: Decision, note: str,
           internal_note: str = "", reply_template: ReplyTemplate | None = None,
           evidence_shown: int | None = None) -> DecisionOutcome:
    """`note` is shown to the seller (the reason, or the question for request_info);
    `reply_template` is the template the note started from, if any (services/replies.py);
    `evidence_shown` is how many screenshots the decider's page showed, when known."""
    note, internal_note = note.strip(), internal_note.strip()
    if not deletion_request.is_open:
        raise DecisionRefused(f"This request is already {deletion_request.status.label.lower()}; "
                              "a decided request cannot be decided again.")
    refuse_first_decider(actor, deletion_request)
    if not holds(actor, deletion_request):
        raise DecisionRefused("Claim the request before deciding it: only its holder can decide.")
    if not note:
        raise DecisionRefused("Write the note the seller will see.")
    if reply_template is not None and not reply_template.fits(deletion_request.reason, decision):
        raise DecisionRefused("That reply template is for another decision or reason.")
    # Approving or rejecting unseen evidence is not a fair decision; asking a question is fine.
    if decision is not Decision.REQUEST_INFO and (waiting := processing_count(deletion_request.id)):
        files = "screenshot is" if waiting == 1 else "screenshots are"
        # Not "reload the page": after this refusal the page answers a POST, and reloading it
        # sends the same decision again, taken as soon as the files are ready, unseen.
        raise DecisionRefused(f"{waiting} {files} still being processed; approve or reject once "
                              "the evidence is shown: this page says when it is ready.")
    # A page opened while files were processing can be posted after they were stored (the job
    # adds evidence without changing the request): decide only on what the page showed.
    if decision is not Decision.REQUEST_INFO and evidence_shown is not None:
        added = stored_evidence_count(deletion_request.id) - evidence_shown
        if added > 0:
            raise DecisionRefused(
                f"{added} screenshot{'s were' if added != 1 else ' was'} added since this page was "
                "opened; look at the evidence above, then record the decision again.")

    status_before = deletion_request.status
    # An appeal's approve or reject is final; its request_info keeps it an appeal (appeals.py).
    on_appeal = deletion_request.on_appeal
    review = deletion_request.review
    rating_before = seller_rating(deletion_request.seller_id)
    now = utcnow()
    if decision is Decision.APPROVE:
        review.is_visible = False
    deletion_request.status = NEW_STATUS[decision]
    kind = MessageKind.INFO_REQUESTED if decision is Decision.REQUEST_INFO else MessageKind.DECISION
    db.session.add(RequestMessage(request=deletion_request, author=actor, kind=kind, body=note))
    if internal_note:
        db.session.add(RequestMessage(request=deletion_request, author=actor,
                                      kind=MessageKind.INTERNAL_NOTE, body=internal_note))
    if decision is Decision.REQUEST_INFO:
        deletion_request.waiting_since = now  # the seller's court now: the queue counts from here
    else:
        deletion_request.decided_at = now
        deletion_request.decided_by_id = actor.id
    record = decision_record(actor, deletion_request, decision, now)
    record.on_appeal = on_appeal
    db.session.add(record)
    # Whatever the decision, the request leaves this agent's hands.
    deletion_request.assignee_id = None
    deletion_request.lease_expires_at = None
    db.session.flush()  # version check: a concurrent decision makes this raise StaleDataError
    rating_after = seller_rating(deletion_request.seller_id)
    record_event("request.decided", actor=actor, request_id=deletion_request.id,
                 review_id=review.id, details={
                     "decision": decision.value,
                     "note": note,
                     "internal_note": internal_note,
                     "status_before": status_before.value,
                     "status_after": deletion_request.status.value,
                     "rating_before": asdict(rating_before),
                     "rating_after": asdict(rating_after),
                     **({"reply_template_id": reply_template.id} if reply_template else {}),
                     **({"appeal": True} if on_appeal else {}),
                 })
    # The seller's e-mail, in this transaction: sent after commit, never for a rolled-back decision.
    enqueue_notification(deletion_request, record, on_appeal=on_appeal)
    # The marketplace's events, likewise: delivered after commit, in order per review.
    enqueue_webhooks(deletion_request, record, note, on_appeal=on_appeal)
    return DecisionOutcome(decision, status_before, deletion_request.status, rating_before,
                           rating_after)


def decision_record(actor: User, deletion_request: DeletionRequest, decision: Decision,
                    now: datetime) -> DecisionRecord:
    """The decision's row for the dashboard. The deciding agent holds the request, so its
    claimed_at is when their claim began (claims.py sets it only when a new claim starts)."""
    claimed_at = deletion_request.claimed_at
    return DecisionRecord(
        request_id=deletion_request.id, agent_id=actor.id, decision=decision,
        reason=deletion_request.reason, submitted_at=deletion_request.submitted_at,
        claimed_at=claimed_at, decided_at=now,
        seconds_since_submission=whole_seconds(now - deletion_request.submitted_at),
        seconds_since_claim=None if claimed_at is None else whole_seconds(now - claimed_at),
    )


def whole_seconds(duration: timedelta) -> int:
    """Rounded down, like the migration's backfill."""
    return duration // timedelta(seconds=1)


def recorded_decision(deletion_request: DeletionRequest,
                      latest: dict[str, AuditEvent] | None = None) -> DecisionOutcome | None:
    """The request's last decision as its audit event recorded it (with the seller's rating
    before and after), or None if it was never decided. The event is the record: the rating
    may have moved since. `latest`: as for claims.taken_over_from."""
    if latest is None:
        latest = latest_events(deletion_request.id, DECIDED)
    event = latest.get(DECIDED)
    if event is None:
        return None
    details = json.loads(event.details)
    return DecisionOutcome(
        decision=Decision(details["decision"]),
        status_before=RequestStatus(details["status_before"]),
        status_after=RequestStatus(details["status_after"]),
        rating_before=SellerRating(**details["rating_before"]),
        rating_after=SellerRating(**details["rating_after"]),
    )


def add_note(actor: User, deletion_request: DeletionRequest, body: str,
             lease: timedelta) -> RequestMessage:
    """A staff-only note; never shown to the seller. The holder's note renews their lease."""
    body = body.strip()
    if not body:
        raise DomainError("Write a note first.")
    note = RequestMessage(request=deletion_request, author=actor, kind=MessageKind.INTERNAL_NOTE,
                          body=body)
    db.session.add(note)
    renew(actor, deletion_request, lease)
    db.session.flush()
    record_event("request.note_added", actor=actor, request_id=deletion_request.id,
                 review_id=deletion_request.review_id, details={"message_id": note.id})
    return note
