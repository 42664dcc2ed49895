"""Benchmark: `flask --app wsgi audit verify` and `audit export` (CSV, JSON Lines) over a million events.

    .venv/bin/python bench/audit_million.py --database-url URL [--events 1000000] [--reuse]
        [--app-root DIR] [--runs verify,csv,jsonl,copy]

URL: an EMPTY database (built once: `flask db upgrade`, then a valid chain computed with the app's own
`event_hash` and bulk-loaded, COPY on PostgreSQL, executemany on SQLite), e.g.
postgresql+psycopg://postgres@127.0.0.1:5432/bench_audit or sqlite:////tmp/bench-audit/audit.sqlite3.
--reuse measures the database a previous run built. --app-root runs the commands from another copy of
the code (the "before" numbers), with this venv.

Each command runs in a child process writing to a pipe: wall time, time to its first output byte
(from spawn, so it includes ~1-2 s of interpreter and app start-up, measured alone as `startup`),
peak RSS (the child's ru_maxrss) and the SHA-256 of the first --events rows, so two versions of the code
can be checked byte for byte. Each export appends one `audit.exported` event, which the row limit leaves
out (the rows are dated 2024; nothing else is written). `copy` is PostgreSQL's own
`COPY (SELECT …) TO STDOUT CSV` of the same rows and join through psql, the yardstick for the exports.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COLUMNS = ("id", "occurred_at", "actor_id", "actor_email", "actor_role", "action", "request_id",
           "review_id", "details", "prev_hash", "hash")
COPY_SELECT = ("SELECT e.id, e.occurred_at, e.actor_email, e.actor_role, e.action, e.request_id, "
               "r.external_id, e.details, e.prev_hash, e.hash FROM audit_events e "
               "LEFT JOIN reviews r ON r.id = e.review_id ORDER BY e.id")


def event_rows(count: int):
    """The chain, computed with the app's own hashing: varied notes (quotes, commas, non-ASCII,
    formula prefixes) so no row repeats and the CSV quoting paths all run."""
    from moderation_app.models.audit import GENESIS_HASH
    from moderation_app.services.audit.log import canonical_json, event_hash

    start = datetime(2024, 1, 1, tzinfo=UTC)
    previous = GENESIS_HASH
    for number in range(1, count + 1):
        if number % 3:
            note = f'Not enough evidence for case {number}, see "policy" §4.'
            if number % 97 == 0:
                note = "=" + note
            details = {"decision": "reject" if number % 2 else "approve", "note": note,
                       "status_after": "rejected", "status_before": "submitted"}
        else:
            details = {"remote_addr": f"10.0.{number % 256}.{number % 199}"}
        row = SimpleNamespace(
            id=number, occurred_at=start + timedelta(seconds=number, microseconds=number % 997),
            actor_id=number % 50, actor_email=f"agent{number % 50}@example.com",
            actor_role="agent", action="request.decided" if number % 3 else "auth.login",
            request_id=number if number % 3 else None, review_id=number if number % 3 else None,
            details=canonical_json(details), prev_hash=previous)
        row.hash = event_hash(row)
        previous = row.hash
        yield row


def build(url: str, count: int, env: dict[str, str]) -> None:
    subprocess.run([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "db", "upgrade"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    from sqlalchemy import create_engine, insert

    from moderation_app.models.audit import AuditEvent

    started = time.perf_counter()
    engine = create_engine(url)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            cursor = connection.connection.dbapi_connection.cursor()
            with cursor.copy(f"COPY audit_events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in event_rows(count):
                    copy.write_row([getattr(row, column) for column in COLUMNS])
            # As autovacuum would soon: without statistics the planner sorts the whole log
            # before the first row instead of walking the primary key.
            cursor.execute("ANALYZE audit_events")
        else:
            batch = []
            for row in event_rows(count):
                batch.append(vars(row))
                if len(batch) == 50_000:
                    connection.execute(insert(AuditEvent), batch)
                    batch.clear()
            if batch:
                connection.execute(insert(AuditEvent), batch)
    print(f"built and loaded {count:,} chained events in {time.perf_counter() - started:.1f} s")


def measure(argv: list[str], env: dict[str, str], cwd: Path, limit_lines: int | None):
    """(wall s, first byte s, CPU s, peak RSS MiB, sha256 of the first limit_lines lines, exit,
    last line of output)."""
    digest = hashlib.sha256()
    lines = 0
    first = None
    tail = b""
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    for chunk in iter(lambda: process.stdout.read1(1 << 20), b""):
        if first is None:
            first = time.perf_counter() - started
        tail = chunk[-200:]
        if limit_lines is None or lines < limit_lines:
            for line in chunk.splitlines(keepends=True):
                if limit_lines is not None and lines >= limit_lines:
                    break
                digest.update(line)
                lines += line.endswith(b"\n")
    error = process.stderr.read().decode(errors="replace").strip().splitlines()[-1:] or [""]
    if limit_lines is None and tail.strip():
        error = tail.decode(errors="replace").strip().splitlines()[-1:]
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    return (wall, first or wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
            digest.hexdigest()[:12],
            os.waitstatus_to_exitcode(status), error[0][:70])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--app-root", type=Path, default=ROOT)
    parser.add_argument("--runs", default="startup,verify,csv,jsonl,copy")
    args = parser.parse_args()
    env = {**os.environ, "DATABASE_URL": args.database_url, "SECRET_KEY": "benchmark-only",
           "UPLOAD_DIR": "/tmp/bench-audit/uploads", "PYTHONPATH": str(args.app_root)}
    os.environ.update(env)
    if not args.reuse:
        build(args.database_url, args.events, env)
    flask = [str(ROOT / ".venv/bin/flask"), "--app", "wsgi"]
    runs = {
        "startup": (flask + ["audit", "--help"], None),
        "verify": (flask + ["audit", "verify"], None),
        "csv": (flask + ["audit", "export", "--format", "csv"], args.events + 1),
        "jsonl": (flask + ["audit", "export", "--format", "jsonl"], args.events),
    }
    if args.database_url.startswith("postgresql"):
        psql_url = args.database_url.replace("postgresql+psycopg", "postgresql")
        runs["copy"] = (["psql", psql_url, "-c", f"COPY ({COPY_SELECT}) TO STDOUT CSV HEADER"],
                        args.events + 1)
    print(f"{args.database_url} from {args.app_root}")
    print("| run | wall s | first byte s | CPU s | peak RSS MiB | events/s (wall) | sha256 of rows | result |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.runs.split(","):
        if name not in runs:
            continue
        argv, limit = runs[name]
        wall, first, cpu, rss, digest, status, message = measure(argv, env, args.app_root, limit)
        rate = f"{args.events / wall:,.0f}" if name != "startup" else ""
        print(f"| {name} | {wall:.2f} | {first:.2f} | {cpu:.2f} | {rss:.0f} | {rate} | {digest} | "
              f"exit {status}: {message} |", flush=True)


if __name__ == "__main__":
    main()
