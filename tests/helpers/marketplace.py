"""Marketplace data through the real import service (one commit per batch, as the import command
does), and the changes to it a test needs: hiding a review, changing an order's status."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import count
from typing import Any

from flask import Flask
from sqlalchemy import select, update

from moderation_app.extensions import db
from moderation_app.models import OrderStatus, Review, User
from moderation_app.services.marketplace.importer import ImportStats, apply_batch, parsed_batches

_serial = count(1)


def review_line(seller: User, stars: tuple[int, int, int] = (1, 2, 1), *,
                text: str = "Awful work, never again.",
                created_at: datetime = datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
                offer_title: str = "Three-page website", order_status: str = "finished",
                buyer: str | None = None) -> dict[str, Any]:
    """One JSON Lines record of the marketplace export, on a fresh order, offer and review id.
    `stars` are fulfillment, start time and communication."""
    serial = next(_serial)
    fulfillment, start_time, communication = stars
    return {
        "review_id": f"R-{1000 + serial}", "order_id": f"O-{1000 + serial}",
        "order_status": order_status, "offer_id": f"F-{1000 + serial}",
        "offer_title": offer_title, "seller_email": seller.email,
        "buyer": buyer or f"buyer{serial}",
        "ratings": {"fulfillment": fulfillment, "start_time": start_time,
                    "communication": communication},
        "text": text, "created_at": created_at.isoformat(),
    }


def import_reviews(app: Flask, lines: list[dict[str, Any]]) -> list[str]:
    """Through the real import service, one commit per batch; returns the review ids."""
    rejected: list[tuple[int, str]] = []
    stats = ImportStats()
    numbered = [(number, json.dumps(line).encode()) for number, line in enumerate(lines, 1)]
    with app.app_context():
        for batch in parsed_batches(numbered, stats, lambda n, why: rejected.append((n, why))):
            apply_batch(batch, stats, lambda n, why: rejected.append((n, why)))
            db.session.commit()
    assert rejected == []
    return [line["review_id"] for line in lines]


def add_review(app: Flask, seller: User, **fields: Any) -> str:
    """One imported review of `seller`'s (fields as for review_line); returns its id."""
    return import_reviews(app, [review_line(seller, **fields)])[0]


def hide_review(app: Flask, review_id: str) -> None:
    with app.app_context():
        db.session.execute(update(Review).where(Review.external_id == review_id).values(is_visible=False))
        db.session.commit()


def set_order_status(app: Flask, review_id: str, status: OrderStatus) -> None:
    with app.app_context():
        review = db.session.scalars(select(Review).where(Review.external_id == review_id)).one()
        review.order.status = status
        db.session.commit()
