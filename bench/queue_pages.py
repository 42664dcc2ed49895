"""Benchmark: the staff queue's pages on a desk with a million deletion requests.

    .venv/bin/python bench/queue_pages.py [--requests 1000000] [--open 100000] [--database-url URL]

Builds a fresh database with the real migrations (default: a SQLite file in a temp folder; with
--database-url, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/bench, an EMPTY database it may fill),
fills it with Core bulk inserts (one review, order and request per row, most requests long decided,
--open of them submitted or waiting for information, evidence on the open ones, some claimed with live or
lapsed leases), then times queue_page() on the first page and on deep pages reached by a cursor, and the
counts-per-reason query alone, printing one table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from itertools import chain
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BATCH = 10_000
TEXTS = [
    "Fast delivery, friendly seller.",
    "SCAM seller, did not deliver what was promised and stopped answering.",
    "Decent, but it took three days to start.",
    "My character was banned after this, avoid!",
    "Asked for 50% off or I leave one star. Fine, one star.",
    "",
]
REASONS = ["competitor_attack", "wrong_offer", "blackmail", "unrelated_feedback"]


def batches(rows: Iterator[dict], size: int = BATCH) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def copy_all(connection, table, rows: Iterator[dict]) -> int:
    """PostgreSQL: COPY through the driver, several times faster than batched INSERTs."""
    first = next(rows, None)
    if first is None:
        return 0
    columns = list(first)
    driver = connection.connection.driver_connection  # same transaction as `connection`
    total = 0
    with driver.cursor() as cursor, cursor.copy(
        f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    ) as copy:
        for row in chain([first], rows):
            copy.write_row([json.dumps(value) if isinstance(value, dict) else value
                            for value in (row[column] for column in columns)])
            total += 1
    return total


def fill(connection, tables, args: argparse.Namespace, now: datetime) -> dict[str, int]:
    """Insert the whole data set; returns row counts."""
    from sqlalchemy import insert

    rng = random.Random(11)
    users, buyers, offers, orders = (tables[name] for name in ("users", "buyers", "offers", "orders"))
    reviews, requests, evidence = (tables[name] for name in ("reviews", "deletion_requests", "evidence"))
    created = now - timedelta(days=800)

    def insert_all(table, rows: Iterator[dict]) -> int:
        if connection.dialect.name == "postgresql":
            return copy_all(connection, table, rows)
        total = 0
        for batch in batches(rows):
            connection.execute(insert(table), batch)
            total += len(batch)
        return total

    counts = {}
    counts["users"] = insert_all(users, (
        {"email": f"seller{number}@bench.example.com" if number < args.sellers
         else f"agent{number - args.sellers}@bench.example.com",
         "role": "seller" if number < args.sellers else "agent", "active": True,
         "session_token": secrets.token_urlsafe(24), "timezone": "UTC", "created_at": created}
        for number in range(args.sellers + args.agents)))
    # Ids are 1..n in insertion order on a fresh database.
    agent_ids = list(range(args.sellers + 1, args.sellers + args.agents + 1))
    counts["buyers"] = insert_all(buyers, ({"username": f"buyer{number}"} for number in range(args.buyers)))
    offers_per_seller = 10
    counts["offers"] = insert_all(offers, (
        {"external_id": f"OF-{number}", "title": f"Offer {number}: game service",
         "seller_id": number // offers_per_seller + 1}
        for number in range(args.sellers * offers_per_seller)))

    # Skewed like a real marketplace: a few sellers carry many reviews (and many requests).
    sellers_of = [min(int(rng.paretovariate(1.2)) - 1, args.sellers - 1) for _ in range(args.requests)]
    buyers_of = [rng.randrange(args.buyers) + 1 for _ in range(args.requests)]
    counts["orders"] = insert_all(orders, (
        {"external_id": f"O-{number}", "status": "finished",
         "offer_id": sellers_of[number] * offers_per_seller + number % offers_per_seller + 1,
         "buyer_id": buyers_of[number]}
        for number in range(args.requests)))

    # Requests: the oldest (args.requests - open) are closed; the newest `open` ones are open and
    # spread over the last 30 days. Times are whole seconds, so neighbours sometimes share one.
    closed = args.requests - args.open
    closed_span = (now - timedelta(days=31) - created).total_seconds()

    def submitted_at(number: int) -> datetime:
        if number < closed:
            return created + timedelta(seconds=int(closed_span * number / closed))
        return now - timedelta(days=30) + timedelta(seconds=int(30 * 86400 * (number - closed) / args.open))

    counts["reviews"] = insert_all(reviews, (
        {"external_id": f"R-{number}", "order_id": number + 1, "seller_id": sellers_of[number] + 1,
         "buyer_id": buyers_of[number], "rating_fulfillment": rng.randint(1, 5),
         "rating_start_time": rng.randint(1, 5), "rating_communication": rng.randint(1, 5),
         "text": rng.choice(TEXTS), "created_at": submitted_at(number) - timedelta(days=2),
         "is_visible": True, "imported_at": created}
        for number in range(args.requests)))

    def request_row(number: int) -> dict:
        moment = submitted_at(number)
        row = {
            "review_id": number + 1, "seller_id": sellers_of[number] + 1,
            "buyer_id": buyers_of[number], "reason": rng.choice(REASONS),
            "explanation": "The buyer asked for a discount in exchange for the rating. Chat attached.",
            "review_snapshot": {"review_id": f"R-{number}", "text": TEXTS[number % len(TEXTS)],
                                "ratings": {"fulfillment": 1, "start_time": 2, "communication": 1}},
            "submitted_at": moment, "waiting_since": moment, "updated_at": moment, "version": 1,
            "assignee_id": None, "claimed_at": None, "lease_expires_at": None,
            "decided_at": None, "decided_by_id": None,
        }
        if number < closed:
            row["status"] = rng.choices(["approved", "rejected", "withdrawn"], [40, 50, 10])[0]
            row["decided_at"] = moment + timedelta(hours=rng.uniform(1, 96))
            row["updated_at"] = row["decided_at"]
            if row["status"] != "withdrawn":
                row["decided_by_id"] = rng.choice(agent_ids)
        else:
            row["status"] = "needs_info" if rng.random() < 0.1 else "submitted"
            if rng.random() < 0.05:  # claimed: half still held, half lapsed
                row["assignee_id"] = rng.choice(agent_ids)
                row["claimed_at"] = now - timedelta(minutes=rng.randint(1, 120))
                row["lease_expires_at"] = row["claimed_at"] + timedelta(minutes=60)
        return row

    counts["deletion_requests"] = insert_all(
        requests, (request_row(number) for number in range(args.requests)))

    def evidence_rows() -> Iterator[dict]:
        serial = 0
        for number in range(closed, args.requests):
            for _ in range(rng.randint(1, 3)):
                serial += 1
                phash = f"{rng.getrandbits(64):016x}"
                yield {
                    "request_id": number + 1, "message_id": None, "uploaded_by_id": sellers_of[number] + 1,
                    "original_filename": "chat.png", "stored_name": f"bench-{serial}.png",
                    "thumbnail_name": f"bench-{serial}-t.webp", "format": "png", "width": 720,
                    "height": 400, "byte_size": 48_000, "sha256": f"{serial:064x}", "perceptual_hash": phash,
                    **{f"phash_band_{band}": int(phash[band * 4:band * 4 + 4], 16) for band in range(4)},
                    "created_at": submitted_at(number),
                }

    counts["evidence"] = insert_all(evidence, evidence_rows())
    return counts


def timed(function: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and max wall time in ms over `repeat` runs, after one warm-up run."""
    function()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=100_000, help="how many of the requests are open")
    parser.add_argument("--deep", type=int, default=50_000, help="rows before the deep page")
    parser.add_argument("--sellers", type=int, default=5_000)
    parser.add_argument("--buyers", type=int, default=200_000)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database-url", help="an empty database to fill; default: a fresh SQLite file")
    parser.add_argument("--explain", action="store_true", help="print the plan of the deep page's row query")
    args = parser.parse_args()
    if not 0 < args.open <= args.requests:
        parser.error("--open must be between 1 and --requests")

    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        os.environ.update({"DATABASE_URL": url, "SECRET_KEY": "benchmark-only",
                           "UPLOAD_DIR": str(Path(folder) / "uploads")})
        run(args)


