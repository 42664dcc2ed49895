"""Data for the dashboard's figures, written straight to the database with every time chosen by
the test: requests (on a review by a chosen buyer), decision rows as decide() writes them, and
evidence files with chosen hashes, marked as reused as filing marks them. Times are exact, so figures can be computed by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count

from flask import Flask
from sqlalchemy import column, insert, inspect, select, table

from moderation_app.extensions import db
from moderation_app.models.evidence import Evidence
from moderation_app.models.marketplace import Buyer, Offer, Order, OrderStatus, Review
from moderation_app.models.requests import (
    Decision,
    DecisionRecord,
    DeletionRequest,
    Reason,
    RequestStatus,
)
from moderation_app.services.requests.filing import reuse_marks, review_snapshot

# "Today" of the figures' tests: the default period is 2026-05-02 to 2026-05-31.
NOW = datetime(2026, 5, 31, 12, 0, tzinfo=UTC)
_serial = count(1)


def at(text: str) -> datetime:
    """A UTC moment from 'YYYY-MM-DD HH:MM[:SS]'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class DeskData:
    """Writes rows into `app`'s database, each committed at once; every method returns the new
    row's id."""

    app: Flask

    def buyer(self, username: str | None = None) -> int:
        with self.app.app_context():
            buyer = Buyer(username=username or f"dash-buyer-{next(_serial)}")
            db.session.add(buyer)
            db.session.commit()
            return buyer.id

    def request(self, seller_id: int, submitted_at: datetime, *, reason: Reason = Reason.BLACKMAIL,
                status: RequestStatus = RequestStatus.SUBMITTED, buyer_id: int | None = None,
                assignee_id: int | None = None, lease_expires_at: datetime | None = None,
                claimed_at: datetime | None = None, decided_at: datetime | None = None,
                decided_by_id: int | None = None, appealed_at: datetime | None = None) -> int:
        serial = next(_serial)
        with self.app.app_context():
            buyer = (db.session.get(Buyer, buyer_id) if buyer_id is not None
                     else Buyer(username=f"dash-buyer-{serial}"))
            offer = Offer(external_id=f"DF-{serial}", title="Boosting", seller_id=seller_id)
            order = Order(external_id=f"DO-{serial}", status=OrderStatus.FINISHED, offer=offer,
                          buyer=buyer)
            review = Review(external_id=f"DR-{serial}", order=order, seller_id=seller_id,
                            buyer=buyer, rating_fulfillment=1, rating_start_time=1,
                            rating_communication=1, text="Never again",
                            created_at=submitted_at - timedelta(days=1))
            request = DeletionRequest(
                review=review, seller_id=seller_id, buyer=buyer, reason=reason,
                explanation="The buyer asked for a discount.", review_snapshot=review_snapshot(review),
                status=status, submitted_at=submitted_at, updated_at=submitted_at,
                assignee_id=assignee_id, lease_expires_at=lease_expires_at, claimed_at=claimed_at,
                decided_at=decided_at, decided_by_id=decided_by_id, appealed_at=appealed_at)
            missing = _missing_columns()
            if missing:
                return _insert_before_columns(review, request, missing)
            db.session.add(request)
            db.session.commit()
            return request.id

    def decision(self, request_id: int, agent_id: int, decision: Decision, decided_at: datetime, *,
                 claimed_at: datetime | None = None) -> int:
        """A decision row as decide() writes it, its durations computed from the request."""
        with self.app.app_context():
            request = db.session.get(DeletionRequest, request_id)
            record = DecisionRecord(
                request_id=request_id, agent_id=agent_id, decision=decision, reason=request.reason,
                submitted_at=request.submitted_at, claimed_at=claimed_at, decided_at=decided_at,
                seconds_since_submission=int((decided_at - request.submitted_at).total_seconds()),
                seconds_since_claim=(None if claimed_at is None
                                     else int((decided_at - claimed_at).total_seconds())))
            db.session.add(record)
            db.session.commit()
            return record.id

    def decided(self, seller_id: int, agent_id: int, decision: Decision, decided_at: datetime, *,
                hours: float = 1, reason: Reason = Reason.BLACKMAIL,
                claim_minutes: float | None = None) -> int:
        """A request submitted `hours` before `decided_at` and decided then by the agent (the
        request's status follows a final decision); returns the request's id."""
        status = {Decision.APPROVE: RequestStatus.APPROVED, Decision.REJECT: RequestStatus.REJECTED,
                  Decision.REQUEST_INFO: RequestStatus.NEEDS_INFO}[decision]
        final = decision is not Decision.REQUEST_INFO
        request_id = self.request(seller_id, decided_at - timedelta(hours=hours), reason=reason,
                                  status=status, decided_at=decided_at if final else None,
                                  decided_by_id=agent_id if final else None)
        claimed_at = None if claim_minutes is None else decided_at - timedelta(minutes=claim_minutes)
        self.decision(request_id, agent_id, decision, decided_at, claimed_at=claimed_at)
        return request_id

    def evidence(self, request_id: int, created_at: datetime, *, sha256: str | None = None,
                 phash: str | None = None) -> int:
        """A file stored now (marked reused against the files stored before it, whatever their
        times), dated `created_at`."""
        serial = next(_serial)
        # Led by "e", which no test's own hash is: a serial number alone once became a test's
        # "00000000000000ff".
        sha256, phash = sha256 or f"e{serial:063x}", phash or f"e{serial:015x}"
        with self.app.app_context():
            request = db.session.get(DeletionRequest, request_id)
            file = Evidence(
                request_id=request_id, uploaded_by_id=request.seller_id, original_filename="chat.png",
                stored_name=f"dash-{serial}", thumbnail_name=f"dash-t-{serial}", format="png",
                width=10, height=10, byte_size=100, sha256=sha256, perceptual_hash=phash,
                created_at=created_at, **reuse_marks(request_id, sha256, phash))
            db.session.add(file)
            db.session.commit()
            return file.id


def _missing_columns() -> set[str]:
    """The model's deletion_requests columns the database lacks yet (a migration test left it at
    an earlier revision: buyer_id came with e5c7a9d3b4f6, waiting_since with f7a1b2c3d4e5)."""
    present = {column["name"]
               for column in inspect(db.session.connection()).get_columns("deletion_requests")}
    return {column.key for column in DeletionRequest.__table__.columns} - present


def _insert_before_columns(review: Review, request: DeletionRequest, missing: set[str]) -> int:
    """The request's row without the `missing` columns (the mapper would name every column it
    knows)."""
    db.session.add(review)
    db.session.flush()
    values = {column.key: getattr(request, column.key)
              for column in DeletionRequest.__table__.columns if column.key not in missing}
    values["review_id"] = review.id
    if "buyer_id" in values:
        values["buyer_id"] = review.buyer_id
    values["version"] = values["version"] or 1
    if "waiting_since" not in missing:  # a default of the model's, computed only on flush
        values["waiting_since"] = values["waiting_since"] or request.submitted_at
    values = {key: value for key, value in values.items() if value is not None}
    # A bare table: the model's table would add its Python defaults, missing columns included.
    types = DeletionRequest.__table__.c
    old_table = table("deletion_requests", *(column(key, types[key].type) for key in values),
                      column("id", types["id"].type))
    request_id = db.session.execute(
        insert(old_table).values(values).returning(old_table.c.id)).scalar_one()
    db.session.commit()
    return request_id


def decision_rows(app: Flask) -> list[DecisionRecord]:
    with app.app_context():
        rows = list(db.session.scalars(select(DecisionRecord).order_by(DecisionRecord.id)))
        db.session.expunge_all()
        return rows
