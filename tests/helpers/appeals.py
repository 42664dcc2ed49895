"""Appeals in tests: a request filed and rejected through the real forms, appealed through the
seller's form, and a rejection moved back in time (the 14-day window)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models.requests import DecisionRecord, DeletionRequest, RequestMessage
from tests.helpers.clients import FormClient
from tests.helpers.images import image_bytes
from tests.helpers.marketplace import add_review
from tests.helpers.requests import evidence_parts, file_request

APPEAL = "The buyer's chat clearly names the logo offer; please look at the second screenshot again."
REJECTION_NOTE = "The screenshots do not show the buyer talking about another offer."


def decide(client: FormClient, request_id: int, decision: str, note: str = REJECTION_NOTE):
    """Claims, then decides through the request page's own form."""
    client.post_form(f"/requests/{request_id}/claim")
    return client.post_form(f"/requests/{request_id}", {"decision": decision, "note": note})


def rejected_request(app: Flask, seller, seller_client: FormClient, agent_client: FormClient) -> int:
    request_id = file_request(seller_client, add_review(app, seller),
                              files=[(image_bytes("PNG"), "chat-with-buyer.png")])
    response = decide(agent_client, request_id, "reject")
    assert response.status_code == 303, response.get_data(as_text=True)
    return request_id


def appeal(client: FormClient, request_id: int, message: str | None = APPEAL,
           files: list[tuple[bytes, str]] | None = None, headers: dict[str, str] | None = None):
    data: dict[str, Any] = {"evidence": evidence_parts(files or [])}
    if message is not None:
        data["message"] = message
    return client.post_form(f"/seller/requests/{request_id}/appeal", data,
                            content_type="multipart/form-data", headers=headers or {})


def appealed_request(app: Flask, seller, seller_client: FormClient,
                     agent_client: FormClient) -> int:
    request_id = rejected_request(app, seller, seller_client, agent_client)
    response = appeal(seller_client, request_id)
    assert response.status_code == 303, response.get_data(as_text=True)
    return request_id


def decided_days_ago(app: Flask, request_id: int, days: float) -> None:
    """Moves the request's decision (and its messages) back by `days`."""
    shift = timedelta(days=days)
    with app.app_context():
        request = db.session.get(DeletionRequest, request_id)
        rows = [*db.session.scalars(select(DecisionRecord).where(
            DecisionRecord.request_id == request_id)), *request.messages]
        for row in rows:
            if isinstance(row, DecisionRecord):
                row.decided_at -= shift
            else:
                row.created_at -= shift
        request.decided_at -= shift
        db.session.commit()
