"""Benchmark: import a million marketplace reviews, re-import them, and read a big seller's page.

    .venv/bin/python bench/import_million.py [--lines 1000000] [--database-url URL]

Runs the real CLI (`flask --app wsgi import-marketplace`) in a subprocess against a fresh database and
reports wall time and the subprocess's peak memory (max RSS) for the first import (all new) and the
second (all unchanged), then times the seller's rating query and first and deep pages of /seller/reviews.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def write_lines(path: Path, count: int, sellers: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    statuses = ["finished"] * 8 + ["refund", "canceled"]
    with path.open("w", encoding="utf-8") as out:
        for number in range(count):
            # Skewed: a few sellers carry many reviews, as on a real marketplace.
            seller = min(int(rng.paretovariate(1.2)) - 1, sellers - 1)
            offer = seller * 10 + rng.randrange(10)
            created = start + timedelta(minutes=number)
            out.write(json.dumps({
                "review_id": f"R-{number}",
                "order_id": f"O-{number}",
                "order_status": rng.choice(statuses),
                "offer_id": f"OF-{offer}",
                "offer_title": f"Offer {offer}: game service",
                "seller_email": f"seller{seller}@bench.example.com",
                "buyer": f"buyer{rng.randrange(count // 5 or 1)}",
                "ratings": {"fulfillment": rng.randint(1, 5), "start_time": rng.randint(1, 5),
                            "communication": rng.randint(1, 5)},
                "text": "Fast delivery, friendly seller." if rng.random() < 0.7 else "",
                "created_at": created.isoformat().replace("+00:00", "Z"),
            }) + "\n")


def run_import(path: Path, env: dict[str, str], workdir: Path) -> tuple[float, float, int, str]:
    """Wall time, CPU time (user + system), peak RSS (KiB) of this one child, and the command's
    summary line. CPU time shows the importer's own cost when other work shares the machine
    (on PostgreSQL the server's work is not in it)."""
    stdout, stderr = workdir / "stdout.txt", workdir / "stderr.txt"
    started = time.perf_counter()
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "import-marketplace", str(path)],
            cwd=ROOT, env=env, stdout=out, stderr=err,
        )
        _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"import failed: {stderr.read_text()[-2000:]}")
    return (elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss,
            stdout.read_text().strip().splitlines()[-1])


def time_reads(env: dict[str, str]) -> list[tuple[str, float]]:
    os.environ.update(env)
    from sqlalchemy import func, select

    from moderation_app import create_app
    from moderation_app.extensions import db
    from moderation_app.models import Review
    from moderation_app.services.marketplace.ratings import seller_rating

    app = create_app({"SESSION_COOKIE_SECURE": False})
    results = []
    with app.app_context():
        seller_id, count = db.session.execute(
            select(Review.seller_id, func.count()).group_by(Review.seller_id)
            .order_by(func.count().desc()).limit(1)).one()
        started = time.perf_counter()
        for _ in range(10):
            seller_rating(seller_id)
        results.append((f"seller_rating() for the largest seller ({count} reviews), mean of 10",
                        (time.perf_counter() - started) / 10))
        from moderation_app.models import User
        from moderation_app.services.accounts import set_password
        seller = db.session.get(User, seller_id)
        set_password(seller, "benchmark-password-1")
        db.session.commit()
        email = seller.email
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post("/login", data={"email": email, "password": "benchmark-password-1", "csrf_token": token})
    last_page = (count + 24) // 25
    for label, url in (("GET /seller/reviews page 1", "/seller/reviews"),
                       (f"GET /seller/reviews page {last_page} (last)", f"/seller/reviews?page={last_page}")):
        client.get(url)  # warm
        started = time.perf_counter()
        for _ in range(10):
            assert client.get(url).status_code == 200
        results.append((label + ", mean of 10", (time.perf_counter() - started) / 10))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--sellers", type=int, default=5_000)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temp folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "benchmark-only",
               "UPLOAD_DIR": str(workdir / "uploads")}
        data = workdir / "reviews.jsonl"
        started = time.perf_counter()
        write_lines(data, args.lines, args.sellers)
        print(f"wrote {args.lines} lines ({data.stat().st_size / 1e6:.0f} MB) "
              f"in {time.perf_counter() - started:.1f} s")
        subprocess.run([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "db", "upgrade"],
                       cwd=ROOT, env=env, check=True, capture_output=True)
        for label in ("first import", "second import"):
            elapsed, cpu, peak_kib, summary = run_import(data, env, workdir)
            print(f"{label}: {elapsed:.1f} s, {args.lines / elapsed:,.0f} lines/s, "
                  f"importer CPU {cpu:.1f} s, peak RSS {peak_kib / 1024:.0f} MiB -> {summary}",
                  flush=True)
        for label, seconds in time_reads(env):
            print(f"{label}: {seconds * 1000:.1f} ms")


if __name__ == "__main__":
    main()
