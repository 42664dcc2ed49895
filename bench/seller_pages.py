"""Benchmark: the seller's pages (`/seller/reviews`, `/seller/requests`) and the rating, first,
middle and last page, for the seller bench/fill.py gave half a million reviews.

    BENCH_PASSWORD=... .venv/bin/python bench/seller_pages.py --database-url URL [--repeat 9]

Signs bench-seller@example.com in through the login form, then times each page through Flask's test
client (routing, queries, template), printing the median, the maximum and the SQL statements the
page sent. The middle page is the keyset page that resumes halfway down (its cursor is found once,
outside the timing); the last is `?page=last`, the page "Oldest" links to. The rating is also timed
alone (the service call, one statement).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bench.fill import BENCH_SELLER  # noqa: E402
from bench.web import StatementCounter, app_on, bench_password, signed_in, time_page  # noqa: E402
from moderation_app.extensions import db  # noqa: E402
from moderation_app.models import DeletionRequest, Review, User  # noqa: E402
from moderation_app.models.marketplace import Offer  # noqa: E402
from moderation_app.services.marketplace.ratings import seller_rating  # noqa: E402
from moderation_app.services.keyset import encode_cursor  # noqa: E402


def middle_cursor(model, moment, seller_id: int) -> str:
    """The cursor of the row halfway down the seller's list, newest first (an OFFSET, once)."""
    total = db.session.scalar(select(func.count()).select_from(model).where(model.seller_id == seller_id))
    row = db.session.execute(
        select(moment, model.id).where(model.seller_id == seller_id)
        .order_by(moment.desc(), model.id.desc()).offset(total // 2).limit(1)).one()
    return encode_cursor(row[0], row[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a database bench/fill.py filled")
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    password = bench_password()
    app = app_on(args.database_url)
    with app.app_context():
        seller_id = db.session.scalar(select(User.id).where(User.email == BENCH_SELLER))
        reviews = db.session.scalar(select(func.count()).select_from(Review).where(Review.seller_id == seller_id))
        requests = db.session.scalar(select(func.count()).select_from(DeletionRequest)
                                     .where(DeletionRequest.seller_id == seller_id))
        review_middle = middle_cursor(Review, Review.created_at, seller_id)
        request_middle = middle_cursor(DeletionRequest, DeletionRequest.submitted_at, seller_id)
        offer = db.session.scalar(select(Offer.external_id).where(Offer.seller_id == seller_id)
                                  .order_by(Offer.id).limit(1))
        counter = StatementCounter(db.engine)
    print(f"{BENCH_SELLER}: {reviews:,} reviews, {requests:,} requests; median of {args.repeat}")
    pages = {
        "reviews, first page": "/seller/reviews",
        "reviews, middle page": f"/seller/reviews?after={review_middle}",
        "reviews, newer from middle": f"/seller/reviews?before={review_middle}",
        "reviews, last page": "/seller/reviews?page=last",
        "reviews, old link ?page=40": "/seller/reviews?page=40",
        "reviews 1 star, first": "/seller/reviews?stars=1",
        "reviews 1 star, middle": f"/seller/reviews?stars=1&after={review_middle}",
        "reviews 1 star, last": "/seller/reviews?stars=1&page=last",
        "reviews one offer, first": f"/seller/reviews?offer={offer}",
        "reviews one offer, last": f"/seller/reviews?offer={offer}&page=last",
        "reviews one month, first": "/seller/reviews?since=2025-06-01&until=2025-06-30",
        "reviews one month, last": "/seller/reviews?since=2025-06-01&until=2025-06-30&page=last",
        "requests, first page": "/seller/requests",
        "requests, middle page": f"/seller/requests?after={request_middle}",
        "requests, last page": "/seller/requests?page=last",
        "requests open, first": "/seller/requests?status=open",
        "requests open, last": "/seller/requests?status=open&page=last",
        "requests closed, middle": f"/seller/requests?status=closed&after={request_middle}",
    }
    client = signed_in(app, BENCH_SELLER, password)
    print(f"{'page':<30}{'median ms':>10}{'max ms':>10}{'statements':>12}{'rows':>6}")
    for label, url in pages.items():
        timing = time_page(client, counter, url, args.repeat)
        rows = client.get(url).get_data(as_text=True).count("<tr") - 1  # less the header row
        print(f"{label:<30}{timing.median_ms:>10.1f}{timing.max_ms:>10.1f}{timing.statements:>12}"
              f"{max(rows, 0):>6}")
    times = []
    with app.app_context():
        for _ in range(args.repeat):
            counter.sent = 0
            started = time.perf_counter()
            seller_rating(seller_id)
            times.append((time.perf_counter() - started) * 1000)
            db.session.rollback()
    print(f"{'the rating (service call)':<30}{statistics.median(times):>10.1f}{max(times):>10.1f}"
          f"{counter.sent:>12}")


if __name__ == "__main__":
    main()
