"""Deletion requests in tests: filed, answered and withdrawn through the real seller forms (multipart
posts with real images), or written straight to the database for lists and states the UI cannot
reach."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models import (
    DeletionRequest,
    MessageKind,
    Reason,
    RequestMessage,
    RequestStatus,
    Review,
    User,
)
from moderation_app.services.requests.filing import review_snapshot
from tests.helpers.clients import FormClient
from tests.helpers.images import image_bytes

EXPLANATION = "The buyer wrote about a logo, but this order was a website. The chat shows it."
QUESTION = "Please show the chat where the buyer names the other offer."
REQUEST_URL = re.compile(r"^/seller/requests/(\d+)$")
REQUEST_LINK = re.compile(r'href="/seller/requests/(\d+)"')
OPEN = [RequestStatus.SUBMITTED, RequestStatus.NEEDS_INFO, RequestStatus.APPEALED]
CLOSED = [RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.WITHDRAWN]


# --- through the seller's forms ------------------------------------------------------------------

def evidence_parts(files: list[tuple[bytes, str]]) -> list[tuple[io.BytesIO, str]]:
    return [(io.BytesIO(data), name) for data, name in files]


def submit(client: FormClient, review_id: str, /, *, reason: str | None = "wrong_offer",
           explanation: str | None = EXPLANATION, files: list[tuple[bytes, str]] | None = None,
           **extra: Any):
    """POSTs the deletion-request form; by default one valid PNG. None leaves a field out."""
    if files is None:
        files = [(image_bytes("PNG"), "chat.png")]
    data: dict[str, Any] = {"reason": reason, "explanation": explanation,
                            "evidence": evidence_parts(files), **extra}
    data = {key: value for key, value in data.items() if value is not None}
    return client.post_form(f"/seller/reviews/{review_id}/deletion-request", data,
                            content_type="multipart/form-data")


def submitted_id(response) -> int:
    assert response.status_code in (302, 303), response.get_data(as_text=True)
    match = REQUEST_URL.match(response.location)
    assert match, response.location
    return int(match.group(1))


def file_request(client: FormClient, review_id: str, /, **kwargs: Any) -> int:
    return submitted_id(submit(client, review_id, **kwargs))


def answer(client: FormClient, request_id: int, message: str | None = "Here is the chat.",
           files: list[tuple[bytes, str]] | None = None, **extra: Any):
    data: dict[str, Any] = {"evidence": evidence_parts(files or []), **extra}
    if message is not None:
        data["message"] = message
    return client.post_form(f"/seller/requests/{request_id}/evidence", data,
                            content_type="multipart/form-data")


# --- straight to the database --------------------------------------------------------------------

def add_request(app: Flask, seller: User, review_id: str, *,
                status: RequestStatus = RequestStatus.SUBMITTED,
                submitted_at: datetime | None = None, reason: Reason = Reason.WRONG_OFFER) -> int:
    """A request written straight to the database (for lists and states the UI cannot reach)."""
    with app.app_context():
        review = db.session.scalars(select(Review).where(Review.external_id == review_id)).one()
        deletion_request = DeletionRequest(
            review=review, seller_id=seller.id, buyer_id=review.buyer_id, reason=reason,
            explanation=EXPLANATION,
            review_snapshot=review_snapshot(review), status=status,
            submitted_at=submitted_at or datetime.now(UTC),
            # As decide() leaves it: the closed tabs of the queue list by decision time.
            decided_at=datetime.now(UTC)
            if status in (RequestStatus.APPROVED, RequestStatus.REJECTED) else None,
            appealed_at=datetime.now(UTC) if status is RequestStatus.APPEALED else None)
        db.session.add(deletion_request)
        db.session.commit()
        return deletion_request.id


def ask_for_information(app: Flask, request_id: int, agent: User, body: str = QUESTION) -> None:
    """The state an agent's "ask for more information" leaves, written directly."""
    with app.app_context():
        deletion_request = db.session.get(DeletionRequest, request_id)
        deletion_request.status = RequestStatus.NEEDS_INFO
        db.session.add(RequestMessage(request=deletion_request, kind=MessageKind.INFO_REQUESTED,
                                      body=body, author=db.session.get(User, agent.id)))
        db.session.commit()


def set_holder(app: Flask, request_id: int, user: User, *, lease_left: timedelta) -> None:
    """`user` holds the request, claimed an hour ago, with a lease ending `lease_left` from now
    (negative: a lease that has lapsed)."""
    now = datetime.now(UTC)
    with app.app_context():
        deletion_request = db.session.get(DeletionRequest, request_id)
        deletion_request.assignee_id = user.id
        deletion_request.claimed_at = now - timedelta(hours=1)
        deletion_request.lease_expires_at = now + lease_left
        db.session.commit()


def set_request_status(app: Flask, request_id: int, status: RequestStatus) -> None:
    with app.app_context():
        db.session.get(DeletionRequest, request_id).status = status
        db.session.commit()
