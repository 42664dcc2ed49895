"""Deletion requests a seller files against a review, the messages exchanged on them, and one
row per decision taken on them (the dashboard's figures are read from those)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, Enum, ForeignKey, Index, Integer, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from moderation_app.database import UTCDateTime, utcnow
from moderation_app.extensions import db
from moderation_app.models.marketplace import Buyer, Review
from moderation_app.models.users import User, enum_values

if TYPE_CHECKING:  # evidence.py imports this module
    from moderation_app.models.evidence import EvidenceUpload


class Reason(enum.StrEnum):
    """The four grounds the platform accepts for deleting a review, and nothing else."""

    COMPETITOR_ATTACK = "competitor_attack"
    WRONG_OFFER = "wrong_offer"
    BLACKMAIL = "blackmail"
    UNRELATED_FEEDBACK = "unrelated_feedback"

    @property
    def label(self) -> str:
        return REASON_TEXT[self][0]

    @property
    def short_label(self) -> str:
        """For tight places: chart axes and table headings."""
        return REASON_TEXT[self][2]

    @property
    def guidance(self) -> str:
        """What evidence fits this reason, in the words of the platform's help article."""
        return REASON_TEXT[self][1]

    @property
    def example(self) -> str:
        """A typical case, so a seller can tell the four apart before choosing."""
        return REASON_TEXT[self][3]


# label, guidance, short label, example
REASON_TEXT = {
    Reason.COMPETITOR_ATTACK: (
        "Competitors attacking your account",
        "Show that the reviewer acts for a competitor: e.g. chat or profile screenshots promoting "
        "another shop, or a burst of similar reviews from new buyers.",
        "Competitor attack",
        "Five one-star reviews in a day from new accounts, one of which links to a rival shop.",
    ),
    Reason.WRONG_OFFER: (
        "The review was meant for another offer",
        "Show the order and the chat, where the buyer clearly talks about a different offer or product.",
        "Another offer",
        "You sold a website, but the review complains that the logo had the wrong colours.",
    ),
    Reason.BLACKMAIL: (
        "Blackmail: the buyer demands extra services or discounts",
        "Show the chat where the buyer asks for extras, a discount or money in exchange for the review.",
        "Blackmail",
        "The buyer wrote in the chat: “Refund half or I leave one star.”",
    ),
    Reason.UNRELATED_FEEDBACK: (
        "Feedback unrelated to the offer",
        "Show that the review is about something outside your offer (the buyer's own setup, the "
        "platform, another purchase), e.g. with the offer page and the chat.",
        "Unrelated feedback",
        "The review blames you for the platform's payment fees or for the buyer's own slow laptop.",
    ),
}


class RequestStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    NEEDS_INFO = "needs_info"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    # A rejected request the seller appealed: back in the queue for another agent (issue 13).
    APPEALED = "appealed"

    @property
    def label(self) -> str:
        return {"needs_info": "Needs information"}.get(self.value, self.value.capitalize())


# An appeal is open: it is claimed, decided (by someone other than the first decider) or withdrawn
# like a fresh request, and no second request on the review may be filed meanwhile.
OPEN_STATUSES = frozenset({RequestStatus.SUBMITTED, RequestStatus.NEEDS_INFO,
                           RequestStatus.APPEALED})
FINAL_STATUSES = frozenset({RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.WITHDRAWN})

# The same set as SQL, for the partial index (statuses in declaration order, as migrated).
_OPEN_SQL = text("status IN ({})".format(
    ", ".join(f"'{status.value}'" for status in RequestStatus if status in OPEN_STATUSES)))
_WITHDRAWN_SQL = text(f"status = '{RequestStatus.WITHDRAWN.value}'")
_SUBMITTED_SQL = text(f"status = '{RequestStatus.SUBMITTED.value}'")


def _submitted_at(context: Any) -> datetime:
    return context.get_current_parameters()["submitted_at"]


