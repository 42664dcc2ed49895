"""The benchmarks' data set: one command migrates an empty database and fills it with a desk of a
million deletion requests, so anyone can rebuild what docs/benchmarks.md measured.

    BENCH_PASSWORD=... .venv/bin/python bench/fill.py --database-url URL [--requests 1000000]

URL: an EMPTY database, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/bench_fill (filled with
COPY) or sqlite:////tmp/bench-fill/desk.sqlite3 (batched INSERTs, journal off during the fill).

The mix: sellers whose request counts follow a Pareto law, one order and one review per request;
most requests long decided (approved 40 %, rejected 50 %, withdrawn 10 %) with one decision row per
approve or reject; --open of them submitted or waiting for information (10 %, each with its
question and request_info decision), spread over the last 30 days, with 1-3 screenshots each and 5 %
claimed (half the leases live, half lapsed); --appealed rejections appealed within the appeal
window; approved requests' reviews hidden, as the rating counts them. Three accounts sign in with
BENCH_PASSWORD: bench-agent@ (agent, also one of the deciders), bench-manager@ and bench-seller@,
a seller with exactly --big-seller-reviews reviews (0.5 % of the requests are theirs).

Left out at this size: audit events (only the accounts' creation and the counters' recount are
logged; the chain is measured by bench/audit_million.py), notifications, and the seller-facing
decision messages of requests decided long ago (a statement of reasons then shows no message).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BATCH = 10_000
PASSWORD_VARIABLE = "BENCH_PASSWORD"
BENCH_AGENT = "bench-agent@example.com"
BENCH_MANAGER = "bench-manager@example.com"
BENCH_SELLER = "bench-seller@example.com"
OFFERS_PER_SELLER = 10
# One request in this many is the bench seller's, so their desk pages have requests too.
BENCH_SELLER_SHARE = 200
TEXTS = [
    "Fast delivery, friendly seller.",
    "SCAM seller, did not deliver what was promised and stopped answering.",
    "Decent, but it took three days to start.",
    "My character was banned after this, avoid!",
    "Asked for 50% off or I leave one star. Fine, one star.",
    "",
]
REASONS = ["competitor_attack", "wrong_offer", "blackmail", "unrelated_feedback"]
# Tables this script fills, in foreign-key order; any row in them means "not empty".
TABLES = ("users", "buyers", "offers", "orders", "reviews", "deletion_requests", "decisions",
          "request_messages", "evidence")


def say(line: str) -> None:
    print(line, flush=True)  # progress shows while a long fill runs, also into a file


class FillRefused(RuntimeError):
    """The database is not empty, or no usable password was given."""


@dataclass(frozen=True)
class FillSize:
    requests: int = 1_000_000
    open: int = 100_000
    appealed: int = 3_000
    sellers: int = 5_000
    buyers: int = 200_000
    agents: int = 20
    big_seller_reviews: int = 500_000

    def check(self) -> None:
        if not 0 < self.open <= self.requests:
            raise ValueError("--open must be between 1 and --requests")
        if not 0 <= self.appealed <= self.requests - self.open:
            raise ValueError("--appealed must be between 0 and the closed requests")
        if self.big_seller_reviews < self.requests // BENCH_SELLER_SHARE + 1:
            raise ValueError("--big-seller-reviews must cover the bench seller's requests")


class Plan(NamedTuple):
    """One request as generated; every table's rows for it are read from here."""

    seller_id: int
    buyer_id: int
    status: str
    reason: str
    submitted_at: datetime
    updated_at: datetime
    decided_at: datetime | None
    decided_by_id: int | None
    assignee_id: int | None
    claimed_at: datetime | None
    appealed_at: datetime | None


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


def insert_all(connection, table, rows: Iterator[dict]) -> int:
    from sqlalchemy import insert

    if connection.dialect.name == "postgresql":
        return copy_all(connection, table, rows)
    total = 0
    for batch in batches(rows):
        connection.execute(insert(table), batch)
        total += len(batch)
    return total


