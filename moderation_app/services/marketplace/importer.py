"""Importing the marketplace's reviews from JSON Lines, in batches and bounded memory.

One line is one review with its order, offer, seller and buyer. A batch is checked line by line
against what the database holds and what earlier lines of the batch staged, then written with a
handful of set-based statements through staging tables (staging.py). The caller commits after
each batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from operator import itemgetter
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from moderation_app.extensions import db
from moderation_app.models.marketplace import Buyer, Offer, Order, Review
from moderation_app.models.users import Role, User
from moderation_app.services.marketplace import staging
from moderation_app.services.marketplace.lines import (  # noqa: F401  (re-exported for callers)
    MAX_LINE_BYTES,
    LineRejected,
    ReviewLine,
    parse_line,
    parse_record,
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
# Told each accepted line's outcome: its number and IMPORTED, UPDATED or UNCHANGED.
Accept = Callable[[int, int], None]


# --- applying a batch --------------------------------------------------------------------------

_KEYS = staging.KEYS.c
# What the database holds for the batch's keys, one join each on the staged keys; read as the
# driver returns them (staging.fetch): plain strings for roles and statuses, stored times.
_EXISTING_SELLERS = select(User.email, User.role).where(User.email.in_(select(_KEYS.seller_email)))
_EXISTING_BUYERS = select(Buyer.username).where(Buyer.username.in_(select(_KEYS.buyer)))
# Each in its staging table's column order, so a row read is a row to write back.
_EXISTING_OFFERS = (
    select(Offer.external_id, Offer.title, User.email)
    .join(User, Offer.seller_id == User.id)
    .where(Offer.external_id.in_(select(_KEYS.offer_id))))
_EXISTING_ORDERS = (
    select(Order.external_id, Order.status, Offer.external_id, Buyer.username)
    .join(Offer, Order.offer_id == Offer.id).join(Buyer, Order.buyer_id == Buyer.id)
    .where(Order.external_id.in_(select(_KEYS.order_id))))
_EXISTING_REVIEWS = (
    select(Review.external_id, Order.external_id,
           Review.rating_fulfillment, Review.rating_start_time, Review.rating_communication,
           Review.text, Review.created_at)
    .join(Order, Review.order_id == Order.id)
    .where(Review.external_id.in_(select(_KEYS.review_id))))
_LINE_KEYS = itemgetter(1, 2, 4, 6, 7)  # review, order, offer, seller email, buyer: KEYS's columns
_SELLER = Role.SELLER.value
IMPORTED, UPDATED, UNCHANGED = range(3)


class _Batch:
    """What the database holds for the batch's keys, plus what accepted lines staged. Offers,
    orders and reviews are rows in their staging table's column order (stored times)."""

    def __init__(self, session: Session) -> None:
        self.roles: dict[str, str] = dict(staging.fetch(session, _EXISTING_SELLERS))  # + staged
        self.new_sellers: list[str] = []
        self.buyers = {username for username, in staging.fetch(session, _EXISTING_BUYERS)}
        self.new_buyers: list[str] = []
        self.offers = {row[0]: row for row in staging.fetch(session, _EXISTING_OFFERS)}
        self.orders = {row[0]: row for row in staging.fetch(session, _EXISTING_ORDERS)}
        self.reviews = {row[0]: row for row in staging.fetch(session, _EXISTING_REVIEWS)}
        # New or changed rows to write, by external id (the last line's row wins).
        self.written_offers: dict[str, tuple[Any, ...]] = {}
        self.written_orders: dict[str, tuple[Any, ...]] = {}
        self.written_reviews: dict[str, tuple[Any, ...]] = {}


def _stage_line(batch: _Batch, line: ReviewLine, created_at: Any) -> int:
    """Check one line against the batch and stage its changes. Returns IMPORTED, UPDATED or
    UNCHANGED; raises LineRejected (staging nothing) when it conflicts. created_at is the
    line's, as staging.stored_time() gives it."""
    (_, review_id, order_id, status, offer_id, title, email, buyer,
     fulfillment, start_time, communication, text, _) = line
    role = batch.roles.get(email)
    if role is not None and role != _SELLER:
        raise LineRejected(f"seller_email {email} belongs to a staff account ({role})")
    offer = batch.offers.get(offer_id)
    if offer is not None and offer[2] != email:
        raise LineRejected(f"offer {offer_id} belongs to another seller")
    order = batch.orders.get(order_id)
    if order is not None and (order[2] != offer_id or order[3] != buyer):
        raise LineRejected(f"order {order_id} belongs to another offer or buyer")
    review = batch.reviews.get(review_id)
    if review is not None and review[1] != order_id:
        raise LineRejected(f"review {review_id} belongs to another order")

    # Accepted: nothing below can refuse the line.
    if role is None:
        batch.roles[email] = _SELLER
        batch.new_sellers.append(email)
    if buyer not in batch.buyers:
        batch.buyers.add(buyer)
        batch.new_buyers.append(buyer)
    changed = False
    if offer is None or offer[1] != title:
        changed = offer is not None
        batch.offers[offer_id] = batch.written_offers[offer_id] = (offer_id, title, email)
    status = status.value
    if order is None or order[1] != status:
        changed = changed or order is not None
        batch.orders[order_id] = batch.written_orders[order_id] = (order_id, status, offer_id, buyer)
    row = (review_id, order_id, fulfillment, start_time, communication, text, created_at)
    if review is None:
        batch.reviews[review_id] = batch.written_reviews[review_id] = row
        return IMPORTED
    if review != row and not _same_review(review, row):
        batch.reviews[review_id] = batch.written_reviews[review_id] = row
        changed = True
    return UPDATED if changed else UNCHANGED