class DeletionRequest(db.Model):
    __tablename__ = "deletion_requests"
    __table_args__ = (
        # At most one open request per review, enforced by the database itself.
        Index("uq_deletion_requests_open_review", "review_id", unique=True,
              sqlite_where=_OPEN_SQL, postgresql_where=_OPEN_SQL),
        # The queue: open requests oldest first, then by id for stable keyset pages.
        Index("ix_deletion_requests_status_submitted", "status", "submitted_at", "id"),
        # The submitted tab alone, in its order: with a seller filter PostgreSQL otherwise walks
        # the dashboard's index below from the oldest request (migration b4c5d6e7f8a9).
        Index("ix_deletion_requests_submitted_tab", "submitted_at", "id",
              sqlite_where=_SUBMITTED_SQL, postgresql_where=_SUBMITTED_SQL),
        # Closed tabs of the queue: newest decision first, keyset on (decided_at, id).
        Index("ix_deletion_requests_status_decided", "status", "decided_at", "id"),
        # A withdrawal records no decision; the withdrawn tab keys on (updated_at, id) instead.
        Index("ix_deletion_requests_withdrawn_updated", "updated_at", "id",
              sqlite_where=_WITHDRAWN_SQL, postgresql_where=_WITHDRAWN_SQL),
        # The API's changed requests (api/routes.py), oldest change first, keyset on (updated_at, id).
        Index("ix_deletion_requests_updated", "updated_at", "id"),
        # Counts per reason read only this index; a reason filter seeks straight to its rows.
        Index("ix_deletion_requests_status_reason_submitted", "status", "reason", "submitted_at", "id"),
        Index("ix_deletion_requests_seller_submitted", "seller_id", "submitted_at"),
        # The seller's open requests, newest first (/seller/requests' open tab): a few among
        # thousands closed.
        Index("ix_deletion_requests_seller_open_submitted", "seller_id", "submitted_at", "id",
              sqlite_where=_OPEN_SQL, postgresql_where=_OPEN_SQL),
        # The dashboard's requests per day and per seller in a period read only this index.
        Index("ix_deletion_requests_submitted_seller_status", "submitted_at", "seller_id", "status"),
        # The dashboard's reported buyers: the period's requests per buyer and seller, read from
        # this index alone.
        Index("ix_deletion_requests_submitted_buyer_seller", "submitted_at", "buyer_id", "seller_id"),
        # The dashboard's buyers signal: the period's requests of the current hour's buyers.
        Index("ix_deletion_requests_buyer_submitted", "buyer_id", "submitted_at", "seller_id"),
        # Live claims per (status, reason), from the index alone: the queue's assignee filter,
        # the backlog's claimed count, an agent's held requests.
        Index("ix_deletion_requests_assignee_lease", "assignee_id", "lease_expires_at", "status",
              "reason"),
        # The appealed tab: oldest appeal first, keyset on (appealed_at, id); the dashboard's
        # appeals per first decider from the index alone.
        Index("ix_deletion_requests_status_appealed", "status", "appealed_at", "id",
              "first_decided_by_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), index=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The review's buyer, copied when the request is filed (a review's buyer never changes), so
    # the dashboard counts requests per buyer without reading the reviews.
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyers.id"))
    reason: Mapped[Reason] = mapped_column(
        Enum(Reason, name="reason", native_enum=False, create_constraint=True,
             length=32, values_callable=enum_values)
    )
    explanation: Mapped[str] = mapped_column(Text)
    # The review as it stood when the request was filed; a later import may change the live one.
    review_snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[RequestStatus] = mapped_column(
        Enum(RequestStatus, name="request_status", native_enum=False, create_constraint=True,
             length=16, values_callable=enum_values),
        default=RequestStatus.SUBMITTED,
    )
    # The queue orders by this, and it does not move when the seller answers a question.
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the request last entered the agents' court: filing, or the seller's latest answer.
    # The queue's ages and its "over the response target" flag count from here. Declared after
    # submitted_at, whose value (given or defaulted) is the default here.
    waiting_since: Mapped[datetime] = mapped_column(UTCDateTime, default=_submitted_at)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # A claim is a lease: it lapses at lease_expires_at unless the holder's activity renews it.
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The seller's one appeal (services/requests/appeals.py): when, and who took the decision
    # appealed, who may then neither claim nor decide the appeal. decided_* keep the latest.
    appealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Optimistic lock: a stale writer's UPDATE matches no row and fails instead of overwriting.
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    review: Mapped[Review] = relationship()
    buyer: Mapped[Buyer] = relationship()
    seller: Mapped[User] = relationship(foreign_keys=[seller_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    first_decided_by: Mapped[User | None] = relationship(foreign_keys=[first_decided_by_id])
    messages: Mapped[list[RequestMessage]] = relationship(
        back_populates="request", order_by="RequestMessage.id"
    )
    # Large screenshots still processing, or that failed (services/evidence/processing.py).
    held_uploads: Mapped[list[EvidenceUpload]] = relationship(
        order_by="EvidenceUpload.id", viewonly=True
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def on_appeal(self) -> bool:
        """Appealed and not yet decided again (a question on the appeal keeps it one)."""
        return self.appealed_at is not None and self.is_open

    @validates("review")
    def _copy_buyer(self, _key: str, review: Review) -> Review:
        """The buyer follows the review, so no request can name another buyer than its review's
        (a review not yet flushed has only its buyer object)."""
        if review.buyer_id is not None:
            self.buyer_id = review.buyer_id
        else:
            self.buyer = review.buyer
        return review


class MessageKind(enum.StrEnum):
    INFO_REQUESTED = "info_requested"    # agent's question to the seller
    SELLER_REPLY = "seller_reply"        # seller's answer, possibly with more evidence
    DECISION = "decision"                # public reason for approve/reject
    WITHDRAWN = "withdrawn"              # seller closed the request (body: optional reason)
    INTERNAL_NOTE = "internal_note"      # staff only, never shown to the seller
    APPEAL = "appeal"                    # seller's appeal of a rejection, possibly with evidence


class RequestMessage(db.Model):
    __tablename__ = "request_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("deletion_requests.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[MessageKind] = mapped_column(
        Enum(MessageKind, name="message_kind", native_enum=False, create_constraint=True,
             length=16, values_callable=enum_values)
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    request: Mapped[DeletionRequest] = relationship(back_populates="messages")
    author: Mapped[User] = relationship()


class Decision(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_INFO = "request_info"

    @property
    def label(self) -> str:
        return {"approve": "Approve: delete the review", "reject": "Reject: keep the review",
                "request_info": "Ask the seller for more information"}[self.value]


FINAL_DECISIONS = frozenset({Decision.APPROVE, Decision.REJECT})


class DecisionRecord(db.Model):
    """One row per decision (approve, reject, request_info), written with the decision itself: a
    fact table the dashboard aggregates. Durations are whole seconds computed when the row is
    written, so no query needs a database's own date arithmetic."""

    __tablename__ = "decisions"
    __table_args__ = (
        # Final decisions in a period with the time they took (within the target, percentiles),
        # read from the index alone. Counts per day, agent and kind come from the day rollup
        # agent_day_decisions (models/counters.py).
        Index("ix_decisions_decision_decided", "decision", "decided_at", "reason",
              "seconds_since_submission"),
        # One agent's own figures; each agent's median claim-to-decision time, from the index alone.
        Index("ix_decisions_agent_decided_claim", "agent_id", "decided_at", "seconds_since_claim"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("deletion_requests.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[Decision] = mapped_column(
        Enum(Decision, name="decision", native_enum=False, create_constraint=True,
             length=16, values_callable=enum_values)
    )
    # The request's reason, copied: outcomes per reason need no join.
    reason: Mapped[Reason] = mapped_column(
        Enum(Reason, name="reason", native_enum=False, create_constraint=True,
             length=32, values_callable=enum_values)
    )
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the deciding agent's claim began; None when unknown (request_info rows from before
    # this table existed).
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seconds_since_submission: Mapped[int] = mapped_column(Integer)
    seconds_since_claim: Mapped[int | None] = mapped_column(Integer)
    # Taken on an appeal: the dashboard counts these apart (how often appeals overturn).
    on_appeal: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    request: Mapped[DeletionRequest] = relationship()
    agent: Mapped[User] = relationship()
