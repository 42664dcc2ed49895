"""Benchmark: the desk's queue beside a peer, Flask-Admin's `ModelView` list of the same requests, on a
database bench/fill.py filled.

    pip install -r bench/requirements.txt   # Flask-Admin, only for this comparison
    BENCH_PASSWORD=... .venv/bin/python bench/peer_admin.py --database-url URL [--deep 50000] [--repeat 9]

Both lists show the submitted requests, oldest first, the desk's page size, each row with its seller's
e-mail; both are served by the same app and signed-in agent, through Flask's test client: `/queue` (first
page, then the page after --deep rows, reached by the desk's cursor) and `/peer-admin/requests/` (first
page, then `?page=N`, Flask-Admin's OFFSET page --deep rows down, with its COUNT). Prints the median and
max of --repeat requests and the statements each page sent.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bench.web import StatementCounter, app_on, bench_password, signed_in, time_page  # noqa: E402

AGENT = "bench-agent@example.com"


def add_peer(app, page_size: int) -> None:
    """Flask-Admin's list of submitted requests at /peer-admin/requests/, open to staff like /queue."""
    from flask_admin import Admin
    from flask_admin.contrib.sqla import ModelView

    from moderation_app.extensions import db
    from moderation_app.models.requests import DeletionRequest, RequestStatus
    from moderation_app.models.users import STAFF_ROLES
    from moderation_app.permissions import role_required

    class SubmittedRequests(ModelView):
        can_create = can_edit = can_delete = False
        column_list = ("id", "reason", "status", "seller.email", "submitted_at")
        column_default_sort = ("submitted_at", False)
        page_size = 0  # set below: the desk's

        def get_query(self):
            return super().get_query().filter(DeletionRequest.status == RequestStatus.SUBMITTED)

        def get_count_query(self):
            return super().get_count_query().filter(DeletionRequest.status == RequestStatus.SUBMITTED)

    SubmittedRequests.page_size = page_size
    admin = Admin(app, name="peer", url="/peer-admin", endpoint="peer_admin")
    admin.add_view(SubmittedRequests(DeletionRequest, db, endpoint="peer_requests",
                                     url="/peer-admin/requests"))
    # The desk refuses any view that declares no audience; give the peer's (bound methods, which
    # take no attributes) the queue's.
    for endpoint, view in list(app.view_functions.items()):
        if endpoint.startswith(("peer_admin", "peer_requests")):
            app.view_functions[endpoint] = role_required(*STAFF_ROLES)(
                functools.wraps(view)(lambda *args, view=view, **kwargs: view(*args, **kwargs)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a database bench/fill.py filled")
    parser.add_argument("--deep", type=int, default=50_000, help="rows above the deep page")
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    password = bench_password()
    app = app_on(args.database_url)
    page_size = app.config["PAGE_SIZE"]
    add_peer(app, page_size)

    from moderation_app.extensions import db
    from moderation_app.models.requests import DeletionRequest, RequestStatus
    from moderation_app.services.keyset import encode_cursor

    with app.app_context():
        # Setup only: where the desk's deep page starts, found once by counting.
        moment, request_id = db.session.execute(
            select(DeletionRequest.submitted_at, DeletionRequest.id)
            .where(DeletionRequest.status == RequestStatus.SUBMITTED)
            .order_by(DeletionRequest.submitted_at, DeletionRequest.id)
            .offset(args.deep - 1).limit(1)).one()
        counter = StatementCounter(db.engine)
        dialect = db.engine.dialect.name
    cursor = encode_cursor(moment, request_id)
    client = signed_in(app, AGENT, password)
    deep_page = args.deep // page_size  # Flask-Admin counts pages from 0
    cases = [
        ("desk /queue, first page", "/queue"),
        (f"desk /queue, after {args.deep:,} rows", f"/queue?after={cursor}"),
        ("Flask-Admin list, first page", "/peer-admin/requests/"),
        (f"Flask-Admin list, after {args.deep:,} rows", f"/peer-admin/requests/?page={deep_page}"),
    ]
    print(f"{dialect}, {page_size} rows a page, "
          f"median of {args.repeat}")
    print(f"{'page':<42}{'median ms':>10}{'max ms':>10}{'statements':>12}")
    for label, path in cases:
        timing = time_page(client, counter, path, args.repeat)
        print(f"{label:<42}{timing.median_ms:>10.1f}{timing.max_ms:>10.1f}{timing.statements:>12}")


if __name__ == "__main__":
    main()