def plan_requests(size: FillSize, now: datetime, first_seller: int, bench_seller: int,
                  agent_ids: list[int]) -> list[Plan]:
    """The oldest requests are closed, the newest `open` open over the last 30 days; the newest
    `appealed` closed ones were rejected and appealed. Whole seconds, so neighbours may tie."""
    rng = random.Random(11)
    created = now - timedelta(days=800)
    closed = size.requests - size.open
    closed_span = (now - timedelta(days=31) - created).total_seconds()
    plans = []
    for number in range(size.requests):
        # Skewed like a real marketplace: a few sellers carry many reviews (and many requests).
        seller = min(int(rng.paretovariate(1.2)) - 1, size.sellers - 1) + first_seller
        if number % BENCH_SELLER_SHARE == 0:
            seller = bench_seller
        buyer = rng.randrange(size.buyers) + 1
        decided_at = decided_by = assignee = claimed_at = appealed_at = None
        if number < closed:
            moment = created + timedelta(seconds=int(closed_span * number / closed))
            decided_at = moment + timedelta(hours=rng.uniform(1, 96))
            updated_at = decided_at
            if number >= closed - size.appealed:
                status = "appealed"
                appealed_at = decided_at + timedelta(hours=rng.uniform(1, 13 * 24))
                updated_at = appealed_at
            else:
                status = rng.choices(["approved", "rejected", "withdrawn"], [40, 50, 10])[0]
            if status != "withdrawn":
                decided_by = rng.choice(agent_ids)
            else:
                decided_at = None
        else:
            moment = now - timedelta(days=30) + timedelta(
                seconds=int(30 * 86400 * (number - closed) / size.open))
            updated_at = moment
            status = "needs_info" if rng.random() < 0.1 else "submitted"
            if rng.random() < 0.05:  # claimed: half still held, half lapsed
                assignee = rng.choice(agent_ids)
                claimed_at = now - timedelta(minutes=rng.randint(1, 120))
        plans.append(Plan(seller, buyer, status, rng.choice(REASONS), moment, updated_at, decided_at,
                          decided_by, assignee, claimed_at, appealed_at))
    return plans


