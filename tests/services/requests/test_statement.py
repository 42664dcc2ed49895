"""The statement of reasons built from a decided request: the decision, the reason with its rule,
the files the agent had (not those sent later), the public note (never the internal one), the
date, and what the seller can do next."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models import DeletionRequest, Reason
from moderation_app.models.requests import Decision, DecisionRecord
from moderation_app.services.requests.statement import (
    APPEAL_WINDOW,
    NextStep,
    question_asked,
    statement_of_reasons,
)
from tests.helpers.images import image_bytes
from tests.helpers.notifications import INTERNAL_NOTE, PUBLIC_NOTE, decided, filed
from tests.helpers.requests import answer


def statement(app, request_id, **kwargs):
    with app.app_context():
        return statement_of_reasons(db.session.get(DeletionRequest, request_id), **kwargs)


def test_a_rejection_states_everything_and_offers_one_appeal_for_fourteen_days(
        app, seller, seller_client, agent_client):
    request_id = filed(app, seller_client, seller, screenshot="chat-with-buyer.png")
    decided(agent_client, request_id, "reject")

    result = statement(app, request_id)

    assert result.decision is Decision.REJECT and result.outcome == "Rejected: the review stays"
    assert result.reason is Reason.BLACKMAIL
    assert result.reason_rule == Reason.BLACKMAIL.guidance
    assert "evidence proves it" in result.rule
    assert result.evidence_names == ("chat-with-buyer.png",)
    assert result.public_note == PUBLIC_NOTE
    assert INTERNAL_NOTE not in repr(result)
    assert result.next_step is NextStep.APPEAL
    assert APPEAL_WINDOW == timedelta(days=14)
    assert result.appeal_until == result.decided_at + APPEAL_WINDOW


def test_an_approval_says_the_review_is_hidden_and_offers_no_appeal(app, seller, seller_client, agent_client):
    request_id = filed(app, seller_client, seller)
    decided(agent_client, request_id, "approve", note="The chat shows blackmail.")

    result = statement(app, request_id)

    assert result.outcome == "Approved: the review is hidden"
    assert (result.next_step, result.appeal_until) == (NextStep.REVIEW_HIDDEN, None)
    assert result.public_note == "The chat shows blackmail."


def test_the_facts_considered_include_answers_before_the_decision_only(app, seller, seller_client, agent_client):
    request_id = filed(app, seller_client, seller, screenshot="first.png")
    decided(agent_client, request_id, "request_info", note="Show the whole chat please.")
    answer(seller_client, request_id, "Here it is.", files=[(image_bytes("PNG"), "whole-chat.png")])
    decided(agent_client, request_id, "reject", note="Still no demand in the chat.")

    result = statement(app, request_id)

    assert result.evidence_names == ("first.png", "whole-chat.png")
    assert result.public_note == "Still no demand in the chat."
    with app.app_context():
        question = db.session.scalars(select(DecisionRecord).where(
            DecisionRecord.decision == Decision.REQUEST_INFO)).one()
        assert question_asked(question).question == "Show the whole chat please."


def test_a_decision_on_appeal_is_final(app, seller, seller_client, agent_client):
    request_id = filed(app, seller_client, seller)
    decided(agent_client, request_id, "reject")

    result = statement(app, request_id, on_appeal=True)

    assert (result.next_step, result.appeal_until) == (NextStep.FINAL, None)


def test_an_open_request_has_no_statement(app, seller, seller_client):
    assert statement(app, filed(app, seller_client, seller)) is None
