"""/notifications: managers see every e-mail not yet accepted by a mail server, newest first, in
pages, each with why; delivered ones leave the list. (Who may open it: tests/views/test_access.py.)
Decisions through the real forms enqueue the seller's e-mail; a refused decision enqueues none."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models import Notification, NotificationStatus
from tests.helpers.clients import page_text
from tests.helpers.notifications import INTERNAL_NOTE, PUBLIC_NOTE, decided, filed, outbox


def set_outbox_state(app, notification_id: int, **values) -> None:
    with app.app_context():
        db.session.execute(update(Notification).where(Notification.id == notification_id).values(**values))
        db.session.commit()


def test_a_decision_through_the_form_enqueues_one_email(app, seller, seller_client, agent_client):
    request_id = filed(app, seller_client, seller)

    assert decided(agent_client, request_id, "reject").status_code in (302, 303)

    assert [(row.request_id, row.recipient_id) for row in outbox(app)] == [(request_id, seller.id)]


def test_a_refused_decision_through_the_form_enqueues_nothing(app, seller, seller_client, agent_client):
    request_id = filed(app, seller_client, seller)
    # Not claimed: the decision is refused and nothing is recorded.
    response = agent_client.post_form(f"/requests/{request_id}", {"decision": "reject", "note": "No."})

    assert response.status_code == 409
    assert outbox(app) == []


def test_managers_see_each_undelivered_email_with_its_reason(app, seller, seller_client, agent_client,
                                                              manager_client):
    app.config["SMTP_URL"] = "smtp://127.0.0.1:2525"
    waiting, retrying, given_up, delivered = (filed(app, seller_client, seller) for _ in range(4))
    for request_id in (waiting, retrying, given_up, delivered):
        decided(agent_client, request_id, "reject")
    rows = {row.request_id: row.id for row in outbox(app)}
    later = utcnow() + timedelta(minutes=4)
    set_outbox_state(app, rows[retrying], attempts=3, last_error="SMTPConnectError: 421 busy",
                     next_attempt_at=later)
    set_outbox_state(app, rows[given_up], attempts=8, status=NotificationStatus.FAILED,
                     last_error="SMTPRecipientsRefused: 550 no such user")
    set_outbox_state(app, rows[delivered], attempts=1, status=NotificationStatus.SENT, sent_at=utcnow())

    page = page_text(manager_client.get("/notifications"))

    assert "<strong>3</strong> waiting" not in page and "<strong>2</strong> waiting" in page
    assert "<strong>1</strong> given up" in page
    assert f">#{waiting}<" in page and "No attempt recorded yet" in page
    assert f">#{retrying}<" in page and "3 of 8 attempts failed" in page and "421 busy" in page
    assert f">#{given_up}<" in page and "Gave up</strong> after 8 attempts" in page
    assert "550 no such user" in page
    assert f">#{delivered}<" not in page
    assert "No <code>SMTP_URL</code> is configured" not in page


def test_the_list_comes_in_pages_newest_first(app, seller, seller_client, agent_client, manager_client):
    app.config["PAGE_SIZE"] = 2
    request_ids = [filed(app, seller_client, seller) for _ in range(3)]
    for request_id in request_ids:
        decided(agent_client, request_id, "approve", note="Fits.")

    first = page_text(manager_client.get("/notifications"))
    second = page_text(manager_client.get("/notifications?page=2"))

    assert f">#{request_ids[2]}<" in first and f">#{request_ids[1]}<" in first
    assert f">#{request_ids[0]}<" not in first
    assert f">#{request_ids[0]}<" in second and "Page 2 of 2" in second
    assert manager_client.get("/notifications?page=junk").status_code == 200
    assert "Every e-mail has been delivered" in page_text(manager_client.get("/notifications?page=99"))


# --- one e-mail as its seller receives it ---------------------------------------------------------

def test_a_manager_reads_an_email_as_the_seller_gets_it_without_internal_notes(
        app, seller, seller_client, agent_client, manager_client):
    request_id = filed(app, seller_client, seller, screenshot="buyer-asks-for-discount.png")
    decided(agent_client, request_id, "reject")
    (notification,) = outbox(app)

    page = page_text(manager_client.get("/notifications"))
    shown = manager_client.get(f"/notifications/{notification.id}")
    body = page_text(shown)
    framed = manager_client.get(f"/notifications/{notification.id}/message.html")
    html_part = framed.get_data(as_text=True)

    assert f'href="/notifications/{notification.id}"' in page
    assert shown.status_code == 200
    assert f"Your deletion request #{request_id} has been decided" in body
    assert seller.email in body and "no <code>SMTP_URL</code> is configured" in body
    assert f'src="/notifications/{notification.id}/message.html"' in body
    # The plain-text part, as sent: the statement of reasons with the files by name.
    assert PUBLIC_NOTE in body and "buyer-asks-for-discount.png" in body
    assert framed.status_code == 200 and framed.mimetype == "text/html"
    assert PUBLIC_NOTE in html_part and f"/seller/requests/{request_id}" in html_part
    # Framed by our own page only, with nothing to run and nothing to fetch.
    policy = framed.headers["Content-Security-Policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy and "frame-ancestors 'self'" in policy
    assert framed.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert shown.headers["X-Frame-Options"] == "DENY"
    for text in (body, html_part):
        assert INTERNAL_NOTE not in text


def test_a_delivered_email_can_be_read_too_and_an_unknown_one_is_404(
        app, seller, seller_client, agent_client, manager_client):
    request_id = filed(app, seller_client, seller)
    decided(agent_client, request_id, "approve", note="Fits the blackmail rule.")
    (notification,) = outbox(app)
    set_outbox_state(app, notification.id, attempts=1, status=NotificationStatus.SENT, sent_at=utcnow())

    body = page_text(manager_client.get(f"/notifications/{notification.id}"))

    assert "Accepted by the mail server" in body and "Fits the blackmail rule." in body
    assert manager_client.get(f"/notifications/{notification.id + 1}").status_code == 404
    assert manager_client.get(f"/notifications/{notification.id + 1}/message.html").status_code == 404


def test_one_failed_attempt_reads_as_one_attempt(app, seller, seller_client, agent_client,
                                                 manager_client):
    app.config["SMTP_URL"] = "smtp://127.0.0.1:2525"
    decided(agent_client, filed(app, seller_client, seller), "reject")
    (row,) = outbox(app)
    set_outbox_state(app, row.id, attempts=1, last_error="SMTPConnectError: 421 busy",
                     next_attempt_at=utcnow() + timedelta(minutes=4))

    page = page_text(manager_client.get(f"/notifications/{row.id}"))

    assert "1 attempt failed, next" in page and "1 attempts" not in page
