"""Benchmark: `flask --app wsgi audit verify` and `audit export` over a million audit events.

    .venv/bin/python bench/audit_verify.py [--events 1000000] [--database-url URL_OF_AN_EMPTY_DB]

Builds a valid hash chain of realistic events (the app's own hashing), bulk-inserts it into a fresh
database, then runs the real CLI commands in a subprocess and reports wall time and peak RSS.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run(args: list[str], env: dict[str, str], workdir: Path) -> tuple[float, int, str]:
    out = workdir / "out.txt"
    started = time.perf_counter()
    with out.open("wb") as stdout, (workdir / "err.txt").open("wb") as stderr:
        process = subprocess.Popen([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", *args],
                                   cwd=ROOT, env=env, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    last = (workdir / "err.txt").read_text().strip().splitlines()[-1:] or [""]
    if args[1] == "verify":
        last = out.read_text().strip().splitlines()[-1:]
    return elapsed, usage.ru_maxrss, f"exit {os.waitstatus_to_exitcode(status)}: {last[0][:90]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        url = args.database_url or f"sqlite:///{workdir / 'audit.sqlite3'}"
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "benchmark-only",
               "UPLOAD_DIR": str(workdir / "uploads")}
        subprocess.run([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "db", "upgrade"],
                       cwd=ROOT, env=env, check=True, capture_output=True)
        os.environ.update(env)
        from sqlalchemy import insert

        from moderation_app import create_app
        from moderation_app.extensions import db
        from moderation_app.models.audit import GENESIS_HASH, AuditEvent
        from moderation_app.services.audit.log import canonical_json, event_hash

        app = create_app({"SESSION_COOKIE_SECURE": False})
        started = time.perf_counter()
        start = datetime(2024, 1, 1, tzinfo=UTC)
        previous = GENESIS_HASH
        with app.app_context():
            rows = []
            for number in range(1, args.events + 1):
                details = {"decision": "reject", "note": "Not enough evidence.", "status_before": "submitted",
                           "status_after": "rejected"} if number % 3 else {"remote_addr": "10.0.0.1"}
                row = SimpleNamespace(
                    id=number, occurred_at=start + timedelta(seconds=number), actor_id=number % 50,
                    actor_email=f"agent{number % 50}@example.com", actor_role="agent",
                    action="request.decided" if number % 3 else "auth.login",
                    request_id=number if number % 3 else None, review_id=number if number % 3 else None,
                    details=canonical_json(details), prev_hash=previous)
                row.hash = event_hash(row)
                previous = row.hash
                rows.append(vars(row))
                if len(rows) == 10_000:
                    db.session.execute(insert(AuditEvent), rows)
                    db.session.commit()
                    rows.clear()
            if rows:
                db.session.execute(insert(AuditEvent), rows)
                db.session.commit()
        print(f"built and inserted {args.events:,} chained events in {time.perf_counter() - started:.1f} s")
        for label, command in (("audit verify", ["audit", "verify"]),
                               ("audit export --format csv", ["audit", "export", "--format", "csv",
                                                              "-o", str(workdir / "a.csv")]),
                               ("audit export --format jsonl", ["audit", "export", "--format", "jsonl",
                                                                "-o", str(workdir / "a.jsonl")])):
            elapsed, peak_kib, summary = run(command, env, workdir)
            print(f"{label}: {elapsed:.1f} s, peak RSS {peak_kib / 1024:.0f} MiB ({summary})")


if __name__ == "__main__":
    main()
