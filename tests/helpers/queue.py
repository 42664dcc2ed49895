"""Requests as the staff queue sees them, written straight to the database with every column the
queue shows or sorts by under the test's control; and cursors a client might tamper with."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from itertools import count

from flask import Flask

from moderation_app.extensions import db
from moderation_app.models.evidence import Evidence
from moderation_app.models.marketplace import Buyer, Offer, Order, OrderStatus, Review
from moderation_app.models.requests import DeletionRequest, Reason, RequestStatus
from moderation_app.models.users import Role
from moderation_app.services.accounts import create_user
from moderation_app.services.requests.filing import review_snapshot

_serial = count(1)


def add_seller(app: Flask, email: str) -> int:
    """A seller without a password (these tests never sign in as one); returns the id."""
    with app.app_context():
        user = create_user(email, Role.SELLER)
        db.session.commit()
        return user.id


def queued_request(app: Flask, seller_id: int, submitted_at: datetime, *,
                   reason: Reason = Reason.BLACKMAIL, status: RequestStatus = RequestStatus.SUBMITTED,
                   text: str = "Terrible seller, never again", stars: tuple[int, int, int] = (1, 2, 3),
                   assignee_id: int | None = None, lease_expires_at: datetime | None = None,
                   evidence: int = 1, decided_at: datetime | None = None,
                   updated_at: datetime | None = None, waiting_since: datetime | None = None,
                   decided_by_id: int | None = None) -> int:
    """A request written as rows, on a fresh offer, order and review of the seller's (with the
    review's snapshot, as filing takes it), and `evidence` screenshot rows without files: every
    column the queue shows or sorts by can be set. `waiting_since` defaults to `submitted_at` (never
    answered); an approved or rejected request's `decided_at` to its `updated_at`."""
    serial = next(_serial)
    with app.app_context():
        buyer = Buyer(username=f"buyer-{serial}")
        offer = Offer(external_id=f"F-{serial}", title="Boosting", seller_id=seller_id)
        order = Order(external_id=f"O-{serial}", status=OrderStatus.FINISHED, offer=offer, buyer=buyer)
        fulfillment, start_time, communication = stars
        review = Review(external_id=f"R-{serial}", order=order, seller_id=seller_id, buyer=buyer,
                        rating_fulfillment=fulfillment, rating_start_time=start_time,
                        rating_communication=communication, text=text,
                        created_at=submitted_at - timedelta(days=1))
        request = DeletionRequest(review=review, seller_id=seller_id, reason=reason,
                                  explanation="The buyer asked for a discount in the chat.",
                                  review_snapshot=review_snapshot(review), status=status,
                                  submitted_at=submitted_at,
                                  assignee_id=assignee_id, lease_expires_at=lease_expires_at,
                                  claimed_at=lease_expires_at and lease_expires_at - timedelta(minutes=30),
                                  decided_at=decided_at or (
                                      (updated_at or submitted_at)
                                      if status in (RequestStatus.APPROVED, RequestStatus.REJECTED)
                                      else None),
                                  decided_by_id=decided_by_id,
                                  waiting_since=waiting_since or submitted_at,
                                  updated_at=updated_at or submitted_at)
        db.session.add(request)
        db.session.flush()
        for number in range(evidence):
            db.session.add(Evidence(
                request_id=request.id, uploaded_by_id=seller_id, original_filename=f"chat{number}.png",
                stored_name=f"s-{serial}-{number}", thumbnail_name=f"t-{serial}-{number}", format="png",
                width=10, height=10, byte_size=100, sha256=f"{serial:032x}{number:032x}",
                perceptual_hash=f"{serial:08x}{number:08x}"))
        db.session.commit()
        return request.id


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# Cursors a client could send instead of one the desk wrote: none may break a page.
BAD_CURSORS = [
    "", "x", "!!!!", "====", "a" * 500, "%00", "\x00",
    _b64("nothing"), _b64("2026-05-04T10:00:00+00:00"), _b64("2026-05-04T10:00:00+00:00|"),
    _b64("2026-05-04T10:00:00|5"),  # naive time
    _b64("2026-05-04T10:00:00+00:00|-5"), _b64("2026-05-04T10:00:00+00:00|0"),
    _b64("2026-05-04T10:00:00+00:00|5|6"), _b64("2026-05-04T10:00:00+00:00| 5"),
    _b64("2026-05-04T10:00:00+00:00|1_000"), _b64("2026-05-04T10:00:00+00:00|99999999999999999999"),
    _b64("0001-01-01T00:00:00+05:00|5"), _b64("yesterday|5"), _b64("{\"a\": 1}"),
    base64.urlsafe_b64encode(b"\xff\xfe|5").decode(),
]
