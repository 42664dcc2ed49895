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
import sys
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402 (the root is on the path only from here)

from bench.fill import BENCH_MANAGER  # noqa: E402
from bench.web import StatementCounter, app_on, bench_password, signed_in, time_page  # noqa: E402
from moderation_app.extensions import db  # noqa: E402
from moderation_app.models.audit import AuditEvent  # noqa: E402
from moderation_app.models.users import Role, User  # noqa: E402
from moderation_app.services.accounts import create_user  # noqa: E402
from moderation_app.services.audit.export import page_statement  # noqa: E402

MANAGER = BENCH_MANAGER
PAGE_SIZE = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    password = bench_password()
    os.environ.setdefault("UPLOAD_DIR", "/tmp/bench-audit/uploads")
    app = app_on(args.database_url)
    with app.app_context():
        if db.session.scalar(select(func.count()).select_from(User).where(User.email == MANAGER)) == 0:
            create_user(MANAGER, Role.MANAGER, password)
            db.session.commit()
        last = db.session.scalar(select(func.max(AuditEvent.id)))
        engine = db.engine
        counter = StatementCounter(engine)
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

    client = signed_in(app, MANAGER, password)
    print(f"{args.database_url}: {last:,} events, {args.repeat} runs each")
    print("| filter | page | median ms | max ms | statements | rows |")
    print("|---|---|---|---|---|---|")
    for label, query in cases:
        for where, before in (("first", None), (f"before={middle:,}", middle)):
            params = {**query, **({"before": before} if before else {})}
            url = "/audit" + ("?" + urlencode(params) if params else "")
            timing = time_page(client, counter, url, args.repeat)
            rows = client.get(url).get_data(as_text=True).split("<tbody>")[-1].count("<tr")
            print(f"| {label} | {where} | {timing.median_ms:.1f} | {timing.max_ms:.1f} | "
                  f"{timing.statements} | {rows} |", flush=True)
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
