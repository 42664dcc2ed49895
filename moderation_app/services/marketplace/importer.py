"""Importing the marketplace's reviews from JSON Lines, in batches and bounded memory.

One line is one review with its order, offer, seller and buyer. A batch is checked line by line
against what the database holds and what earlier lines of the batch staged, then written with a
handful of bulk statements. The caller commits after each batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy import insert, select, update

from moderation_app.extensions import db
from moderation_app.models.marketplace import Buyer, Offer, Order, Review
from moderation_app.models.users import Role, User
from moderation_app.services.marketplace.lines import (  # noqa: F401  (re-exported for callers)
    MAX_LINE_BYTES,
    LineRejected,
    ReviewLine,
    parse_line,
    read_lines,
)

BATCH_SIZE = 1000


@dataclass
class ImportStats:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    sellers_created: int = 0

    def summary(self) -> str:
        return (f"imported {self.imported}, updated {self.updated}, "
                f"unchanged {self.unchanged}, rejected {self.rejected}")


Reject = Callable[[int, str], None]


# --- applying a batch --------------------------------------------------------------------------

@dataclass
class _Batch:
    """What the database holds for the batch's keys, plus what accepted lines staged."""

    seller_ids: dict[str, int | None] = field(default_factory=dict)        # email -> id (None: new)
    buyer_ids: dict[str, int | None] = field(default_factory=dict)
    offers: dict[str, dict[str, Any]] = field(default_factory=dict)        # ext id -> fields
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    reviews: dict[str, dict[str, Any]] = field(default_factory=dict)
    new_offers: set[str] = field(default_factory=set)
    new_orders: set[str] = field(default_factory=set)
    new_reviews: set[str] = field(default_factory=set)
    changed_offers: set[str] = field(default_factory=set)
    changed_orders: set[str] = field(default_factory=set)
    changed_reviews: set[str] = field(default_factory=set)


def _load_existing(lines: list[ReviewLine]) -> tuple[_Batch, dict[str, Role]]:
    batch = _Batch()
    emails = {line.seller_email for line in lines}
    roles: dict[str, Role] = {}
    for user_id, email, role in db.session.execute(
        select(User.id, User.email, User.role).where(User.email.in_(emails))
    ):
        batch.seller_ids[email] = user_id
        roles[email] = role
    for buyer_id, username in db.session.execute(
        select(Buyer.id, Buyer.username).where(Buyer.username.in_({line.buyer for line in lines}))
    ):
        batch.buyer_ids[username] = buyer_id
    for offer_id, external_id, title, email in db.session.execute(
        select(Offer.id, Offer.external_id, Offer.title, User.email)
        .join(User, Offer.seller_id == User.id)
        .where(Offer.external_id.in_({line.offer_id for line in lines}))
    ):
        batch.offers[external_id] = {"id": offer_id, "title": title, "seller_email": email}
    for order_id, external_id, status, offer_ext, username in db.session.execute(
        select(Order.id, Order.external_id, Order.status, Offer.external_id, Buyer.username)
        .join(Offer, Order.offer_id == Offer.id).join(Buyer, Order.buyer_id == Buyer.id)
        .where(Order.external_id.in_({line.order_id for line in lines}))
    ):
        batch.orders[external_id] = {"id": order_id, "status": status, "offer": offer_ext,
                                     "buyer": username}
    for row in db.session.execute(
        select(Review.id, Review.external_id, Order.external_id.label("order_ext"),
               Review.rating_fulfillment, Review.rating_start_time, Review.rating_communication,
               Review.text, Review.created_at)
        .join(Order, Review.order_id == Order.id)
        .where(Review.external_id.in_({line.review_id for line in lines}))
    ):
        batch.reviews[row.external_id] = {
            "id": row.id, "order": row.order_ext, "rating_fulfillment": row.rating_fulfillment,
            "rating_start_time": row.rating_start_time,
            "rating_communication": row.rating_communication, "text": row.text,
            "created_at": row.created_at,
        }
    return batch, roles


def _stage_line(batch: _Batch, roles: dict[str, Role], line: ReviewLine) -> str:
    """Check one line against the batch and stage its changes. Returns 'imported', 'updated'
    or 'unchanged'; raises LineRejected (staging nothing) when it conflicts."""
    role = roles.get(line.seller_email)
    if role is not None and role is not Role.SELLER:
        raise LineRejected(f"seller_email {line.seller_email} belongs to a staff account ({role.value})")
    offer = batch.offers.get(line.offer_id)
    if offer is not None and offer["seller_email"] != line.seller_email:
        raise LineRejected(f"offer {line.offer_id} belongs to another seller")
    order = batch.orders.get(line.order_id)
    if order is not None and (order["offer"], order["buyer"]) != (line.offer_id, line.buyer):
        raise LineRejected(f"order {line.order_id} belongs to another offer or buyer")
    review = batch.reviews.get(line.review_id)
    if review is not None and review["order"] != line.order_id:
        raise LineRejected(f"review {line.review_id} belongs to another order")

    # Accepted: nothing below can refuse the line.
    batch.seller_ids.setdefault(line.seller_email, None)
    batch.buyer_ids.setdefault(line.buyer, None)
    changed = False
    if offer is None:
        batch.offers[line.offer_id] = {"id": None, "title": line.offer_title,
                                       "seller_email": line.seller_email}
        batch.new_offers.add(line.offer_id)
    elif offer["title"] != line.offer_title:
        offer["title"] = line.offer_title
        batch.changed_offers.add(line.offer_id)
        changed = True
    if order is None:
        batch.orders[line.order_id] = {"id": None, "status": line.order_status,
                                       "offer": line.offer_id, "buyer": line.buyer}
        batch.new_orders.add(line.order_id)
    elif order["status"] != line.order_status:
        order["status"] = line.order_status
        batch.changed_orders.add(line.order_id)
        changed = True
    fields = {
        "rating_fulfillment": line.fulfillment, "rating_start_time": line.start_time,
        "rating_communication": line.communication, "text": line.text,
        "created_at": line.created_at,
    }
    if review is None:
        batch.reviews[line.review_id] = {"id": None, "order": line.order_id, **fields}
        batch.new_reviews.add(line.review_id)
        return "imported"
    if any(review[key] != value for key, value in fields.items()):
        review.update(fields)
        batch.changed_reviews.add(line.review_id)
        changed = True
    return "updated" if changed else "unchanged"


