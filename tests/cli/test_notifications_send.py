"""`flask notifications send --once` against a real SMTP server on loopback: one e-mail per event
with the statement of reasons and the link (never the evidence, never the internal note), nothing
sent twice (not even by a job's round while the polling sender has the e-mail in flight), retries
with growing pauses after refusals, giving up, and nothing sent (but kept) without SMTP_URL. The sender killed mid-batch is in test_notifications_crash.py."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest

from moderation_app.extensions import db
from moderation_app.jobs.tasks import deliver_emails
from moderation_app.models import NotificationKind, NotificationStatus
from moderation_app.models.requests import DecisionRecord, DeletionRequest
from tests.helpers.notifications import INTERNAL_NOTE, PUBLIC_NOTE, decided, filed, outbox
from tests.helpers.smtp import Recorder, smtp_server

PUBLIC_URL = "https://desk.example.com"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def mail_server(app, recorder):
    with smtp_server(recorder) as port:
        app.config.update(SMTP_URL=f"smtp://127.0.0.1:{port}", PUBLIC_URL=PUBLIC_URL,
                          MAIL_FROM="Review moderation <no-reply@desk.example.com>")
        yield recorder


def send_once(runner):
    result = runner.invoke(args=["notifications", "send", "--once"])
    assert result.exit_code == 0, result.output
    return result


def test_a_rejection_is_mailed_once_with_its_statement_and_link(app, runner, mail_server, seller,
                                                                seller_client, agent_client):
    request_id = filed(app, seller_client, seller, screenshot="chat-with-buyer.png")
    decided(agent_client, request_id, "reject")

    assert "sent 1" in send_once(runner).output
    send_once(runner)  # nothing is due any more: never twice

    (mail,) = mail_server.received
    assert mail.recipients == [seller.email]
    assert mail.message["Subject"] == f"Your deletion request #{request_id} has been decided"
    assert mail.message["From"] == "Review moderation <no-reply@desk.example.com>"
    assert mail.message["Message-ID"].endswith("@desk.example.com>")
    assert mail.message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in mail.message.iter_parts()] == ["text/plain", "text/html"]
    link = f"{PUBLIC_URL}/seller/requests/{request_id}"
    (notification,) = outbox(app)
    with app.app_context():
        decided_at = db.session.get(DecisionRecord, notification.decision_id).decided_at
        snapshot = db.session.get(DeletionRequest, request_id).review_snapshot
    appeal_until = (decided_at + timedelta(days=14)).strftime("%Y-%m-%d %H:%M UTC")
    for body in (mail.text, mail.html):
        # Which review, as the seller knows it: the buyer, the offer, its first words.
        assert snapshot["review_id"] in body and snapshot["buyer"] in body
        assert snapshot["offer_title"] in body and snapshot["text"].split()[0] in body
        assert "Rejected: the review stays" in body
        assert "Blackmail" in body                      # the reason judged against
        assert "in exchange for the review" in body     # its rule (the reason's guidance)
        assert "chat-with-buyer.png" in body            # the facts considered, by name
        assert PUBLIC_NOTE in body
        assert f"appeal this decision once, until {appeal_until}" in body
        assert link in body
        assert INTERNAL_NOTE not in body
    # Never the evidence itself: no attachment, no image.
    assert not any(part.get_content_maintype() == "image" for part in mail.message.walk())
    assert list(mail.message.iter_attachments()) == []
    assert (notification.status, notification.attempts) == (NotificationStatus.SENT, 1)
    assert notification.sent_at is not None


def test_each_event_gets_its_own_single_email(app, runner, mail_server, seller, seller_client, agent_client):
    asked = filed(app, seller_client, seller)
    decided(agent_client, asked, "request_info", note="Please show the buyer's message with the demand.")
    approved = filed(app, seller_client, seller)
    decided(agent_client, approved, "approve", note="The demand is plain in the chat.")

    send_once(runner)
    send_once(runner)

    subjects = sorted(mail.message["Subject"] for mail in mail_server.received)
    assert subjects == [f"Deletion request #{asked}: we need more information",
                        f"Your deletion request #{approved} has been decided"]
    by_request = {mail.message["Subject"]: mail for mail in mail_server.received}
    question = by_request[subjects[0]]
    assert "Please show the buyer's message with the demand." in question.text
    assert f"{PUBLIC_URL}/seller/requests/{asked}" in question.html
    approval = by_request[subjects[1]]
    assert "Approved: the review is hidden" in approval.text
    assert "the review is hidden from your page" in approval.text
    assert "appeal" not in approval.text
    assert len(set(mail_server.message_ids())) == 2
    assert {row.kind for row in outbox(app)} == {NotificationKind.INFORMATION_REQUESTED,
                                                 NotificationKind.REQUEST_DECIDED}


def test_html_escapes_what_the_agent_wrote(app, runner, mail_server, seller, seller_client, agent_client):
    request_id = filed(app, seller_client, seller)
    decided(agent_client, request_id, "reject", note="See <b>this</b> & that.")

    send_once(runner)

    (mail,) = mail_server.received
    assert "See &lt;b&gt;this&lt;/b&gt; &amp; that." in mail.html
    assert "See <b>this</b> & that." in mail.text


def test_a_job_never_sends_the_email_the_polling_sender_has_in_flight(
        app, runner, mail_server, seller, seller_client, agent_client, caplog):
    # Were the job to connect, this server (busy in the hook) would not answer: fail in 2 s.
    app.config["SMTP_TIMEOUT_SECONDS"] = 2
    caplog.set_level(logging.INFO, logger="moderation_app.jobs.tasks")
    decided(agent_client, filed(app, seller_client, seller), "reject")

    def job_round(attempt: int) -> None:
        # While the server reads the sender's DATA, a decision's job runs a round in its own app
        # context, as the worker does.
        if attempt == 1:
            with app.app_context():
                deliver_emails()

    mail_server.on_data = job_round
    assert "sent 1" in send_once(runner).output

    assert "e-mails: sent 0, failed 0" in caplog.text  # the e-mail in flight was not due for it
    (notification,) = outbox(app)
    assert (notification.status, notification.attempts) == (NotificationStatus.SENT, 1)
    assert mail_server.attempts == 1 and len(mail_server.received) == 1


@pytest.mark.parametrize("recorder", [Recorder(refuse_first=2)])
def test_a_refusing_server_gets_retries_with_growing_pauses_then_one_email(
        app, runner, mail_server, seller, seller_client, agent_client):
    app.config.update(NOTIFICATION_RETRY_SECONDS=1, NOTIFICATION_MAX_ATTEMPTS=5)
    request_id = filed(app, seller_client, seller)
    decided(agent_client, request_id, "reject")

    assert "failed 1" in send_once(runner).output
    (first,) = outbox(app)
    assert (first.status, first.attempts) == (NotificationStatus.PENDING, 1)
    assert first.last_error.startswith("SMTPDataError: 451")
    assert (first.next_attempt_at - first.last_attempt_at).total_seconds() == 1

    send_once(runner)  # not due yet: the server sees nothing
    assert mail_server.attempts == 1

    time.sleep(1.1)
    send_once(runner)
    (second,) = outbox(app)
    assert (second.attempts, mail_server.attempts) == (2, 2)
    assert (second.next_attempt_at - second.last_attempt_at).total_seconds() == 2  # doubled

    time.sleep(2.1)
    send_once(runner)
    time.sleep(0.1)
    send_once(runner)

    (delivered,) = outbox(app)
    assert (delivered.status, delivered.attempts) == (NotificationStatus.SENT, 3)
    assert len(mail_server.received) == 1 and mail_server.attempts == 3


@pytest.mark.parametrize("recorder", [Recorder(refuse_first=99)])
def test_the_sender_gives_up_after_the_last_attempt_and_managers_see_it(
        app, runner, mail_server, seller, seller_client, agent_client, manager_client):
    app.config.update(NOTIFICATION_RETRY_SECONDS=0, NOTIFICATION_MAX_ATTEMPTS=2)
    request_id = filed(app, seller_client, seller)
    decided(agent_client, request_id, "reject")

    send_once(runner)
    assert "gave up" in send_once(runner).output

    (notification,) = outbox(app)
    assert (notification.status, notification.attempts) == (NotificationStatus.FAILED, 2)
    page = manager_client.get("/notifications").get_data(as_text=True)
    assert f"#{request_id}" in page
    assert "Gave up</strong> after 2 attempts" in page
    assert "451 4.3.0 Try again later" in page


def test_without_smtp_url_nothing_is_sent_and_managers_see_why(app, runner, seller, seller_client,
                                                                agent_client, manager_client):
    app.config["SMTP_URL"] = None
    request_id = filed(app, seller_client, seller)
    decided(agent_client, request_id, "reject")

    result = send_once(runner)

    assert "SMTP_URL is not set" in result.output
    (notification,) = outbox(app)
    assert (notification.status, notification.attempts) == (NotificationStatus.PENDING, 0)
    page = manager_client.get("/notifications").get_data(as_text=True)
    assert f"#{request_id}" in page and seller.email in page
    assert "No <code>SMTP_URL</code> configured" in page
