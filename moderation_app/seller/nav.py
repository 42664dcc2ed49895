"""What the seller's navigation shows on every page: how many of their requests wait on their
answer to an agent's question. Read from the seller's counters (services/counters.py), run only
when base.html asks for it (a seller's page) and at most once per request."""

from __future__ import annotations

from flask import g
from flask_login import current_user
from sqlalchemy import func, select

from moderation_app.extensions import db
from moderation_app.models.counters import SellerRequestCount
from moderation_app.models.requests import RequestStatus
from moderation_app.models.users import Role


def waiting_on_seller(seller_id: int) -> int:
    # Counting the rows read every request of the seller (15 ms for one with 5,000 on SQLite).
    return db.session.scalar(
        select(func.coalesce(func.sum(SellerRequestCount.requests), 0))
        .where(SellerRequestCount.seller_id == seller_id,
               SellerRequestCount.status == RequestStatus.NEEDS_INFO.value)) or 0


def seller_waiting_count() -> int:
    if not getattr(current_user, "is_authenticated", False) or current_user.role is not Role.SELLER:
        return 0
    if "seller_waiting_count" not in g:
        g.seller_waiting_count = waiting_on_seller(current_user.id)
    return g.seller_waiting_count


def known_waiting_count(count: int) -> None:
    """A page that has read the seller's counters anyway says what the navigation would read."""
    g.seller_waiting_count = count


def nav_helpers() -> dict[str, object]:
    """A context processor: the function, not its value, so pages that do not show the seller's
    navigation (staff pages, e-mails) run no query."""
    return {"seller_waiting_count": seller_waiting_count}
