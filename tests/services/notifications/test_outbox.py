"""The outbox's rules without SMTP: a decision or a question enqueues the seller's e-mail in the
caller's transaction (rolled back with it, refused with it), one event never enqueues twice, and
a failed attempt backs off exponentially until the last allowed one gives up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from moderation_app.extensions import db
from moderation_app.models import DeletionRequest, Notification, NotificationKind, NotificationStatus, User
from moderation_app.models.requests import DecisionRecord
from moderation_app.services.notifications.outbox import (
    RetryPolicy,
    enqueue,
    next_due,
    record_failure,
)
from moderation_app.services.requests.decisions import Decision, DecisionRefused, decide
from tests.helpers.marketplace import add_review
from tests.helpers.notifications import outbox
from tests.helpers.requests import add_request, set_holder

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def held(app, seller, agent) -> int:
    request_id = add_request(app, seller, add_review(app, seller))
    set_holder(app, request_id, agent, lease_left=timedelta(minutes=20))
    return request_id


def deciding(app, agent, request_id, decision, note="Because of the chat."):
    """decide() in a fresh session; returns the session's own count of notifications before commit."""
    decide(db.session.get(User, agent.id), db.session.get(DeletionRequest, request_id), decision, note)
    db.session.flush()
    return db.session.scalar(select(func.count()).select_from(Notification))


@pytest.mark.parametrize(("decision", "kind"), [
    (Decision.APPROVE, NotificationKind.REQUEST_DECIDED),
    (Decision.REJECT, NotificationKind.REQUEST_DECIDED),
    (Decision.REQUEST_INFO, NotificationKind.INFORMATION_REQUESTED),
])
def test_a_decision_enqueues_the_sellers_email_when_it_commits(app, agent, seller, held, decision, kind):
    with app.app_context():
        assert deciding(app, agent, held, decision) == 1
        db.session.commit()

    (notification,) = outbox(app)
    assert (notification.kind, notification.request_id, notification.recipient_id) == (kind, held, seller.id)
    assert notification.status is NotificationStatus.PENDING and notification.attempts == 0
    with app.app_context():
        record = db.session.scalars(select(DecisionRecord)).one()
    assert notification.decision_id == record.id


def test_a_rolled_back_decision_leaves_no_email(app, agent, held):
    with app.app_context():
        assert deciding(app, agent, held, Decision.REJECT) == 1
        db.session.rollback()

    assert outbox(app) == []


def test_a_refused_decision_enqueues_nothing(app, agent, seller):
    unheld = add_request(app, seller, add_review(app, seller))
    with app.app_context(), pytest.raises(DecisionRefused):
        decide(db.session.get(User, agent.id), db.session.get(DeletionRequest, unheld),
               Decision.REJECT, "No claim.")
    assert outbox(app) == []


def test_one_event_cannot_be_enqueued_twice(app, agent, held):
    with app.app_context():
        deciding(app, agent, held, Decision.REJECT)
        db.session.commit()
    with app.app_context():
        record = db.session.scalars(select(DecisionRecord)).one()
        enqueue(db.session.get(DeletionRequest, held), record)
        with pytest.raises(IntegrityError, match="(?i)unique"):
            db.session.flush()
        db.session.rollback()
    assert len(outbox(app)) == 1


def test_the_delay_doubles_from_the_first_up_to_the_cap():
    policy = RetryPolicy(first_delay=timedelta(minutes=1), max_delay=timedelta(minutes=10), max_attempts=9)
    assert [policy.delay_after(n).total_seconds() // 60 for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_failures_back_off_and_the_last_allowed_attempt_gives_up(app, agent, held):
    with app.app_context():
        deciding(app, agent, held, Decision.REJECT)
        db.session.commit()
    policy = RetryPolicy(first_delay=timedelta(seconds=30), max_delay=timedelta(hours=1), max_attempts=3)
    with app.app_context():
        notification = next_due(NOW + timedelta(days=1), skip_locked=False)
        record_failure(notification, ConnectionRefusedError(111, "Connection refused"), NOW, policy)
        assert notification.next_attempt_at == NOW + timedelta(seconds=30)
        assert next_due(NOW + timedelta(seconds=29), skip_locked=False) is None
        assert next_due(NOW + timedelta(seconds=30), skip_locked=False) is notification
        record_failure(notification, ConnectionRefusedError(111, "Connection refused"), NOW, policy)
        assert notification.next_attempt_at == NOW + timedelta(seconds=60)
        record_failure(notification, TimeoutError("timed out"), NOW, policy)
        db.session.commit()

    (notification,) = outbox(app)
    assert notification.status is NotificationStatus.FAILED
    assert notification.attempts == 3
    assert notification.last_error == "TimeoutError: timed out"
    with app.app_context():
        assert next_due(NOW + timedelta(days=30), skip_locked=False) is None