def fill_rows(connection, tables, size: FillSize, now: datetime, accounts: dict[str, int],
              log: Callable[[str], None]) -> dict[str, int]:
    """Insert the whole data set with explicit ids after the accounts; returns rows per table."""
    from sqlalchemy import text

    rng = random.Random(12)
    created = now - timedelta(days=800)
    counts: dict[str, int] = {}

    def insert(name: str, rows: Iterator[dict]) -> None:
        started = time.perf_counter()
        counts[name] = insert_all(connection, tables[name], rows)
        log(f"  {name}: {counts[name]:,} rows in {time.perf_counter() - started:.0f} s")

    first_seller = max(accounts.values()) + 1
    first_agent = first_seller + size.sellers
    agent_ids = [*range(first_agent, first_agent + size.agents), accounts["agent"]]
    insert("users", (
        {"id": first_seller + number,
         "email": f"seller{number}@bench.example.com" if number < size.sellers
         else f"agent{number - size.sellers}@bench.example.com",
         "role": "seller" if number < size.sellers else "agent", "active": True,
         "session_token": secrets.token_urlsafe(24), "timezone": "UTC", "created_at": created}
        for number in range(size.sellers + size.agents)))
    insert("buyers", ({"id": number + 1, "username": f"buyer{number}"} for number in range(size.buyers)))
    # Offer ids: 10 per seller, the bench seller's first.
    offer_sellers = [accounts["seller"], *range(first_seller, first_seller + size.sellers)]
    insert("offers", (
        {"id": number + 1, "external_id": f"OF-{number}", "title": f"Offer {number}: game service",
         "seller_id": offer_sellers[number // OFFERS_PER_SELLER]}
        for number in range(len(offer_sellers) * OFFERS_PER_SELLER)))

    def first_offer(seller_id: int) -> int:
        return (0 if seller_id == accounts["seller"] else seller_id - first_seller + 1) \
            * OFFERS_PER_SELLER + 1

    plans = plan_requests(size, now, first_seller, accounts["seller"], agent_ids)
    # The bench seller's reviews without a request come after the requests' ones.
    extra = size.big_seller_reviews - sum(plan.seller_id == accounts["seller"] for plan in plans)
    extra_buyers = [rng.randrange(size.buyers) + 1 for _ in range(extra)]
    extra_span = (now - created).total_seconds()

    def review_owner(number: int) -> tuple[int, int]:
        if number < size.requests:
            return plans[number].seller_id, plans[number].buyer_id
        return accounts["seller"], extra_buyers[number - size.requests]

    total_reviews = size.requests + extra
    insert("orders", (
        {"id": number + 1, "external_id": f"O-{number}", "status": "finished",
         "offer_id": first_offer(review_owner(number)[0]) + number % OFFERS_PER_SELLER,
         "buyer_id": review_owner(number)[1]}
        for number in range(total_reviews)))

    def review_row(number: int) -> dict:
        seller_id, buyer_id = review_owner(number)
        if number < size.requests:
            written = plans[number].submitted_at - timedelta(days=2)
            visible = plans[number].status != "approved"  # approved: deleted from the seller's page
        else:
            written = created + timedelta(seconds=int(extra_span * (number - size.requests) / extra))
            visible = True
        return {"id": number + 1, "external_id": f"R-{number}", "order_id": number + 1,
                "seller_id": seller_id, "buyer_id": buyer_id, "rating_fulfillment": rng.randint(1, 5),
                "rating_start_time": rng.randint(1, 5), "rating_communication": rng.randint(1, 5),
                "text": rng.choice(TEXTS), "created_at": written, "is_visible": visible,
                "imported_at": created}

    insert("reviews", (review_row(number) for number in range(total_reviews)))

    def request_row(number: int) -> dict:
        plan = plans[number]
        appealed = plan.status == "appealed"
        offer = first_offer(review_owner(number)[0]) + number % OFFERS_PER_SELLER
        return {
            "id": number + 1, "review_id": number + 1, "seller_id": plan.seller_id,
            "buyer_id": plan.buyer_id, "reason": plan.reason, "status": plan.status,
            "explanation": "The buyer asked for a discount in exchange for the rating. Chat attached.",
            # Every key services/requests/filing.py's review_snapshot() writes: the pages read them.
            "review_snapshot": {
                "review_id": f"R-{number}", "text": TEXTS[number % len(TEXTS)],
                "ratings": {"fulfillment": 1, "start_time": 2, "communication": 1},
                "created_at": (plan.submitted_at - timedelta(days=2)).isoformat(),
                "order_id": f"O-{number}", "order_status": "finished", "offer_id": f"OF-{offer - 1}",
                "offer_title": f"Offer {offer - 1}: game service", "buyer": f"buyer{plan.buyer_id - 1}"},
            "submitted_at": plan.submitted_at,
            "waiting_since": plan.appealed_at if appealed else plan.submitted_at,
            "updated_at": plan.updated_at, "version": 1, "assignee_id": plan.assignee_id,
            "claimed_at": plan.claimed_at,
            "lease_expires_at": plan.claimed_at and plan.claimed_at + timedelta(minutes=60),
            "decided_at": plan.decided_at, "decided_by_id": plan.decided_by_id,
            "appealed_at": plan.appealed_at, "first_decided_by_id": plan.decided_by_id if appealed else None,
        }

    if connection.dialect.name == "postgresql":
        # The counter triggers, off for the bulk load and recounted once after it (fill_database):
        # cheaper than aggregating a million-row transition table.
        connection.execute(text("ALTER TABLE deletion_requests DISABLE TRIGGER USER"))
    insert("deletion_requests", (request_row(number) for number in range(size.requests)))
    if connection.dialect.name == "postgresql":
        connection.execute(text("ALTER TABLE deletion_requests ENABLE TRIGGER USER"))

    def asked_at(plan: Plan) -> datetime:
        return plan.submitted_at + (now - plan.submitted_at) / 2

    def decision_rows() -> Iterator[dict]:
        serial = 0
        for number, plan in enumerate(plans):
            if plan.status == "needs_info":
                decision, agent, decided_at = "request_info", agent_ids[number % len(agent_ids)], \
                    asked_at(plan)
            elif plan.decided_by_id is not None:
                decision = "approve" if plan.status == "approved" else "reject"
                agent, decided_at = plan.decided_by_id, plan.decided_at
            else:
                continue
            serial += 1
            claim = timedelta(seconds=rng.randint(60, 1800))
            yield {"id": serial, "request_id": number + 1, "agent_id": agent, "decision": decision,
                   "reason": plan.reason, "submitted_at": plan.submitted_at,
                   "claimed_at": decided_at - claim, "decided_at": decided_at,
                   "seconds_since_submission": int((decided_at - plan.submitted_at).total_seconds()),
                   "seconds_since_claim": int(claim.total_seconds()), "on_appeal": False}

    insert("decisions", decision_rows())

    def message_rows() -> Iterator[dict]:
        serial = 0
        for number, plan in enumerate(plans):
            messages = []
            if plan.status == "needs_info":
                messages.append((agent_ids[number % len(agent_ids)], "info_requested", asked_at(plan),
                                 "Please attach the whole chat, including the buyer's first message."))
            elif plan.status == "appealed":
                messages.append((plan.decided_by_id, "decision", plan.decided_at,
                                 "The chat does not show the buyer asking for anything in return."))
                messages.append((plan.seller_id, "appeal", plan.appealed_at,
                                 "The second screenshot shows the demand; please look again."))
            for author, kind, moment, body in messages:
                serial += 1
                yield {"id": serial, "request_id": number + 1, "author_id": author, "kind": kind,
                       "body": body, "created_at": moment}

    insert("request_messages", message_rows())

    def evidence_rows() -> Iterator[dict]:
        serial = 0
        for number, plan in enumerate(plans):
            if plan.status not in ("submitted", "needs_info", "appealed"):
                continue
            for _ in range(rng.randint(1, 3)):
                serial += 1
                phash = f"{rng.getrandbits(64):016x}"
                yield {
                    "id": serial, "request_id": number + 1, "message_id": None,
                    "uploaded_by_id": plan.seller_id, "original_filename": "chat.png",
                    "stored_name": f"bench-{serial}.png", "thumbnail_name": f"bench-{serial}-t.webp",
                    "format": "png", "width": 720, "height": 400, "byte_size": 48_000,
                    "sha256": f"{serial:064x}", "perceptual_hash": phash,
                    **{f"phash_band_{band}": int(phash[band * 4:band * 4 + 4], 16) for band in range(4)},
                    "sha256_reused": False, "phash_reused": False, "created_at": plan.submitted_at,
                }

    insert("evidence", evidence_rows())
    return counts


def refuse_unless_empty() -> None:
    from sqlalchemy import func, select

    from moderation_app.extensions import db

    for name in ("deletion_requests", *TABLES):
        table = db.metadata.tables[name]
        count = db.session.scalar(select(func.count()).select_from(table))
        if count:
            raise FillRefused(f"the database already holds {count:,} rows in {name}; "
                              "bench/fill.py fills an empty database only: give it a new one")


def bench_password(environ: dict[str, str] | os._Environ = os.environ) -> str:
    from moderation_app.services.accounts import check_password_policy
    from moderation_app.services.errors import DomainError

    password = environ.get(PASSWORD_VARIABLE)
    if not password:
        raise FillRefused(f"set {PASSWORD_VARIABLE}: the bench accounts' password")
    try:
        check_password_policy(password)
    except DomainError as error:
        raise FillRefused(f"{PASSWORD_VARIABLE}: {error}") from None
    return password


def fill_database(size: FillSize, password: str, now: datetime | None = None,
                  log: Callable[[str], None] = say) -> dict[str, int]:
    """In the app's context, on a migrated empty database: the bench accounts (the app's own
    create_user and password hashing) and every row, in one transaction; then ANALYZE.
    Returns rows per table. Raises FillRefused on a database that is not empty."""
    from sqlalchemy import event, text

    from moderation_app.database import utcnow
    from moderation_app.extensions import db
    from moderation_app.models.users import Role
    from moderation_app.services.accounts import create_user

    size.check()
    now = now or utcnow()
    refuse_unless_empty()
    sqlite = db.engine.dialect.name == "sqlite"

    def fast_sqlite(dbapi_connection: Any, _record: object) -> None:
        # Nothing to keep if the fill fails half-way: no journal, no fsync, a 1 GB page cache.
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -1000000"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    if sqlite:
        db.session.remove()
        db.engine.dispose()
        event.listen(db.engine, "connect", fast_sqlite)
    try:
        accounts = {role: create_user(email, Role(role), password).id for role, email in (
            ("agent", BENCH_AGENT), ("manager", BENCH_MANAGER), ("seller", BENCH_SELLER))}
        connection = db.session.connection()
        counts = fill_rows(connection, db.metadata.tables, size, now, accounts, log)
        if not sqlite:
            # Explicit ids leave the sequences behind; the app's next insert must not collide.
            for name in TABLES:
                connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"(SELECT max(id) FROM {name}))"))
        if "request_counts" in db.metadata.tables:
            # Recounted in this transaction: on PostgreSQL the triggers were off for the COPY.
            from moderation_app.services.counters import rebuild

            rebuild()
        db.session.commit()
    finally:
        if sqlite:
            db.session.remove()
            event.remove(db.engine, "connect", fast_sqlite)
            db.engine.dispose()  # back to the app's WAL journal
    started = time.perf_counter()
    with db.engine.connect() as connection:
        # PostgreSQL: the desk's own tables, as the search path finds them. A bare ANALYZE takes every
        # schema's tables in the database, and deadlocked with a parallel test run's TRUNCATE in a
        # schema of its own. SQLite's ANALYZE names one table at most; its file is the desk's alone.
        if connection.dialect.name == "postgresql":
            connection.execute(text("ANALYZE " + ", ".join(db.metadata.tables)))
        else:
            connection.execute(text("ANALYZE"))
        connection.commit()
    log(f"  ANALYZE in {time.perf_counter() - started:.0f} s")
    counts["users"] += len(accounts)
    return counts


