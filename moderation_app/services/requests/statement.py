"""The statement of reasons a seller gets for a decision (DSA Art. 17): what was decided, the rule
it was judged against, the facts considered, the agent's public note, when, and what the seller
can do next. Built from the rows a decision leaves (decisions, request_messages, evidence), never
from internal notes. The e-mails (services/notifications) and the seller's page both read it;
wording and dates are the templates' to format."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models.evidence import Evidence
from moderation_app.models.requests import (
    FINAL_DECISIONS,
    Decision,
    DecisionRecord,
    DeletionRequest,
    MessageKind,
    Reason,
    RequestMessage,
)

# A rejected request may be appealed once within this long of the decision (issue 13).
APPEAL_WINDOW = timedelta(days=14)

# The platform's help article: a review is deleted only on one of the four reasons, and only
# with evidence proving it. Reason.guidance says what evidence proves each.
RULE = ("A review is deleted only when it falls under one of the four reasons the platform "
        "accepts, and the seller's evidence proves it.")


class NextStep(enum.StrEnum):
    APPEAL = "appeal"              # rejected: the seller may appeal once, until appeal_until
    REVIEW_HIDDEN = "review_hidden"  # approved: nothing to do, the review is hidden
    FINAL = "final"                # a decision on an appeal: nothing further on the desk


@dataclass(frozen=True)
class StatementOfReasons:
    request_id: int
    decision: Decision
    reason: Reason
    evidence_names: tuple[str, ...]
    public_note: str
    decided_at: datetime
    next_step: NextStep
    appeal_until: datetime | None
    on_appeal: bool = False

    @property
    def outcome(self) -> str:
        return ("Approved: the review is hidden" if self.decision is Decision.APPROVE
                else "Rejected: the review stays")

    @property
    def reason_label(self) -> str:
        return self.reason.label

    @property
    def rule(self) -> str:
        return RULE

    @property
    def reason_rule(self) -> str:
        """What proves this reason, in the help article's terms."""
        return self.reason.guidance


@dataclass(frozen=True)
class Question:
    """An agent's request for information, as the seller is told it."""

    request_id: int
    reason: Reason
    question: str
    asked_at: datetime


def public_message(record: DecisionRecord,
                   messages: Sequence[RequestMessage] | None = None) -> RequestMessage | None:
    """The seller-facing message `record`'s decision wrote: decide() adds it in the same flush as
    the record, so it is the first of its kind written at or after the decision's time.
    `messages`: all of the request's messages, when the caller has them loaded."""
    kind = MessageKind.INFO_REQUESTED if record.decision is Decision.REQUEST_INFO \
        else MessageKind.DECISION
    if messages is not None:
        return min((message for message in messages
                    if message.kind is kind and message.created_at >= record.decided_at),
                   key=lambda message: (message.created_at, message.id), default=None)
    return db.session.scalars(
        select(RequestMessage)
        .where(RequestMessage.request_id == record.request_id, RequestMessage.kind == kind,
               RequestMessage.created_at >= record.decided_at)
        .order_by(RequestMessage.created_at, RequestMessage.id).limit(1)).first()


def last_final_decision(deletion_request: DeletionRequest) -> DecisionRecord | None:
    return db.session.scalars(
        select(DecisionRecord)
        .where(DecisionRecord.request_id == deletion_request.id,
               DecisionRecord.decision.in_(FINAL_DECISIONS))
        .order_by(DecisionRecord.decided_at.desc(), DecisionRecord.id.desc()).limit(1)).first()


def evidence_considered(request_id: int, decided_at: datetime,
                        evidence: Sequence[Evidence] | None = None) -> tuple[str, ...]:
    """The names of the files the agent had before them: those uploaded by the decision.
    `evidence`: all of the request's files, when the caller has them loaded."""
    if evidence is not None:
        return tuple(file.original_filename
                     for file in sorted(evidence, key=lambda file: file.id)
                     if file.created_at <= decided_at)
    return tuple(db.session.scalars(
        select(Evidence.original_filename)
        .where(Evidence.request_id == request_id, Evidence.created_at <= decided_at)
        .order_by(Evidence.id)))


def statement_of_reasons(deletion_request: DeletionRequest,
                         record: DecisionRecord | None = None, *,
                         on_appeal: bool = False,
                         evidence: Sequence[Evidence] | None = None) -> StatementOfReasons | None:
    """The statement for `record` (by default the request's latest approve or reject), or None
    for a request without a final decision. `on_appeal`: the decision settled an appeal, so it is
    final and the seller is not offered another appeal. `evidence`: the request's files, when the
    caller has them and its messages loaded (no statement is sent for either then)."""
    record = record or last_final_decision(deletion_request)
    if record is None or record.decision not in FINAL_DECISIONS:
        return None
    message = public_message(record, None if evidence is None else deletion_request.messages)
    if on_appeal:
        next_step, appeal_until = NextStep.FINAL, None
    elif record.decision is Decision.REJECT:
        next_step, appeal_until = NextStep.APPEAL, record.decided_at + APPEAL_WINDOW
    else:
        next_step, appeal_until = NextStep.REVIEW_HIDDEN, None
    return StatementOfReasons(
        request_id=deletion_request.id,
        decision=record.decision,
        reason=record.reason,
        evidence_names=evidence_considered(deletion_request.id, record.decided_at, evidence),
        public_note=message.body if message else "",
        decided_at=record.decided_at,
        next_step=next_step,
        appeal_until=appeal_until,
        on_appeal=on_appeal,
    )


def question_asked(record: DecisionRecord) -> Question:
    """The question a request_info decision put to the seller."""
    message = public_message(record)
    return Question(request_id=record.request_id, reason=record.reason,
                    question=message.body if message else "", asked_at=record.decided_at)