def _insert_returning_ids(model: type, key_column: str, rows: list[dict[str, Any]]) -> dict[str, int]:
    if not rows:
        return {}
    key = getattr(model, key_column)
    result = db.session.execute(insert(model).returning(model.id, key), rows)
    return {row_key: row_id for row_id, row_key in result}


def _write(batch: _Batch) -> int:
    """Write what the batch staged, parents before children. Returns sellers created."""
    new_emails = [email for email, user_id in batch.seller_ids.items() if user_id is None]
    batch.seller_ids.update(_insert_returning_ids(
        User, "email", [{"email": email, "role": Role.SELLER} for email in new_emails]))
    batch.buyer_ids.update(_insert_returning_ids(
        Buyer, "username",
        [{"username": name} for name, buyer_id in batch.buyer_ids.items() if buyer_id is None]))

    offer_ids = _insert_returning_ids(Offer, "external_id", [
        {"external_id": ext, "title": batch.offers[ext]["title"],
         "seller_id": batch.seller_ids[batch.offers[ext]["seller_email"]]}
        for ext in batch.new_offers])
    for ext, offer_id in offer_ids.items():
        batch.offers[ext]["id"] = offer_id
    if batch.changed_offers - batch.new_offers:
        db.session.execute(update(Offer), [
            {"id": batch.offers[ext]["id"], "title": batch.offers[ext]["title"]}
            for ext in batch.changed_offers - batch.new_offers])

    order_ids = _insert_returning_ids(Order, "external_id", [
        {"external_id": ext, "status": batch.orders[ext]["status"],
         "offer_id": batch.offers[batch.orders[ext]["offer"]]["id"],
         "buyer_id": batch.buyer_ids[batch.orders[ext]["buyer"]]}
        for ext in batch.new_orders])
    for ext, order_id in order_ids.items():
        batch.orders[ext]["id"] = order_id
    if batch.changed_orders - batch.new_orders:
        db.session.execute(update(Order), [
            {"id": batch.orders[ext]["id"], "status": batch.orders[ext]["status"]}
            for ext in batch.changed_orders - batch.new_orders])

    review_fields = ("rating_fulfillment", "rating_start_time", "rating_communication",
                     "text", "created_at")
    new_review_rows = []
    for ext in batch.new_reviews:
        review = batch.reviews[ext]
        order = batch.orders[review["order"]]
        new_review_rows.append({
            "external_id": ext, "order_id": order["id"],
            "seller_id": batch.seller_ids[batch.offers[order["offer"]]["seller_email"]],
            "buyer_id": batch.buyer_ids[order["buyer"]],
            **{key: review[key] for key in review_fields},
        })
    if new_review_rows:
        db.session.execute(insert(Review), new_review_rows)
    if batch.changed_reviews - batch.new_reviews:
        db.session.execute(update(Review), [
            {"id": batch.reviews[ext]["id"], **{key: batch.reviews[ext][key] for key in review_fields}}
            for ext in batch.changed_reviews - batch.new_reviews])
    return len(new_emails)


def apply_batch(lines: list[ReviewLine], stats: ImportStats, reject: Reject) -> None:
    """Stage and write one batch of parsed lines in the current transaction."""
    if not lines:
        return
    batch, roles = _load_existing(lines)
    for line in lines:
        try:
            outcome = _stage_line(batch, roles, line)
        except LineRejected as error:
            stats.rejected += 1
            reject(line.line_number, str(error))
            continue
        setattr(stats, outcome, getattr(stats, outcome) + 1)
    stats.sellers_created += _write(batch)


def parsed_batches(numbered_lines: Iterable[tuple[int, bytes | None]], stats: ImportStats,
                   reject: Reject, batch_size: int = BATCH_SIZE) -> Iterator[list[ReviewLine]]:
    """Parse lines into batches of valid ones; blank lines are skipped, bad ones rejected."""
    iterator = iter(numbered_lines)
    while chunk := list(islice(iterator, batch_size)):
        parsed = []
        for number, raw in chunk:
            if raw is None:
                stats.rejected += 1
                reject(number, f"line is longer than {MAX_LINE_BYTES} bytes")
                continue
            if not raw.strip():
                continue
            try:
                parsed.append(parse_line(number, raw))
            except LineRejected as error:
                stats.rejected += 1
                reject(number, str(error))
        yield parsed