def report(log: Callable[[str], None] = say) -> dict[str, int]:
    """Prints and returns the requests per status, read back from the database."""
    from sqlalchemy import func, select

    from moderation_app.extensions import db
    from moderation_app.models.requests import DeletionRequest

    by_status = {status.value: count for status, count in db.session.execute(
        select(DeletionRequest.status, func.count()).group_by(DeletionRequest.status)).all()}
    log("requests by status: " + ", ".join(f"{status} {count:,}" for status, count in by_status.items()))
    return by_status


def size_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = FillSize()
    parser.add_argument("--requests", type=int, default=defaults.requests)
    parser.add_argument("--open", type=int, default=defaults.open,
                        help="how many requests are submitted or waiting for information")
    parser.add_argument("--appealed", type=int, default=defaults.appealed)
    parser.add_argument("--sellers", type=int, default=defaults.sellers)
    parser.add_argument("--buyers", type=int, default=defaults.buyers)
    parser.add_argument("--agents", type=int, default=defaults.agents)
    parser.add_argument("--big-seller-reviews", type=int, default=defaults.big_seller_reviews,
                        help=f"reviews of {BENCH_SELLER} (for /seller/reviews at scale)")


def size_from(args: argparse.Namespace) -> FillSize:
    return FillSize(args.requests, args.open, args.appealed, args.sellers, args.buyers, args.agents,
                    args.big_seller_reviews)


