"""Which events a decision emits, and their bodies, composed in the decision's transaction.

| decision | events, in this order |
|---|---|
| approve (first, or on appeal) | `request.decided`, `review.removed` |
| reject (first, or on appeal) | `request.decided`, `review.kept` |
| request_info | `request.needs_info` |

Each body is the Standard Webhooks shape `{"type", "timestamp", "data"}`; `data.review_id` is the
marketplace's own id of the review. Never an internal note, an agent's identity or evidence."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from moderation_app.extensions import db
from moderation_app.models.requests import Decision, DecisionRecord, DeletionRequest
from moderation_app.models.webhooks import WebhookEvent, WebhookEventType
from moderation_app.services.requests.statement import APPEAL_WINDOW, RULE

# DSA Art. 20(1): the buyer whose review is removed may complain for at least six months.
BUYER_COMPLAINT_WINDOW = timedelta(days=183)
HOW_TO_CONTEST = (
    "You may contest this decision free of charge through the marketplace's complaint form "
    "until the date given. You may also turn to a certified out-of-court dispute settlement "
    "body or to the courts.")

EVENTS = {
    Decision.APPROVE: (WebhookEventType.REQUEST_DECIDED, WebhookEventType.REVIEW_REMOVED),
    Decision.REJECT: (WebhookEventType.REQUEST_DECIDED, WebhookEventType.REVIEW_KEPT),
    Decision.REQUEST_INFO: (WebhookEventType.REQUEST_NEEDS_INFO,),
}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _data(event_type: WebhookEventType, deletion_request: DeletionRequest,
          record: DecisionRecord, note: str, on_appeal: bool) -> dict[str, Any]:
    decided_at = record.decided_at
    common = {"review_id": deletion_request.review.external_id,
              "request_id": deletion_request.id, "decision_id": record.id,
              "reason": record.reason.value, "on_appeal": on_appeal}
    if event_type is WebhookEventType.REQUEST_NEEDS_INFO:
        return {**common, "asked_at": iso(decided_at)}
    # A first rejection may still be appealed by the seller; anything on appeal, or an approval, is final.
    appeal_until = (None if on_appeal or record.decision is not Decision.REJECT
                    else iso(decided_at + APPEAL_WINDOW))
    if event_type is WebhookEventType.REQUEST_DECIDED:
        return {**common, "decision": record.decision.value, "decided_at": iso(decided_at),
                "final": appeal_until is None, "seller_may_appeal_until": appeal_until}
    if event_type is WebhookEventType.REVIEW_KEPT:
        return {**common, "decided_at": iso(decided_at), "final": appeal_until is None,
                "seller_may_appeal_until": appeal_until}
    # review.removed: the statement of reasons the buyer is owed (DSA Art. 17).
    return {**common, "removed_at": iso(decided_at), "statement": {
        "reason": record.reason.value,
        "reason_label": record.reason.label,
        "rule": RULE,
        "reason_rule": record.reason.guidance,
        "public_note": note,
        "decided_at": iso(decided_at),
        "on_appeal": on_appeal,
        "how_to_contest": HOW_TO_CONTEST,
        "contest_until": iso(decided_at + BUYER_COMPLAINT_WINDOW),
    }}


def body(event_type: WebhookEventType, deletion_request: DeletionRequest, record: DecisionRecord,
         note: str, on_appeal: bool) -> str:
    payload = {"type": event_type.value, "timestamp": iso(record.decided_at),
               "data": _data(event_type, deletion_request, record, note, on_appeal)}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def enqueue_events(deletion_request: DeletionRequest, record: DecisionRecord, note: str, *,
                   on_appeal: bool = False) -> list[WebhookEvent]:
    """The decision's events, added to the caller's session (after `record` is flushed): they
    commit with the decision or not at all. `note` is the decision's public note."""
    events = [WebhookEvent(type=event_type, review_id=deletion_request.review_id,
                           request_id=deletion_request.id, decision_id=record.id,
                           payload=body(event_type, deletion_request, record, note, on_appeal))
              for event_type in EVENTS[record.decision]]
    # Flushed one by one, so ids follow the order above: delivery per review is in id order.
    for event in events:
        db.session.add(event)
        db.session.flush()
    return events
