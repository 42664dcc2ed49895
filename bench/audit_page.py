"""Benchmark: the audit viewer (`/audit`, manager only) over a million events.

    BENCH_PASSWORD=... .venv/bin/python bench/audit_page.py --database-url URL [--repeat 9] [--explain]

URL: a database bench/audit_million.py built (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/bench_audit
or sqlite:////tmp/bench-audit/audit.sqlite3). Adds the manager bench-manager@example.com with the password
in BENCH_PASSWORD if missing (one `user.created` event; signing in appends `auth.login`: the chain only
grows), signs in through the login form, then times whole requests through Flask's test client
(routing, session, queries, template) for the first page and a page half-way down the log (`before=`),
with no filter and with each filter, printing the median, the maximum and the statements per request.
--explain prints the plan of each page's query (EXPLAIN ANALYZE / EXPLAIN QUERY PLAN).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, func, select, text  # noqa: E402 (the root is on the path only from here)

from moderation_app import create_app  # noqa: E402
from moderation_app.extensions import db  # noqa: E402
from moderation_app.models.audit import AuditEvent  # noqa: E402
from moderation_app.models.users import Role, User  # noqa: E402
from moderation_app.services.accounts import create_user  # noqa: E402
from moderation_app.services.audit.export import page_statement  # noqa: E402

MANAGER = "bench-manager@example.com"
PASSWORD_VARIABLE = "BENCH_PASSWORD"
PAGE_SIZE = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    password = os.environ.get(PASSWORD_VARIABLE)
    if not password:
        sys.exit(f"Set {PASSWORD_VARIABLE}: the bench manager's password.")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("UPLOAD_DIR", "/tmp/bench-audit/uploads")
    os.environ["DATABASE_URL"] = args.database_url
    app = create_app({"SESSION_COOKIE_SECURE": False})
    with app.app_context():
        if db.session.scalar(select(func.count()).select_from(User).where(User.email == MANAGER)) == 0:
            create_user(MANAGER, Role.MANAGER, password)
            db.session.commit()
        last = db.session.scalar(select(func.max(AuditEvent.id)))
        engine = db.engine
    middle = last // 2
    cases = [("no filter", {}), ("action=auth.login", {"action": "auth.login"}),
             ("action=request.decided", {"action": "request.decided"}),
             ("actor=agent7@", {"actor": "agent7@"}), ("actor=SYSTEM (21 events)", {"actor": "SYSTEM"}),
             ("actor=nobody (no match)", {"actor": "nobody"}), ("request=123457", {"request": "123457"}),
             ("since/until one day", {"since": "2024-01-05", "until": "2024-01-05"}),
             ("since/until two days", {"since": "2024-01-03", "until": "2024-01-04"}),
             ("since only", {"since": "2024-01-03"}), ("until only", {"until": "2024-01-06"}),
             ("one day + actor=agent7@", {"since": "2024-01-05", "until": "2024-01-05", "actor": "agent7@"}),
             ("no match (action=x)", {"action": "no.such.action"})]

    client = app.test_client()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").get_data(as_text=True))
    signed = client.post("/login", data={"email": MANAGER, "password": password,
                                         "csrf_token": token.group(1)})
    if signed.status_code not in (302, 303):
        sys.exit(f"{MANAGER} could not sign in ({signed.status_code}): is {PASSWORD_VARIABLE} right?")
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *call: sent.append(call[2]))
    print(f"{args.database_url}: {last:,} events, {args.repeat} runs each")
    print("| filter | page | median ms | max ms | statements | rows |")
    print("|---|---|---|---|---|---|")
    for label, query in cases:
        for where, before in (("first", None), (f"before={middle:,}", middle)):
            params = {**query, **({"before": before} if before else {})}
            url = "/audit" + ("?" + urlencode(params) if params else "")
            times = []
            for _ in range(args.repeat):
                sent.clear()
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    sys.exit(f"{url} answered {response.status_code}")
            rows = response.get_data(as_text=True).split("<tbody>")[-1].count("<tr")
            print(f"| {label} | {where} | {statistics.median(times):.1f} | {max(times):.1f} | "
                  f"{len(sent)} | {rows} |", flush=True)
            if args.explain:
                explain(app, engine, query, before)


def explain(app, engine, query: dict[str, str], before: int | None) -> None:
    from moderation_app.audit.filters import audit_filters_from

    with app.app_context():
        filters, _ = audit_filters_from(query)
        statement = page_statement(filters, before, PAGE_SIZE + 1)
        if statement is None:
            print("    (no actor matches: no query)")
            return
        sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
        prefix = "EXPLAIN ANALYZE " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
        for row in db.session.execute(text(prefix + sql)):
            print("    " + " | ".join(str(value) for value in row))


if __name__ == "__main__":
    main()
