"""With REDIS_URL a decision enqueues a round of webhook delivery and one of e-mail, which a real RQ
worker (on the machine's Redis) runs at once: a loopback receiver gets the signed events and a
loopback SMTP server the seller's e-mail, with no polling sender. With Redis down the decision
still commits and `webhooks send` delivers later; without REDIS_URL nothing is enqueued."""

from __future__ import annotations

import pytest

from moderation_app.models import NotificationStatus, WebhookStatus
from tests.helpers.jobs import UNREACHABLE_REDIS_URL, job_queue
from tests.helpers.notifications import decided, filed, outbox
from tests.helpers.smtp import Recorder, smtp_server
from tests.helpers.webhooks import SECRET, Receiver, send_once, webhook_events, webhook_receiver


@pytest.fixture
def marketplace(app):
    receiver = Receiver()
    with webhook_receiver(receiver) as url:
        app.config.update(MARKETPLACE_WEBHOOK_URL=url, MARKETPLACE_WEBHOOK_SECRET=SECRET,
                          WEBHOOK_TIMEOUT_SECONDS=5)
        yield receiver


@pytest.fixture
def mail_server(app):
    recorder = Recorder()
    with smtp_server(recorder) as port:
        app.config.update(SMTP_URL=f"smtp://127.0.0.1:{port}")
        yield recorder


def test_a_decision_reaches_the_marketplace_and_the_seller_through_the_worker(
        app, runner, marketplace, mail_server, seller, seller_client, agent_client):
    request_id = filed(app, seller_client, seller)
    with job_queue(app) as queue:
        assert decided(agent_client, request_id, "approve").status_code in (302, 303)
        assert queue.count == 2  # one round of webhooks, one of e-mail
        assert marketplace.requests == [] and mail_server.received == []

        result = runner.invoke(args=["jobs", "worker", "--burst"])

        assert result.exit_code == 0, result.output
        assert queue.count == 0 and queue.failed_job_registry.count == 0
    assert marketplace.accepted_types() == ["request.decided", "review.removed"]
    assert all(delivery.verified for delivery in marketplace.requests)
    assert {event.status for event in webhook_events(app)} == {WebhookStatus.DELIVERED}
    [mail] = mail_server.received
    assert mail.recipients == [seller.email]
    assert [row.status for row in outbox(app)] == [NotificationStatus.SENT]


def test_with_redis_down_the_decision_commits_and_the_polling_sender_delivers_it(
        app, runner, marketplace, seller, seller_client, agent_client, caplog):
    request_id = filed(app, seller_client, seller)
    app.config.update(REDIS_URL=UNREACHABLE_REDIS_URL, JOBS_QUEUE="unreachable")

    response = decided(agent_client, request_id, "reject")

    assert response.status_code in (302, 303)
    assert "the polling sender will do it" in caplog.text
    assert {event.status for event in webhook_events(app)} == {WebhookStatus.PENDING}
    assert marketplace.requests == []
    send_once(runner)
    assert marketplace.accepted_types() == ["request.decided", "review.kept"]


def test_without_redis_a_decision_enqueues_nothing_and_sends_nothing_itself(
        app, marketplace, seller, seller_client, agent_client):
    request_id = filed(app, seller_client, seller)
    assert not app.config["REDIS_URL"]

    decided(agent_client, request_id, "approve")

    assert marketplace.requests == []
    assert {event.status for event in webhook_events(app)} == {WebhookStatus.PENDING}


def test_the_worker_command_refuses_to_start_without_redis(app, runner):
    result = runner.invoke(args=["jobs", "worker", "--burst"])

    assert result.exit_code == 1 and "REDIS_URL is not set" in result.output


def test_the_worker_command_says_in_one_line_that_redis_does_not_answer_at_start_up(app, runner):
    app.config.update(REDIS_URL="redis://:s3cret@127.0.0.1:1/0", JOBS_QUEUE="unreachable")

    result = runner.invoke(args=["jobs", "worker", "--burst"])

    assert result.exit_code == 1, result.output
    assert "cannot start: the job queue could not be reached (ConnectionError" in result.output
    assert "127.0.0.1:1" in result.output and "s3cret" not in result.output
