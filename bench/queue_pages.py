"""Benchmark: the staff queue's pages on a desk with a million deletion requests.

    .venv/bin/python bench/queue_pages.py [--requests 1000000] [--open 100000] [--database-url URL [--filled]]

Builds a fresh database with the real migrations (default: a SQLite file in a temp folder; with
--database-url, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/bench, an EMPTY database it may fill),
fills it with bench/fill.py's data set (see there; the size options are fill.py's), or with --filled
reuses a database bench/fill.py filled, then times queue_page() on the first page and on deep pages
reached by a cursor, and the counts-per-reason query alone, printing one table.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fill import (  # noqa: E402 (the repository root is on the path only from here)
    PASSWORD_VARIABLE,
    FillRefused,
    fill_database,
    migrated_app,
    report,
    size_arguments,
    size_from,
)

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
    size_arguments(parser)
    parser.add_argument("--deep", type=int, default=50_000, help="rows before the deep page")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database-url", help="an empty database to fill; default: a fresh SQLite file")
    parser.add_argument("--filled", action="store_true",
                        help="--database-url was filled by bench/fill.py: time it as it is")
    parser.add_argument("--explain", action="store_true", help="print the plan of the deep page's row query")
    args = parser.parse_args()
    if args.filled and not args.database_url:
        parser.error("--filled needs --database-url")
    try:
        size_from(args).check()
    except ValueError as error:
        parser.error(str(error))

    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        run(args, migrated_app(url, str(Path(folder) / "uploads")))


def run(args: argparse.Namespace, app) -> None:
    from sqlalchemy import select

    from moderation_app.database import utcnow
    from moderation_app.extensions import db
    from moderation_app.models.requests import DeletionRequest, Reason, RequestStatus
    from moderation_app.models.users import Role, User
    from moderation_app.services.keyset import decode_cursor, encode_cursor
    from moderation_app.services.queue.listing import (
        QueueFilters,
        counts_by_reason,
        queue_page,
        rows_query,
        sort_column,
    )

    now = utcnow()
    with app.app_context():
        dialect = db.engine.dialect.name
        if not args.filled:
            # Only the bench's own accounts would need a known password, and no page here signs in.
            password = os.environ.get(PASSWORD_VARIABLE) or secrets.token_urlsafe(24)
            started = time.perf_counter()
            try:
                counts = fill_database(size_from(args), password, now)
            except FillRefused as error:
                raise SystemExit(f"refused: {error} (or pass --filled to time it as it is)") from None
            print(f"{dialect}: filled in {time.perf_counter() - started:.0f} s (with ANALYZE): "
                  + ", ".join(f"{name} {count:,}" for name, count in counts.items()))
        by_status = {RequestStatus(status): count for status, count in report().items()}

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

    from moderation_app.services.keyset import decode_cursor
    from moderation_app.services.queue.listing import rows_query

    statement = rows_query(filters, viewer, decode_cursor(cursor), page_size + 1, now)
    sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
    prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
    print("\nplan of the deep page's row query:")
    for row in db.session.execute(text(prefix + sql)):
        print("  " + " | ".join(str(value) for value in row))


if __name__ == "__main__":
    main()
