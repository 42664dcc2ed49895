"""Benchmark: requests per second of `/queue` and `/requests/<id>` under concurrent agents, the app under
gunicorn with 4 workers on loopback, on a database bench/fill.py filled.

    pip install -r bench/requirements.txt   # Locust
    BENCH_PASSWORD=... .venv/bin/python bench/throughput.py --database-url URL [--users 16] [--seconds 30]

Starts gunicorn (`-w 4`, as the README's production line) on a free loopback port, signs the bench agent
in once, then runs Locust headless (bounded: --users clients for --seconds) against the two pages, half
and half, over the 500 newest submitted requests. Prints Locust's requests/s, p50, p99 and failures per
page; the server's log and Locust's CSV stay in bench/out/throughput-<time>/. Reads only: no page it
asks for writes (a sign-in writes its audit event).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load.servers import BIN, app_environment, gunicorn  # noqa: E402
from bench.web import bench_password  # noqa: E402

AGENT = "bench-agent@example.com"


def newest_submitted(database_url: str, count: int) -> list[int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.connect() as connection:
        ids = list(connection.scalars(text(
            "SELECT id FROM deletion_requests WHERE status = 'submitted' ORDER BY id DESC LIMIT :n"),
            {"n": count}))
    engine.dispose()
    if not ids:
        sys.exit("no submitted request: fill the database with bench/fill.py first")
    return ids


def sign_in(base_url: str, password: str) -> dict[str, str]:
    session = requests.Session()
    page = session.get(base_url + "/login", timeout=30).text
    token = page.split('name="csrf_token"', 1)[1].split('value="', 1)[1].split('"', 1)[0]
    answer = session.post(base_url + "/login", timeout=30, allow_redirects=False,
                          data={"email": AGENT, "password": password, "csrf_token": token})
    if answer.status_code not in (302, 303) or "/login" in answer.headers.get("Location", ""):
        sys.exit(f"{AGENT} could not sign in ({answer.status_code}): is BENCH_PASSWORD right?")
    return session.cookies.get_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a database bench/fill.py filled")
    parser.add_argument("--users", type=int, default=16, help="concurrent Locust users (1-64)")
    parser.add_argument("--seconds", type=int, default=30, help="length of the run (5-300)")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    if not (1 <= args.users <= 64 and 5 <= args.seconds <= 300):
        parser.error("--users must be 1-64 and --seconds 5-300: the run stays bounded")
    password = bench_password()
    out = ROOT / "bench" / "out" / f"throughput-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True)
    ids = newest_submitted(args.database_url, 500)
    env = app_environment(args.database_url, out / "uploads")
    server = gunicorn(env, out / "server.log", workers=args.workers)
    server.start()
    try:
        cookies = sign_in(server.base_url, password)
        locust_env = {**os.environ, "THROUGHPUT_COOKIES": json.dumps(cookies),
                      "THROUGHPUT_REQUEST_IDS": ",".join(map(str, ids))}
        subprocess.run(
            [str(BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
             "--users", str(args.users), "--spawn-rate", str(args.users), "--run-time", f"{args.seconds}s",
             "--stop-timeout", "10", "--host", server.base_url, "--csv", str(out / "locust"),
             "--only-summary", "--loglevel", "WARNING"],
            env=locust_env, check=False, timeout=args.seconds + 120,
            stdout=(out / "locust.log").open("wb"), stderr=subprocess.STDOUT)
    finally:
        server.stop()
    with (out / "locust_stats.csv").open(newline="") as stats:
        rows = list(csv.DictReader(stats))
    print(f"gunicorn -w {args.workers}, {args.users} Locust users, {args.seconds} s "
          f"({server.label.split(', ')[-1]} at {args.database_url.split('@')[-1]})")
    print(f"{'page':<18}{'requests':>10}{'failures':>10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}")
    for row in rows:
        print(f"{row['Name']:<18}{row['Request Count']:>10}{row['Failure Count']:>10}"
              f"{float(row['Requests/s']):>9.1f}{row['50%']:>9}{row['99%']:>9}")
    print(f"details: {out}")


if __name__ == "__main__":
    main()