def _same_review(stored: tuple[Any, ...], row: tuple[Any, ...]) -> bool:
    """Equal but for how the time is written: a row stored otherwise than stored_time() writes
    (by hand, or another version) still holds the same time."""
    if stored[:6] != row[:6] or not isinstance(stored[6], str) or not isinstance(row[6], str):
        return False
    try:
        return datetime.fromisoformat(stored[6]) == datetime.fromisoformat(row[6])
    except ValueError:
        return False


def _write(session: Session, batch: _Batch) -> int:
    """Write what the batch staged, parents before children. Returns sellers created."""
    if batch.new_sellers:
        # Few (a seller's first line), and Core applies the column defaults (session token).
        session.execute(insert(User.__table__),
                        [{"email": email, "role": Role.SELLER} for email in batch.new_sellers])
    staging.stage(session, staging.BUYERS, ((name,) for name in batch.new_buyers))
    staging.stage(session, staging.OFFERS, batch.written_offers.values())
    staging.stage(session, staging.ORDERS, batch.written_orders.values())
    staging.stage(session, staging.REVIEWS, batch.written_reviews.values())
    staging.write(session)
    return len(batch.new_sellers)


def apply_batch(lines: list[ReviewLine], stats: ImportStats, reject: Reject,
                accept: Accept | None = None) -> None:
    """Stage and write one batch of parsed lines in the current transaction; `accept`, if
    given, hears each accepted line's outcome (the API answers per record)."""
    if not lines:
        return
    session = db.session
    staging.prepare(session)
    staging.stage(session, staging.KEYS, map(_LINE_KEYS, lines))
    batch = _Batch(session)
    stored_time = staging.stored_time(session)
    counts = [0, 0, 0]
    for line in lines:
        try:
            outcome = _stage_line(batch, line, stored_time(line.created_at))
        except LineRejected as error:
            stats.rejected += 1
            reject(line.line_number, str(error))
            continue
        counts[outcome] += 1
        if accept is not None:
            accept(line.line_number, outcome)
    stats.imported += counts[IMPORTED]
    stats.updated += counts[UPDATED]
    stats.unchanged += counts[UNCHANGED]
    stats.sellers_created += _write(session, batch)


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


# --- the API's calls ---------------------------------------------------------------------------

# Records per API call: one batch, answered record by record in one response.
MAX_RECORDS_PER_CALL = 1_000
_STATUS = {IMPORTED: "created", UPDATED: "updated", UNCHANGED: "unchanged"}


@dataclass(frozen=True)
class RecordOutcome:
    index: int
    status: str  # created, updated, unchanged or rejected
    errors: tuple[str, ...] = ()


def apply_records(records: list[Any], stats: ImportStats) -> list[RecordOutcome]:
    """Decoded records (the API's JSON array, at most MAX_RECORDS_PER_CALL) checked by the same
    rules as a file's lines (parse_record) and applied as one batch in the current transaction,
    in order: a rejected record is answered with why, the others are applied, as the importer
    does with a file's lines. Indexes count from 0."""
    if len(records) > MAX_RECORDS_PER_CALL:
        raise ValueError(f"at most {MAX_RECORDS_PER_CALL} records per call")
    outcomes: dict[int, RecordOutcome] = {}

    def reject(index: int, reason: str) -> None:
        outcomes[index] = RecordOutcome(index, "rejected", (reason,))

    def accept(index: int, outcome: int) -> None:
        outcomes[index] = RecordOutcome(index, _STATUS[outcome])

    parsed = []
    for index, record in enumerate(records):
        try:
            parsed.append(parse_record(index, record))
        except LineRejected as error:
            stats.rejected += 1
            reject(index, str(error))
    apply_batch(parsed, stats, reject, accept)
    return [outcomes[index] for index in range(len(records))]
