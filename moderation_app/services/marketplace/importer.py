"""Importing the marketplace's reviews from JSON Lines, in batches and bounded memory.

One line is one review with its order, offer, seller and buyer. A batch is checked line by line
against what the database holds and what earlier lines of the batch staged, then written with a
handful of set-based statements through staging tables (staging.py). The caller commits after
each batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy import insert, select

from moderation_app.extensions import db
from moderation_app.models.marketplace import Buyer, Offer, Order, Review
from moderation_app.models.users import Role, User
from moderation_app.services.marketplace import staging
from moderation_app.services.marketplace.lines import (  # noqa: F401  (re-exported for callers)
    MAX_LINE_BYTES,
    LineRejected,
    ReviewLine,
    parse_line,
    read_lines,
)

# Lines per batch and transaction: a dozen statements each, so large enough that round trips and
# commits vanish, small enough that the batch's rows stay a few tens of MB.
BATCH_SIZE = 10_000


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

    sellers: set[str] = field(default_factory=set)                         # emails known or staged
    new_sellers: list[str] = field(default_factory=list)
    buyers: set[str] = field(default_factory=set)
    new_buyers: list[str] = field(default_factory=list)
    offers: dict[str, dict[str, Any]] = field(default_factory=dict)        # ext id -> fields
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    # ext id -> (order ext id, (fulfillment, start time, communication, text, created_at))
    reviews: dict[str, tuple[str, tuple[Any, ...]]] = field(default_factory=dict)
    written_offers: set[str] = field(default_factory=set)                  # new or changed
    written_orders: set[str] = field(default_factory=set)
    written_reviews: set[str] = field(default_factory=set)


def _load_existing(lines: list[ReviewLine]) -> tuple[_Batch, dict[str, Role]]:
    """One query per table, each joined to the batch's staged keys."""
    staging.stage(db.session, staging.KEYS, (
        (line.review_id, line.order_id, line.offer_id, line.seller_email, line.buyer)
        for line in lines))
    keys = staging.KEYS.c
    # Core rows on the session's connection: the ORM's result wrapping would cost more than the
    # queries themselves at ten thousand rows.
    execute = db.session.connection().execute
    batch = _Batch()
    roles: dict[str, Role] = {}
    for email, role in execute(
        select(User.email, User.role).where(User.email.in_(select(keys.seller_email)))
    ):
        batch.sellers.add(email)
        roles[email] = role
    batch.buyers.update(username for username, in execute(
        select(Buyer.username).where(Buyer.username.in_(select(keys.buyer)))))
    for external_id, title, email in execute(
        select(Offer.external_id, Offer.title, User.email)
        .join(User, Offer.seller_id == User.id)
        .where(Offer.external_id.in_(select(keys.offer_id)))
    ):
        batch.offers[external_id] = {"title": title, "seller_email": email}
    for external_id, status, offer_ext, username in execute(
        select(Order.external_id, Order.status, Offer.external_id, Buyer.username)
        .join(Offer, Order.offer_id == Offer.id).join(Buyer, Order.buyer_id == Buyer.id)
        .where(Order.external_id.in_(select(keys.order_id)))
    ):
        batch.orders[external_id] = {"status": status, "offer": offer_ext, "buyer": username}
    for external_id, order_ext, *fields in execute(
        select(Review.external_id, Order.external_id,
               Review.rating_fulfillment, Review.rating_start_time, Review.rating_communication,
               Review.text, Review.created_at)
        .join(Order, Review.order_id == Order.id)
        .where(Review.external_id.in_(select(keys.review_id)))
    ):
        batch.reviews[external_id] = (order_ext, tuple(fields))
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
    if review is not None and review[0] != line.order_id:
        raise LineRejected(f"review {line.review_id} belongs to another order")

    # Accepted: nothing below can refuse the line.
    if line.seller_email not in batch.sellers:
        batch.sellers.add(line.seller_email)
        batch.new_sellers.append(line.seller_email)
    if line.buyer not in batch.buyers:
        batch.buyers.add(line.buyer)
        batch.new_buyers.append(line.buyer)
    changed = False
    if offer is None:
        batch.offers[line.offer_id] = {"title": line.offer_title, "seller_email": line.seller_email}
        batch.written_offers.add(line.offer_id)
    elif offer["title"] != line.offer_title:
        offer["title"] = line.offer_title
        batch.written_offers.add(line.offer_id)
        changed = True
    if order is None:
        batch.orders[line.order_id] = {"status": line.order_status, "offer": line.offer_id,
                                       "buyer": line.buyer}
        batch.written_orders.add(line.order_id)
    elif order["status"] != line.order_status:
        order["status"] = line.order_status
        batch.written_orders.add(line.order_id)
        changed = True
    fields = (line.fulfillment, line.start_time, line.communication, line.text, line.created_at)
    if review is None:
        batch.reviews[line.review_id] = (line.order_id, fields)
        batch.written_reviews.add(line.review_id)
        return "imported"
    if review[1] != fields:
        batch.reviews[line.review_id] = (line.order_id, fields)
        batch.written_reviews.add(line.review_id)
        changed = True
    return "updated" if changed else "unchanged"


def _write(batch: _Batch) -> int:
    """Write what the batch staged, parents before children. Returns sellers created."""
    if batch.new_sellers:
        # Few (a seller's first line), and Core applies the column defaults (session token).
        db.session.execute(insert(User.__table__),
                           [{"email": email, "role": Role.SELLER} for email in batch.new_sellers])
    staging.stage(db.session, staging.BUYERS, ((name,) for name in batch.new_buyers))
    staging.stage(db.session, staging.OFFERS, (
        (ext, batch.offers[ext]["title"], batch.offers[ext]["seller_email"])
        for ext in batch.written_offers))
    staging.stage(db.session, staging.ORDERS, (
        (ext, order["status"].value, order["offer"], order["buyer"])
        for ext in batch.written_orders for order in (batch.orders[ext],)))
    staging.stage(db.session, staging.REVIEWS, (
        (ext, order_ext, *fields)
        for ext in batch.written_reviews for order_ext, fields in (batch.reviews[ext],)))
    staging.write(db.session)
    return len(batch.new_sellers)


def apply_batch(lines: list[ReviewLine], stats: ImportStats, reject: Reject) -> None:
    """Stage and write one batch of parsed lines in the current transaction."""
    if not lines:
        return
    staging.prepare(db.session)
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
                   reject: Reject, batch_size: int | None = None) -> Iterator[list[ReviewLine]]:
    """Parse lines into batches of valid ones; blank lines are skipped, bad ones rejected."""
    batch_size = batch_size or BATCH_SIZE
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