def run(args: argparse.Namespace) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import func, select, text

    from moderation_app import create_app
    from moderation_app.database import utcnow
    from moderation_app.extensions import db
    from moderation_app.models.requests import DeletionRequest, Reason, RequestStatus
    from moderation_app.models.users import Role, User
    from moderation_app.services.queue.listing import (
        QueueFilters,
        counts_by_reason,
        decode_cursor,
        encode_cursor,
        queue_page,
        rows_query,
        sort_column,
    )

    app = create_app({"SESSION_COOKIE_SECURE": False})
    now = utcnow()
    with app.app_context():
        dialect = db.engine.dialect.name
        upgrade()
        if db.session.scalar(select(func.count()).select_from(DeletionRequest)):
            raise SystemExit("the database already holds requests; give an empty one")
        started = time.perf_counter()
        with db.engine.begin() as connection:
            counts = fill(connection, db.metadata.tables, args, now)
        filled = time.perf_counter() - started
        started = time.perf_counter()
        with db.engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()
        print(f"{dialect}: filled in {filled:.0f} s (+ ANALYZE {time.perf_counter() - started:.0f} s): "
              + ", ".join(f"{name} {count:,}" for name, count in counts.items()))
        by_status = dict(db.session.execute(
            select(DeletionRequest.status, func.count()).group_by(DeletionRequest.status)).all())
        print("requests by status: "
              + ", ".join(f"{status.value} {count:,}" for status, count in by_status.items()))

        viewer = db.session.scalar(select(User).where(User.role == Role.AGENT).limit(1))

        def cursor_after(filters: QueueFilters, rows: int) -> str:
            # Setup only: where the deep page starts, found once by counting (the page itself never does).
            moment_column = sort_column(filters.status)
            ordering = ((moment_column.desc(), DeletionRequest.id.desc())
                        if filters.newest_first else (moment_column, DeletionRequest.id))
            query = select(moment_column, DeletionRequest.id).where(
                DeletionRequest.status == filters.status)
            if filters.reason is not None:
                query = query.where(DeletionRequest.reason == filters.reason)
            moment, request_id = db.session.execute(
                query.order_by(*ordering).offset(rows - 1).limit(1)).one()
            return encode_cursor(moment, request_id)

        page_size = app.config["PAGE_SIZE"]
        submitted = QueueFilters()
        blackmail = QueueFilters(reason=Reason.BLACKMAIL)
        rejected = QueueFilters(status=RequestStatus.REJECTED)
        deep = min(args.deep, by_status.get(RequestStatus.SUBMITTED, 0) - page_size)
        deep_closed = min(args.deep * 4, by_status.get(RequestStatus.REJECTED, 0) - page_size)
        deep_reason = deep // 4
        cases: list[tuple[str, Callable[[], object]]] = []

        def page_case(label: str, filters: QueueFilters, cursor: str | None) -> None:
            def call() -> None:
                db.session.rollback()  # a fresh transaction and identity map, as each request gets
                page = queue_page(filters, viewer, cursor, page_size, now, timedelta(hours=48))
                assert len(page.rows) == page_size, (label, len(page.rows))
            cases.append((label, call))

        page_case("queue_page: submitted, first page", submitted, None)
        page_case(f"queue_page: submitted, after {deep:,} rows", submitted, cursor_after(submitted, deep))
        page_case("queue_page: blackmail, first page", blackmail, None)
        page_case(f"queue_page: blackmail, after {deep_reason:,} rows", blackmail,
                  cursor_after(blackmail, deep_reason))
        page_case("queue_page: rejected (newest first), first page", rejected, None)
        page_case(f"queue_page: rejected, after {deep_closed:,} rows", rejected,
                  cursor_after(rejected, deep_closed))
        page_case("queue_page: submitted + unassigned, first page",
                  QueueFilters(assignee="unassigned"), None)
        page_case("queue_page: submitted + seller 'seller1', first page",
                  QueueFilters(seller="seller1"), None)
        for label, filters, cursor in (
                (f"submitted, after {deep:,} rows", submitted, cursor_after(submitted, deep)),
                (f"rejected, after {deep_closed:,} rows", rejected, cursor_after(rejected, deep_closed))):
            def rows_only(filters=filters, position=decode_cursor(cursor)) -> None:
                db.session.rollback()
                db.session.execute(rows_query(filters, viewer, position, page_size + 1, now)).all()
            cases.append((f"rows query alone: {label}", rows_only))
        for label, filters in (("submitted", submitted), ("rejected", rejected),
                               ("submitted + seller 'seller1'", QueueFilters(seller="seller1"))):
            def counts_only(filters=filters) -> None:
                db.session.rollback()
                counts_by_reason(filters, viewer, now)
            cases.append((f"counts_by_reason alone: {label}", counts_only))

        print(f"\n{'case':<58} {'median ms':>10} {'max ms':>9}")
        for label, call in cases:
            median, worst = timed(call, args.repeat)
            print(f"{label:<58} {median:>10.1f} {worst:>9.1f}")

        if args.explain:
            explain(db, dialect, submitted, viewer, cursor_after(submitted, deep), page_size, now)


def explain(db, dialect: str, filters, viewer, cursor, page_size: int, now: datetime) -> None:
    from sqlalchemy import text

    from moderation_app.services.queue.listing import decode_cursor, rows_query

    statement = rows_query(filters, viewer, decode_cursor(cursor), page_size + 1, now)
    sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
    prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
    print("\nplan of the deep page's row query:")
    for row in db.session.execute(text(prefix + sql)):
        print("  " + " | ".join(str(value) for value in row))


if __name__ == "__main__":
    main()
