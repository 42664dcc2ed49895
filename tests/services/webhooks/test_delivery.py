"""deliver_due called directly, as a job runner would (no CLI): a clock of its own for the
give-up time, and on PostgreSQL two senders never take the same row nor a review's next event
while its earlier one is in flight (FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models import WebhookStatus
from moderation_app.services.webhooks.delivery import deliver_due
from moderation_app.services.webhooks.outbox import RetryPolicy, next_due
from moderation_app.services.webhooks.transport import WebhookTransport
from tests.helpers.database import TEST_DATABASE_URL, engine_options
from tests.helpers.notifications import decided, filed
from tests.helpers.webhooks import SECRET, Receiver, webhook_events, webhook_receiver


def test_retries_go_on_for_the_whole_give_up_time_then_stop(app, seller, seller_client, agent_client):
    decided(agent_client, filed(app, seller_client, seller), "request_info")
    policy = RetryPolicy(first_delay=timedelta(seconds=30), max_delay=timedelta(hours=1),
                         give_up_after=timedelta(hours=24))
    start = utcnow()
    now = [start]
    receiver = Receiver(fail_first=99)
    with webhook_receiver(receiver) as url, app.app_context():
        transport = WebhookTransport(url, SECRET, timeout=5)
        reports = []
        for hours in (0, 12, 23.9, 24):
            now[0] = start + timedelta(hours=hours)
            reports.append(deliver_due(transport, policy, commit=db.session.commit,
                                       clock=lambda: now[0]))

    assert [report.failed for report in reports] == [1, 1, 1, 1]
    assert [report.gave_up for report in reports[:3]] == [[], [], []] and reports[3].gave_up
    (event,) = webhook_events(app)
    assert event.status is WebhookStatus.FAILED and event.attempts == 4


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="SKIP LOCKED: PostgreSQL only")
def test_a_second_sender_skips_a_locked_event_and_its_reviews_later_ones(
        app, seller, seller_client, agent_client):
    decided(agent_client, filed(app, seller_client, seller), "approve")  # two events, one review
    decided(agent_client, filed(app, seller_client, seller), "request_info")  # another review
    first, second, other = webhook_events(app)
    options = engine_options()
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], connect_args=options["connect_args"])
    with engine.connect() as holder:  # the first sender, in flight on `first`
        holder.execute(text("SELECT id FROM webhook_events WHERE id = :id FOR UPDATE"), {"id": first.id})
        with app.app_context():
            chosen = next_due(utcnow(), skip_locked=True)
            taken = [chosen.id]
            db.session.rollback()
            assert next_due(utcnow(), skip_locked=True, exclude=taken) is None
            db.session.rollback()
        holder.rollback()
    engine.dispose()

    assert taken == [other.id]  # not `first` (locked), not `second` (behind it)
