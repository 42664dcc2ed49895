"""The marketplace's side of the JSON API: tokens made through the real service, and calls with
`Authorization: Bearer` from a client that carries no cookie."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models.audit import AuditEvent
from moderation_app.services.api_tokens import create_token


def issue_token(app: Flask, name: str = "marketplace") -> str:
    with app.app_context():
        token = create_token(name).token
        db.session.commit()
        return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post_reviews(client, token: str | None, records: Any, **kwargs):
    headers = bearer(token) if token else {}
    headers.update(kwargs.pop("headers", {}))
    return client.post("/api/v1/reviews", json=records, headers=headers, **kwargs)


def get_requests(client, token: str | None, **params: Any):
    return client.get("/api/v1/requests", query_string=params,
                      headers=bearer(token) if token else {})


def audit_events(app: Flask, action: str) -> list[AuditEvent]:
    with app.app_context():
        events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                         .order_by(AuditEvent.id)))
        db.session.expunge_all()
        return events
