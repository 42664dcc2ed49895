"""The decisions table: decide() writes one row per decision in the caller's transaction (none for
a refused or failed one), and the migration fills it from the decisions taken before it existed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select, text
from sqlalchemy.orm.exc import StaleDataError

from moderation_app.extensions import db
from moderation_app.models.requests import (
    Decision,
    DecisionRecord,
    DeletionRequest,
    MessageKind,
    Reason,
    RequestMessage,
    RequestStatus,
)
from moderation_app.models.users import Role, User
from moderation_app.services.requests.decisions import DecisionRefused, decide
from tests.helpers.dashboard import DeskData, at, decision_rows
from tests.helpers.database import database_at_revision
from tests.helpers.marketplace import add_review
from tests.helpers.requests import add_request, set_holder

SUBMITTED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def held(app, seller, agent) -> int:
    """A submitted request, held by the agent (claimed an hour ago)."""
    request_id = add_request(app, seller, add_review(app, seller), submitted_at=SUBMITTED,
                             reason=Reason.COMPETITOR_ATTACK)
    set_holder(app, request_id, agent, lease_left=timedelta(minutes=20))
    return request_id


def decided(app, actor: User, request_id: int, decision: Decision) -> None:
    with app.app_context():
        decide(db.session.get(User, actor.id), db.session.get(DeletionRequest, request_id), decision,
               "Because the chat shows it.")
        db.session.commit()


def test_each_decision_writes_one_row_with_its_times(app, agent, held):
    with app.app_context():
        claimed_at = db.session.get(DeletionRequest, held).claimed_at

    decided(app, agent, held, Decision.REQUEST_INFO)
    set_holder(app, held, agent, lease_left=timedelta(minutes=20))
    with app.app_context():
        second_claim = db.session.get(DeletionRequest, held).claimed_at
    decided(app, agent, held, Decision.APPROVE)

    asked, approved = decision_rows(app)
    with app.app_context():
        request = db.session.get(DeletionRequest, held)
        assert approved.decided_at == request.decided_at
    assert (asked.request_id, asked.agent_id, asked.decision, asked.reason) == (
        held, agent.id, Decision.REQUEST_INFO, Reason.COMPETITOR_ATTACK)
    assert asked.submitted_at == SUBMITTED and asked.claimed_at == claimed_at
    assert approved.decision is Decision.APPROVE and approved.claimed_at == second_claim
    for row in (asked, approved):
        assert row.seconds_since_submission == int((row.decided_at - SUBMITTED).total_seconds())
        assert row.seconds_since_claim == int((row.decided_at - row.claimed_at).total_seconds())
    assert 3600 <= approved.seconds_since_claim < 3700   # set_holder claims an hour back


def test_a_refused_decision_writes_no_row(app, agent, held, seller):
    other = add_request(app, seller, add_review(app, seller))   # nobody holds it

    with app.app_context(), pytest.raises(DecisionRefused):
        decide(db.session.get(User, agent.id), db.session.get(DeletionRequest, other),
               Decision.REJECT, "No.")
    decided(app, agent, held, Decision.REJECT)
    with app.app_context(), pytest.raises(DecisionRefused):
        decide(db.session.get(User, agent.id), db.session.get(DeletionRequest, held),
               Decision.APPROVE, "Again.")

    assert [(row.request_id, row.decision) for row in decision_rows(app)] == [(held, Decision.REJECT)]


def test_a_decision_that_loses_a_race_writes_no_row(app, agent, held):
    with app.app_context():
        request = db.session.get(DeletionRequest, held)
        actor = db.session.get(User, agent.id)
        # As if another agent's change had committed after we loaded the request: the row's
        # version moves past the one we hold (one writer at a time on SQLite, so in our session).
        db.session.execute(text("UPDATE deletion_requests SET version = version + 1 WHERE id = :id"),
                           {"id": held})
        with pytest.raises(StaleDataError):
            decide(actor, request, Decision.APPROVE, "Approved.")
        db.session.rollback()

    assert decision_rows(app) == []


# --- the migration's backfill ------------------------------------------------------------------

def test_the_migration_fills_the_decisions_table_from_earlier_decisions(tmp_path):
    with database_at_revision("c3a9e1f20b11", tmp_path) as app:
        with app.app_context():
            # timezone: NOT NULL until migration b2d9e4f60a17, and today's model leaves it None.
            seller, agent, manager = (User(email=f"{role.value}@example.com", role=role, timezone="UTC")
                                      for role in (Role.SELLER, Role.AGENT, Role.MANAGER))
            db.session.add_all([seller, agent, manager])
            db.session.commit()
            seller_id, agent_id, manager_id = seller.id, agent.id, manager.id
        desk = DeskData(app)
        approved = desk.request(seller_id, at("2026-05-01 10:00:00"), status=RequestStatus.APPROVED,
                                reason=Reason.WRONG_OFFER, claimed_at=at("2026-05-02 09:30:00"),
                                decided_at=at("2026-05-02 10:00:00.999"), decided_by_id=agent_id)
        rejected = desk.request(seller_id, at("2026-05-03 00:00:00"), status=RequestStatus.REJECTED,
                                decided_at=at("2026-05-04 01:02:03"), decided_by_id=manager_id)
        desk.request(seller_id, at("2026-05-03 00:00:00"), status=RequestStatus.WITHDRAWN)
        asked = desk.request(seller_id, at("2026-05-05 08:00:00"), status=RequestStatus.NEEDS_INFO,
                             claimed_at=at("2026-05-05 08:10:00"))
        with app.app_context():
            db.session.add(RequestMessage(request_id=asked, author_id=agent_id,
                                          kind=MessageKind.INFO_REQUESTED, body="Which chat?",
                                          created_at=at("2026-05-05 09:30:00")))
            db.session.add(RequestMessage(request_id=asked, author_id=agent_id,
                                          kind=MessageKind.INTERNAL_NOTE, body="Hm.",
                                          created_at=at("2026-05-05 09:31:00")))
            db.session.commit()
            upgrade()
            db.session.remove()

        rows = decision_rows(app)
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(DecisionRecord)) == 3

    assert [(row.request_id, row.agent_id, row.decision, row.reason) for row in rows] == [
        (approved, agent_id, Decision.APPROVE, Reason.WRONG_OFFER),
        (rejected, manager_id, Decision.REJECT, Reason.BLACKMAIL),
        (asked, agent_id, Decision.REQUEST_INFO, Reason.BLACKMAIL),
    ]
    first, second, third = rows
    assert (first.submitted_at, first.claimed_at, first.decided_at) == (
        at("2026-05-01 10:00:00"), at("2026-05-02 09:30:00"), at("2026-05-02 10:00:00.999"))
    assert (first.seconds_since_submission, first.seconds_since_claim) == (86400, 1800)  # down
    assert (second.claimed_at, second.seconds_since_claim) == (None, None)
    assert second.seconds_since_submission == 86400 + 3723
    # A question's claim is not known from the old data: a later claim may have replaced it.
    assert (third.decided_at, third.seconds_since_submission, third.claimed_at) == (
        at("2026-05-05 09:30:00"), 5400, None)
