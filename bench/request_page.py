"""Benchmark: the agent's request page (`GET /requests/<id>`, every context signal) on a desk that
bench/fill.py filled.

    BENCH_PASSWORD=... .venv/bin/python bench/request_page.py --database-url URL [--repeat 9]

Signs the bench agent in through the login form, then times the whole request through Flask's test
client (routing, queries, template) for the three newest submitted requests and the oldest appeal,
printing the median, the maximum and the statements each page sent.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bench.fill import BENCH_AGENT  # noqa: E402
from bench.web import StatementCounter, app_on, bench_password, signed_in, time_page  # noqa: E402
from moderation_app.extensions import db  # noqa: E402
from moderation_app.models import DeletionRequest, RequestStatus  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a database bench/fill.py filled")
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    password = bench_password()
    app = app_on(args.database_url)
    with app.app_context():
        newest = select(DeletionRequest.id).where(DeletionRequest.status == RequestStatus.SUBMITTED)
        ids = list(db.session.scalars(newest.order_by(DeletionRequest.id.desc()).limit(3)))
        ids += list(db.session.scalars(select(DeletionRequest.id).where(
            DeletionRequest.status == RequestStatus.APPEALED).order_by(DeletionRequest.appealed_at).limit(1)))
        counter = StatementCounter(db.engine)
    client = signed_in(app, BENCH_AGENT, password)
    print(f"{'page':<28}{'median ms':>10}{'max ms':>10}{'statements':>12}")
    for request_id in ids:
        timing = time_page(client, counter, f"/requests/{request_id}", args.repeat)
        print(f"{'/requests/' + str(request_id):<28}{timing.median_ms:>10.1f}{timing.max_ms:>10.1f}"
              f"{timing.statements:>12}")


if __name__ == "__main__":
    main()