def migrated_app(url: str, upload_dir: str):
    """The app on `url`, migrated to the newest revision by the real migrations."""
    from flask_migrate import upgrade

    from moderation_app import create_app

    os.environ.update({"DATABASE_URL": url, "SECRET_KEY": os.environ.get("SECRET_KEY", "benchmark-only"),
                       "UPLOAD_DIR": upload_dir})
    app = create_app({"SESSION_COOKIE_SECURE": False})
    with app.app_context():
        upgrade()
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="an empty database to migrate and fill")
    size_arguments(parser)
    args = parser.parse_args()
    size = size_from(args)
    try:
        size.check()
        password = bench_password()
    except (ValueError, FillRefused) as error:
        parser.error(str(error))
    started = time.perf_counter()
    if args.database_url.startswith("sqlite:///"):
        Path(args.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # Evidence rows name files that do not exist; the folder only has to be somewhere.
    app = migrated_app(args.database_url, str(Path(tempfile.gettempdir()) / "bench-fill-uploads"))
    with app.app_context():
        from moderation_app.extensions import db

        say(f"migrated {db.engine.dialect.name} in {time.perf_counter() - started:.0f} s; filling")
        try:
            counts = fill_database(size, password)
        except FillRefused as error:
            raise SystemExit(f"refused: {error}") from None
        print("rows: " + ", ".join(f"{name} {count:,}" for name, count in counts.items()))
        report()
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
