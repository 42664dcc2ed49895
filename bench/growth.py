"""Benchmark: how each page's time grows with the desk, from a thousand requests to a million.

    BENCH_PASSWORD=... .venv/bin/python bench/fill.py --database-url URL_1K --requests 1000
    BENCH_PASSWORD=... .venv/bin/python bench/fill.py --database-url URL_100K --requests 100000
    BENCH_PASSWORD=... .venv/bin/python bench/growth.py URL_1K URL_100K URL_1M [--repeat 9] [--only TEXT]

Each database was filled by bench/fill.py (the same mix at each size). For each, signs in the bench
agent, seller and manager through the login form and times every page through Flask's test client
(median of --repeat after a warm-up), then prints one row per page: the time at each size, its ratio
to the first size (the issue's target: at most 1.5) and the statements sent at each size, which must
not change.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bench.fill import BENCH_AGENT, BENCH_MANAGER, BENCH_SELLER  # noqa: E402
from bench.web import StatementCounter, Timing, app_on, bench_password, signed_in, time_page  # noqa: E402

# (who, label, path); {deep} is the cursor of the submitted tab half-way down, {request} the newest
# submitted request, {appeal} the oldest appeal.
PAGES = [
    ("agent", "/queue", "/queue"),
    ("agent", "/queue, half-way down", "/queue?after={deep}"),
    ("agent", "/queue?status=rejected", "/queue?status=rejected"),
    ("agent", "/queue?reason=blackmail", "/queue?reason=blackmail"),
    ("agent", "/queue?assignee=unassigned", "/queue?assignee=unassigned"),
    ("agent", "/queue?seller=seller1", "/queue?seller=seller1"),
    ("agent", "/requests/<newest submitted>", "/requests/{request}"),
    ("agent", "/requests/<oldest appeal>", "/requests/{appeal}"),
    ("seller", "/seller/reviews", "/seller/reviews"),
    ("seller", "/seller/requests", "/seller/requests"),
    ("manager", "/dashboard", "/dashboard"),
    ("manager", "/dashboard.json", "/dashboard.json"),
    ("manager", "/audit", "/audit"),
]
ACCOUNTS = {"agent": BENCH_AGENT, "seller": BENCH_SELLER, "manager": BENCH_MANAGER}


def measure(url: str, password: str, repeat: int, only: str = "") -> tuple[int, dict[str, Timing]]:
    from moderation_app.extensions import db
    from moderation_app.models.requests import DeletionRequest, RequestStatus
    from moderation_app.services.keyset import encode_cursor

    app = app_on(url)
    with app.app_context():
        size = db.session.scalar(select(func.count()).select_from(DeletionRequest))
        submitted = select(DeletionRequest.submitted_at, DeletionRequest.id).where(
            DeletionRequest.status == RequestStatus.SUBMITTED)
        waiting = db.session.scalar(select(func.count()).select_from(submitted.subquery()))
        moment, half_way = db.session.execute(
            submitted.order_by(DeletionRequest.submitted_at, DeletionRequest.id)
            .offset(max(waiting // 2 - 1, 0)).limit(1)).one()
        newest = db.session.scalar(select(func.max(DeletionRequest.id))
                                   .where(DeletionRequest.status == RequestStatus.SUBMITTED))
        appeal = db.session.scalar(select(DeletionRequest.id)
                                   .where(DeletionRequest.status == RequestStatus.APPEALED)
                                   .order_by(DeletionRequest.appealed_at).limit(1))
        counter = StatementCounter(db.engine)
    clients = {who: signed_in(app, email, password) for who, email in ACCOUNTS.items()}
    values = {"deep": encode_cursor(moment, half_way), "request": newest, "appeal": appeal}
    timings = {}
    for who, label, path in PAGES:
        if ("{appeal}" in path and appeal is None) or only not in label:
            continue
        timings[label] = time_page(clients[who], counter, path.format(**values), repeat)
    return size, timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_urls", nargs="+", help="databases bench/fill.py filled, smallest first")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--only", default="", help="time only the pages whose label contains this")
    args = parser.parse_args()
    password = bench_password()
    results = [measure(url, password, args.repeat, args.only) for url in args.database_urls]
    sizes = [f"{size:,}" for size, _ in results]
    print("median ms at each size (requests), ratio of the largest to the smallest, statements at each size")
    print(f"{'page':<32}" + "".join(f"{size:>12}" for size in sizes) + f"{'ratio':>8}  statements")
    for _, label, _ in PAGES:
        row = [timings.get(label) for _, timings in results]
        if None in row:
            continue
        ratio = row[-1].median_ms / row[0].median_ms
        print(f"{label:<32}" + "".join(f"{timing.median_ms:>12.1f}" for timing in row)
              + f"{ratio:>8.2f}  " + " / ".join(str(timing.statements) for timing in row))


if __name__ == "__main__":
    main()
