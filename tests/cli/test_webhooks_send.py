"""`flask webhooks send --once` against a real HTTP receiver on loopback that verifies each
signature with the `standardwebhooks` package: one signed delivery per event, a receiver failing
three times then succeeding gets it once with every attempt recorded, redirects and timeouts are
failures, events of a review arrive in order (a given-up one holds back the later ones until a
manager retries it), a job's round never posts the event the polling sender has in flight (nor its
review's next one), and nothing is sent (but kept) without MARKETPLACE_WEBHOOK_URL."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.jobs.tasks import deliver_webhooks
from moderation_app.models import AuditEvent, WebhookEvent, WebhookStatus
from tests.helpers.clients import page_text
from tests.helpers.database import TEST_DATABASE_URL
from tests.helpers.notifications import decided, filed
from tests.helpers.webhooks import SECRET, Receiver, send_once, webhook_events, webhook_receiver


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def marketplace(app, receiver):
    with webhook_receiver(receiver) as url:
        app.config.update(MARKETPLACE_WEBHOOK_URL=url, MARKETPLACE_WEBHOOK_SECRET=SECRET,
                          WEBHOOK_RETRY_SECONDS=0, WEBHOOK_TIMEOUT_SECONDS=5)
        yield receiver


def make_due(app) -> None:
    with app.app_context():
        db.session.execute(update(WebhookEvent).where(WebhookEvent.status == WebhookStatus.PENDING)
                           .values(next_attempt_at=utcnow()))
        db.session.commit()


def test_each_event_is_delivered_once_signed_with_its_fixed_body(app, runner, marketplace, seller,
                                                                 seller_client, agent_client):
    request_id = filed(app, seller_client, seller)
    decided(agent_client, request_id, "approve")

    before = int(time.time())
    assert "delivered 2" in send_once(runner)
    send_once(runner)  # nothing is due any more: never twice

    events = webhook_events(app)
    assert len(marketplace.requests) == 2
    assert all(delivery.verified for delivery in marketplace.requests)
    for event, delivery in zip(events, marketplace.requests, strict=True):
        assert delivery.body == event.payload  # byte for byte what the decision fixed
        assert delivery.headers["webhook-id"] == event.webhook_id
        assert before <= int(delivery.headers["webhook-timestamp"]) <= int(time.time())
        assert delivery.headers["webhook-signature"].startswith("v1,")
        assert delivery.headers["content-type"] == "application/json"
        assert (event.status, event.attempts) == (WebhookStatus.DELIVERED, 1)
        (attempt,) = event.attempt_log
        assert (attempt.status_code, attempt.succeeded, attempt.error) == (204, True, None)
        assert attempt.duration_ms >= 0
    assert marketplace.accepted_types() == ["request.decided", "review.removed"]


def test_a_wrong_secret_is_caught_by_the_receivers_verification(app, runner, marketplace, seller,
                                                                seller_client, agent_client):
    # The receiver's check is real: a desk signing with another key is refused (401).
    app.config["MARKETPLACE_WEBHOOK_SECRET"] = "whsec_" + "QUJD" * 8
    decided(agent_client, filed(app, seller_client, seller), "request_info")

    assert "failed 1" in send_once(runner)

    assert [delivery.verified for delivery in marketplace.requests] == [False]
    (event,) = webhook_events(app)
    assert event.status is WebhookStatus.PENDING and event.last_error.startswith("HTTP 401")


@pytest.mark.parametrize("receiver", [Receiver(fail_first=3)])
def test_a_receiver_failing_three_times_then_succeeding_gets_the_event_once(
        app, runner, marketplace, seller, seller_client, agent_client):
    decided(agent_client, filed(app, seller_client, seller), "request_info")

    for _ in range(5):
        send_once(runner)

    (event,) = webhook_events(app)
    assert [delivery.status for delivery in marketplace.requests] == [503, 503, 503, 204]
    assert len({delivery.headers["webhook-id"] for delivery in marketplace.requests}) == 1
    assert [delivery.payload["type"] for delivery in marketplace.accepted] == ["request.needs_info"]
    assert (event.status, event.attempts) == (WebhookStatus.DELIVERED, 4)
    assert [(attempt.status_code, attempt.succeeded) for attempt in event.attempt_log] == [
        (503, False), (503, False), (503, False), (204, True)]
    assert all(attempt.error.startswith("HTTP 503") for attempt in event.attempt_log[:3])
    times = [attempt.attempted_at for attempt in event.attempt_log]
    assert times == sorted(times)


def test_failures_back_off_exponentially(app, runner, seller, seller_client, agent_client):
    receiver = Receiver(fail_first=99)
    with webhook_receiver(receiver) as url:
        app.config.update(MARKETPLACE_WEBHOOK_URL=url, MARKETPLACE_WEBHOOK_SECRET=SECRET,
                          WEBHOOK_RETRY_SECONDS=60, WEBHOOK_RETRY_MAX_SECONDS=150)
        decided(agent_client, filed(app, seller_client, seller), "request_info")
        pauses = []
        for _ in range(4):
            send_once(runner)
            send_once(runner)  # not due yet: nothing more reaches the receiver
            (event,) = webhook_events(app)
            pauses.append((event.next_attempt_at - event.last_attempt_at).total_seconds())
            make_due(app)

    assert pauses == [60, 120, 150, 150]
    assert len(receiver.requests) == 4 and event.status is WebhookStatus.PENDING


@pytest.mark.parametrize("receiver", [Receiver(redirect_to="http://127.0.0.1:9/elsewhere")])
def test_a_redirect_is_a_failure_and_is_not_followed(app, runner, marketplace, seller,
                                                     seller_client, agent_client):
    decided(agent_client, filed(app, seller_client, seller), "request_info")

    assert "failed 1" in send_once(runner)

    (event,) = webhook_events(app)
    assert event.status is WebhookStatus.PENDING
    assert event.attempt_log[0].status_code == 302 and event.last_error.startswith("HTTP 302")


@pytest.mark.parametrize("receiver", [Receiver(delay=1.5)])
def test_a_slow_receiver_times_out(app, runner, marketplace, seller, seller_client, agent_client):
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 0.3
    decided(agent_client, filed(app, seller_client, seller), "request_info")

    send_once(runner)

    (event,) = webhook_events(app)
    (attempt,) = event.attempt_log
    assert attempt.status_code is None and "timed out" in attempt.error
    assert 250 <= attempt.duration_ms < 1500


@pytest.mark.parametrize("receiver", [Receiver(trickle=0.2)])
def test_a_receiver_trickling_its_answer_times_out_on_the_whole_attempt(
        app, runner, marketplace, seller, seller_client, agent_client):
    # Each read gets a byte well within the timeout, so a per-read timeout never fires: the
    # attempt would run for 4 s, past the lease that keeps other senders off the event.
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 0.5
    decided(agent_client, filed(app, seller_client, seller), "request_info")

    started = time.monotonic()
    send_once(runner)

    assert time.monotonic() - started < 2.5
    (event,) = webhook_events(app)
    (attempt,) = event.attempt_log
    assert attempt.status_code is None and "timed out" in attempt.error
    assert 450 <= attempt.duration_ms < 1500
    assert event.status is WebhookStatus.PENDING


@pytest.mark.parametrize("receiver", [Receiver(fail_first=1)])
def test_a_reviews_later_events_wait_for_its_earlier_ones(app, runner, marketplace, seller,
                                                          seller_client, agent_client):
    app.config["WEBHOOK_RETRY_SECONDS"] = 3600
    request_id = filed(app, seller_client, seller)
    decided(agent_client, request_id, "request_info", note="Please show the whole chat.")
    # The seller answers (the request is back in the queue), and it is decided.
    seller_client.post_form(f"/seller/requests/{request_id}/evidence", {"message": "Here it is."},
                            content_type="multipart/form-data")
    assert decided(agent_client, request_id, "approve").status_code == 303
    other = filed(app, seller_client, seller)
    decided(agent_client, other, "request_info")

    # The first event fails and waits an hour; its review's later two wait behind it, the
    # other review's event goes out.
    send_once(runner)
    assert [delivery.payload["type"] for delivery in marketplace.requests] == [
        "request.needs_info", "request.needs_info"]
    assert [delivery.payload["data"]["request_id"] for delivery in marketplace.accepted] == [other]

    make_due(app)
    send_once(runner)

    assert [(delivery.payload["type"], delivery.payload["data"]["request_id"])
            for delivery in marketplace.accepted] == [
        ("request.needs_info", other), ("request.needs_info", request_id),
        ("request.decided", request_id), ("review.removed", request_id)]


def test_a_job_never_posts_the_event_the_polling_sender_has_in_flight(
        app, runner, marketplace, seller, seller_client, agent_client, manager_client):
    decided(agent_client, filed(app, seller_client, seller), "approve")  # two events, one review
    decided(agent_client, filed(app, seller_client, seller), "request_info")  # another review
    first, second, other = webhook_events(app)
    seen = {}

    def job_round() -> None:
        # While the sender's POST of `first` waits for its answer, a decision's job runs a round
        # in its own app context, as the worker does.
        seen["at"], seen["first"] = utcnow(), webhook_events(app)[0]
        seen["page"] = page_text(manager_client.get(f"/webhooks/{first.id}"))
        with app.app_context():
            deliver_webhooks()

    marketplace.during_first = job_round
    assert "delivered 2" in send_once(runner)

    # The job took the other review's event only (answered while `first` was held): not `first`
    # (in flight), not `second` (behind it). Each event reached the marketplace once, a review's
    # in order.
    assert [delivery.headers["webhook-id"] for delivery in marketplace.requests] == [
        other.webhook_id, first.webhook_id, second.webhook_id]
    assert {event.status for event in webhook_events(app)} == {WebhookStatus.DELIVERED}
    assert "No attempt recorded yet" in seen["page"]  # in flight: not shown as a failure
    if not TEST_DATABASE_URL:
        # SQLite holds no row lock across the POST: the event was leased for 2 ×
        # WEBHOOK_TIMEOUT_SECONDS (5 s), at least a minute, by the commit before it.
        assert seen["first"].status is WebhookStatus.PENDING
        lease = seen["first"].next_attempt_at - seen["at"]
        assert timedelta(seconds=50) < lease <= timedelta(seconds=60)


@pytest.mark.parametrize("receiver", [Receiver(fail_first=99)])
def test_a_given_up_event_blocks_its_review_until_a_manager_retries_it(
        app, runner, marketplace, seller, seller_client, agent_client, manager_client):
    app.config["WEBHOOK_GIVE_UP_HOURS"] = 0  # the first failure gives up
    request_id = filed(app, seller_client, seller)
    decided(agent_client, request_id, "reject")

    assert "gave up on" in send_once(runner)
    send_once(runner)

    given_up, blocked = webhook_events(app)
    assert given_up.status is WebhookStatus.FAILED and blocked.status is WebhookStatus.PENDING
    assert len(marketplace.requests) == 1  # review.kept never went out before request.decided
    page = page_text(manager_client.get("/webhooks"))
    assert f"#{given_up.id} request.decided" in page and "Gave up</strong> after 1 attempts" in page
    assert f"Waiting behind <a href=\"/webhooks/{given_up.id}\">event #{given_up.id}</a>" in page
    assert "HTTP 503" in page

    # The retry needs the confirmation; without it nothing changes.
    refused = manager_client.post_form(f"/webhooks/{given_up.id}/retry", {})
    assert refused.status_code == 422 and "Tick the box" in page_text(refused)
    assert webhook_events(app)[0].status is WebhookStatus.FAILED

    marketplace.fail_first = 0
    response = manager_client.post_form(f"/webhooks/{given_up.id}/retry", {"confirm": "y"})
    assert response.status_code == 303 and response.location.endswith(f"/webhooks/{given_up.id}")
    with app.app_context():
        audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "webhook.retried")).one()
        assert audit.actor_role == "manager" and audit.request_id == request_id
        assert json.loads(audit.details)["webhook_id"] == given_up.webhook_id
    again = manager_client.post_form(f"/webhooks/{given_up.id}/retry", {"confirm": "y"})
    assert again.status_code == 409  # pending now: nothing to retry

    assert "delivered 2" in send_once(runner)
    assert marketplace.accepted_types() == ["request.decided", "review.kept"]
    assert "Every webhook has been delivered" in page_text(manager_client.get("/webhooks"))


def test_without_a_url_nothing_is_sent_and_managers_see_why(app, runner, seller, seller_client,
                                                            agent_client, manager_client):
    app.config["MARKETPLACE_WEBHOOK_URL"] = None
    decided(agent_client, filed(app, seller_client, seller), "approve")

    assert "MARKETPLACE_WEBHOOK_URL is not set" in runner.invoke(
        args=["webhooks", "send", "--once"]).output

    assert [(event.status, event.attempts) for event in webhook_events(app)] == [
        (WebhookStatus.PENDING, 0), (WebhookStatus.PENDING, 0)]
    page = page_text(manager_client.get("/webhooks"))
    assert "No <code>MARKETPLACE_WEBHOOK_URL</code> configured" in page
