"""Benchmark: the agent's request page (`GET /requests/<id>`, every context signal) on a desk that
bench/fill.py filled.

    BENCH_PASSWORD=... .venv/bin/python bench/request_page.py --database-url URL [--repeat 9]

Signs the bench agent in through the login form, then times the whole request through Flask's test
client (routing, queries, template) for the three newest submitted requests and the oldest appeal,
printing the median, the maximum and the statements each page sent.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, select  # noqa: E402

from bench.fill import PASSWORD_VARIABLE  # noqa: E402
from moderation_app import create_app  # noqa: E402
from moderation_app.extensions import db  # noqa: E402
from moderation_app.models import DeletionRequest, RequestStatus  # noqa: E402

AGENT = "bench-agent@example.com"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a database bench/fill.py filled")
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    password = os.environ.get(PASSWORD_VARIABLE)
    if not password:
        sys.exit(f"Set {PASSWORD_VARIABLE} to the password bench/fill.py was given.")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ["DATABASE_URL"] = args.database_url
    app = create_app({"SESSION_COOKIE_SECURE": False})
    with app.app_context():
        newest = select(DeletionRequest.id).where(DeletionRequest.status == RequestStatus.SUBMITTED)
        ids = list(db.session.scalars(newest.order_by(DeletionRequest.id.desc()).limit(3)))
        ids += list(db.session.scalars(select(DeletionRequest.id).where(
            DeletionRequest.status == RequestStatus.APPEALED).order_by(DeletionRequest.appealed_at).limit(1)))
        engine = db.engine
    client = app.test_client()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").get_data(as_text=True))
    signed = client.post("/login", data={"email": AGENT, "password": password, "csrf_token": token.group(1)})
    if signed.status_code not in (302, 303):
        sys.exit(f"{AGENT} could not sign in ({signed.status_code}): is {PASSWORD_VARIABLE} right?")
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *call: sent.append(call[2]))
    print(f"{'page':<28}{'median ms':>10}{'max ms':>10}{'statements':>12}")
    for request_id in ids:
        times = []
        for _ in range(args.repeat):
            sent.clear()
            started = time.perf_counter()
            response = client.get(f"/requests/{request_id}")
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                sys.exit(f"/requests/{request_id} answered {response.status_code}")
        print(f"{'/requests/' + str(request_id):<28}{statistics.median(times):>10.1f}{max(times):>10.1f}"
              f"{len(sent):>12}")


if __name__ == "__main__":
    main()
