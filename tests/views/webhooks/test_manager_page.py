"""/webhooks: managers see undelivered events newest first in keyset pages, filtered by state,
with an empty state; one event's page shows its body and every attempt. (Who may open them:
tests/views/test_access.py; the retry itself: tests/cli/test_webhooks_send.py.)"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models import WebhookEvent, WebhookStatus
from tests.helpers.clients import page_text
from tests.helpers.notifications import decided, filed
from tests.helpers.webhooks import SECRET, webhook_events


def test_the_list_comes_in_keyset_pages_newest_first(app, seller, seller_client, agent_client,
                                                      manager_client):
    app.config["PAGE_SIZE"] = 2
    for _ in range(3):
        decided(agent_client, filed(app, seller_client, seller), "request_info")
    first_id, second_id, third_id = (event.id for event in webhook_events(app))

    first = page_text(manager_client.get("/webhooks"))
    assert f">#{third_id} request.needs_info<" in first and f">#{second_id} " in first
    assert f">#{first_id} " not in first
    older = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = page_text(manager_client.get(older))
    assert f">#{first_id} request.needs_info<" in second and f">#{third_id} " not in second
    assert manager_client.get("/webhooks?after=junk").status_code == 200
    assert f">#{first_id} " in page_text(manager_client.get("/webhooks?page=last"))


def test_the_filters_and_the_empty_state(app, seller, seller_client, agent_client, manager_client):
    assert "Every webhook has been delivered" in page_text(manager_client.get("/webhooks"))
    decided(agent_client, filed(app, seller_client, seller), "request_info")
    (event,) = webhook_events(app)

    assert "No webhook has been given up" in page_text(manager_client.get("/webhooks?status=failed"))
    assert f">#{event.id} " in page_text(manager_client.get("/webhooks?status=pending"))
    with app.app_context():
        db.session.execute(update(WebhookEvent).values(status=WebhookStatus.DELIVERED,
                                                       delivered_at=utcnow()))
        db.session.commit()
    assert "Every webhook has been delivered" in page_text(manager_client.get("/webhooks"))
    shown = page_text(manager_client.get(f"/webhooks/{event.id}"))
    assert "Delivered" in shown and "Retry the delivery" not in shown


def test_an_events_page_shows_its_body_and_the_nav_links_it(app, seller, seller_client,
                                                            agent_client, manager_client):
    decided(agent_client, filed(app, seller_client, seller), "request_info")
    (event,) = webhook_events(app)

    page = page_text(manager_client.get(f"/webhooks/{event.id}"))

    assert event.webhook_id in page and "request.needs_info" in page and "None yet." in page
    assert "Retry the delivery" not in page  # only a given-up event can be retried
    assert 'href="/webhooks"' in page_text(manager_client.get("/dashboard"))
    assert manager_client.get(f"/webhooks/{event.id + 1}").status_code == 404
    assert manager_client.post_form(f"/webhooks/{event.id + 1}/retry", {"confirm": "y"}).status_code == 404


def test_one_failed_attempt_reads_as_one_attempt(app, seller, seller_client, agent_client,
                                                 manager_client):
    app.config.update(MARKETPLACE_WEBHOOK_URL="http://127.0.0.1:9/hook",
                      MARKETPLACE_WEBHOOK_SECRET=SECRET)
    decided(agent_client, filed(app, seller_client, seller), "request_info")
    (event,) = webhook_events(app)
    with app.app_context():
        db.session.execute(update(WebhookEvent).values(
            attempts=1, last_error="HTTP 503 Service Unavailable", last_attempt_at=utcnow(),
            failing_since=utcnow(), next_attempt_at=utcnow() + timedelta(seconds=30)))
        db.session.commit()

    for page in (page_text(manager_client.get("/webhooks")),
                 page_text(manager_client.get(f"/webhooks/{event.id}"))):
        assert "1 attempt failed, next" in page and "1 attempts" not in page
