"""Requests filed by a seller and decided by an agent through the real forms, and the outbox rows
they leave, for the notification tests."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models import Notification, User
from tests.helpers.clients import FormClient
from tests.helpers.images import image_bytes
from tests.helpers.marketplace import add_review
from tests.helpers.requests import file_request

PUBLIC_NOTE = "The screenshots show the buyer asking for a discount in exchange for the review."
INTERNAL_NOTE = "Seller has two earlier rejected requests; check the chat timestamps next time."


def filed(app: Flask, seller_client: FormClient, seller: User, *,
          screenshot: str = "chat-with-buyer.png") -> int:
    return file_request(seller_client, add_review(app, seller), reason="blackmail",
                        files=[(image_bytes("PNG"), screenshot)])


def decided(agent_client: FormClient, request_id: int, decision: str, *,
            note: str = PUBLIC_NOTE, internal_note: str = INTERNAL_NOTE):
    """Claims, then decides through the request page's form; returns the decision's response."""
    assert agent_client.post_form(f"/requests/{request_id}/claim").status_code in (302, 303)
    return agent_client.post_form(f"/requests/{request_id}/decision", {
        "decision": decision, "note": note, "internal_note": internal_note})


def outbox(app: Flask) -> list[Notification]:
    """Every notification, oldest first, detached with its columns loaded."""
    with app.app_context():
        rows = list(db.session.scalars(select(Notification).order_by(Notification.id)))
        for row in rows:
            db.session.expunge(row)
        return rows
