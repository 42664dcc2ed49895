"""Benchmark: the manager's dashboard on a desk with a million deletion requests.

    .venv/bin/python bench/dashboard.py                          (SQLite file in the temp folder)
    .venv/bin/python bench/dashboard.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Builds the data once and reuses it on later runs (SQLite: --sqlite-file; PostgreSQL: the schema
--schema of the given database; --rebuild starts over). The build migrates to the revision before
the decisions table, fills every table with INSERT … SELECT over a generated series (a recursive CTE
on SQLite, generate_series on PostgreSQL; pseudo-random values from multiplicative hashes, so every
build is the same), then runs the last migrations, whose backfills write the decision rows, copy
each request's buyer from its review and mark the reused files, and (PostgreSQL only, see build())
ANALYZEs. The data:
--requests requests submitted evenly over --days days up to the build, each decided 1 to 96 hours
later (10% withdrawn; approved 44%, but 78% for one agent, who should show as an outlier), 30% of
the last 60 days' requests still open, 10% of requests asked for information first, one to two
evidence files each, about 2% of them reused from other requests (some from before the period);
sellers heavily skewed (a handful carry 10% of the requests).

Then times GET /dashboard and GET /dashboard.json (default period: the last 30 days) through the
Flask test client, signed in as a manager, and /dashboard as an agent: the median of --repeat runs
after one warm-up (wall clock, and CPU time of the app and the database: see cpu_clock), the
number of SQL statements of one request, the slowest statements, and the figures themselves.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BEFORE_DECISIONS = "c3a9e1f20b11"
# A reused screenshot copies the first file of a request up to this many requests before (about
# 73 days at the default rate), so reuse often reaches back across a 30-day period's start.
REUSED_FROM_BACK = 100_000
SELLERS, AGENTS, BUYERS = 5_000, 20, 200_000
PASSWORD = "benchmark password 1"
# Pseudo-random but fixed values per row, in integer SQL both databases compute alike: the product
# of two hashes of x modulo unrelated primes (one multiplicative hash alone makes neighbouring
# choices correlate). Each choice has its own pair of constants.
HASHES = {"buyer": (2246822519, 40503), "reason": (3266489917, 30011), "delay": (668265263, 21503),
          "outcome": (374761393, 52361), "agent": (2654435761, 10007), "linger": (1597334677, 33331),
          "claim": (3812015801, 45943), "asked": (2869860233, 12553), "seller": (1181783497, 61483),
          "file": (2534280487, 27449), "back": (1664525013, 39119)}


def h(name: str) -> str:
    first, second = HASHES[name]
    return (f"((((x * {first}) % 2147483647) * ((x * {second} + {second // 7}) % 65521))"
            " % 2147483629)")


def plan_columns(requests: int, days: int) -> str:
    """The per-request choices, as integer SQL over x = 1..requests (the same on both databases)."""
    span = days * 86400
    return f"""
        x,
        1 + ({h('seller')} % 1000) * ({h('seller')} % 1000) * ({h('seller')} % 1000)
            * {SELLERS} / 1000000000 AS seller,
        1 + {h('buyer')} % {BUYERS} AS buyer,
        {h('reason')} / 1009 % 4 AS reason,
        ({requests} - x) * {span} / {requests} AS sub_before,
        3600 + {h('delay')} / 7 % 342000 AS delay,
        {h('outcome')} / 13 % 100 AS outcome,
        {h('agent')} / 17 % {AGENTS} AS agent,
        {h('linger')} / 19 % 100 AS linger,
        60 + {h('claim')} / 23 % 7200 AS claim,
        {h('asked')} / 29 % 10 AS asked,
        {h("file")} / 31 % 1000 AS pick,
        1 + {h("back")} / 37 % {REUSED_FROM_BACK} AS back"""


class Dialect:
    """The few SQL pieces that differ: the number series, a time some seconds before the build,
    JSON and hex text."""

    def __init__(self, name: str, now: str):
        self.name, self.now = name, now

    def series(self, count: int) -> str:
        if self.name == "sqlite":
            return (f"(WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n "
                    f"WHERE x < {count}) SELECT x FROM n)")
        return f"(SELECT generate_series(1::bigint, {count}) AS x)"

    def before_now(self, seconds: str) -> str:
        if self.name == "sqlite":  # the text UTCDateTime stores: naive UTC with microseconds
            return f"(datetime('{self.now}', printf('%+d seconds', -({seconds}))) || '.000000')"
        return f"(TIMESTAMPTZ '{self.now}+00' - ({seconds}) * INTERVAL '1 second')"

    def json(self, text: str) -> str:
        return f"'{text}'" if self.name == "sqlite" else f"CAST('{text}' AS JSON)"

    def hex(self, number: str, width: int) -> str:
        if self.name == "sqlite":
            return f"printf('%0{width}x', {number})"
        return f"lpad(to_hex({number}), {width}, '0')"


def fill_statements(sql: Dialect, requests: int, days: int) -> list[tuple[str, str]]:
    """(table, statement) in order; `plan` holds each request's choices."""
    ts = sql.before_now
    status = f"""CASE WHEN sub_before - delay < 0 OR (sub_before < 60 * 86400 AND linger < 30)
                      THEN CASE WHEN asked = 0 THEN 'needs_info' ELSE 'submitted' END
                      WHEN outcome < 10 THEN 'withdrawn'
                      WHEN outcome < CASE WHEN agent = 0 THEN 80 ELSE 50 END THEN 'approved'
                      ELSE 'rejected' END"""
    final = "status IN ('approved', 'rejected')"
    live_claim = "status IN ('submitted', 'needs_info') AND x % 20 = 0"
    # The first file of about 2% of the requests is reused: 0.2% from a ring of 300 screenshots
    # that go round (same bytes, same picture), 1% a byte-for-byte copy of an earlier request's
    # first file, 1% that picture re-encoded (same perceptual hash, other bytes). Every other
    # file's hashes are unique. The last migration's backfill marks the reused files.
    ring = "copy_no = 0 AND pick < 2"
    copied = "copy_no = 0 AND x > back AND pick"
    reused_sha = (f"CASE WHEN {ring} THEN 4000000000 + x % 300 WHEN {copied} < 12 "
                  "THEN (x - back) * 2 ELSE x * 2 + copy_no END")
    reused_phash = (f"CASE WHEN {ring} THEN 3000000000 + x % 300 WHEN {copied} < 22 "
                    "THEN (x - back) * 2 ELSE x * 2 + copy_no END")
    return [
        ("plan", f"""CREATE TEMPORARY TABLE plan AS SELECT *, {status} AS status
            FROM (SELECT {plan_columns(requests, days)} FROM {sql.series(requests)} AS n) AS choices"""),
        ("users", f"""INSERT INTO users (id, email, role, active, session_token, timezone, created_at)
            SELECT x, CASE WHEN x <= {SELLERS} THEN 'seller' || x ELSE 'agent' || (x - {SELLERS}) END
                      || '@bench.example.com',
                   CASE WHEN x <= {SELLERS} THEN 'seller' ELSE 'agent' END, 1 = 1,
                   'bench-token-' || x, 'UTC', {ts(str(days * 86400 + 86400))}
            FROM {sql.series(SELLERS + AGENTS)} AS n"""),
        ("buyers", f"INSERT INTO buyers (id, username) SELECT x, 'buyer' || x FROM {sql.series(BUYERS)} AS n"),
        ("offers", f"""INSERT INTO offers (id, external_id, title, seller_id)
            SELECT x, 'OF-' || x, 'Offer ' || x, x FROM {sql.series(SELLERS)} AS n"""),
        ("orders", """INSERT INTO orders (id, external_id, status, offer_id, buyer_id)
            SELECT x, 'O-' || x, 'finished', seller, buyer FROM plan ORDER BY x"""),
        ("reviews", f"""INSERT INTO reviews (id, external_id, order_id, seller_id, buyer_id,
                rating_fulfillment, rating_start_time, rating_communication, text, created_at,
                is_visible, imported_at)
            SELECT x, 'R-' || x, x, seller, buyer, 1 + x % 5, 1 + x / 5 % 5, 1 + x / 25 % 5,
                   'Asked for 50% off or I leave one star.', {ts('sub_before + 86400')},
                   1 = 1, {ts('sub_before + 3600')}
            FROM plan ORDER BY x"""),
        ("deletion_requests", f"""INSERT INTO deletion_requests (id, review_id, seller_id, reason,
                explanation, review_snapshot, status, submitted_at, updated_at, version,
                decided_at, decided_by_id, claimed_at, assignee_id, lease_expires_at)
            SELECT x, x, seller,
                   CASE reason WHEN 0 THEN 'competitor_attack' WHEN 1 THEN 'wrong_offer'
                               WHEN 2 THEN 'blackmail' ELSE 'unrelated_feedback' END,
                   'The buyer asked for a discount in exchange for the rating.',
                   {sql.json('{"text": "Asked for 50% off"}')}, status, {ts('sub_before')},
                   CASE WHEN status IN ('submitted', 'needs_info') THEN {ts('sub_before')}
                        ELSE {ts('sub_before - delay')} END, 1,
                   CASE WHEN {final} THEN {ts('sub_before - delay')} END,
                   CASE WHEN {final} THEN {SELLERS + 1} + agent END,
                   CASE WHEN {final} THEN {ts('sub_before - delay + claim')}
                        WHEN {live_claim} THEN {ts('claim')} END,
                   CASE WHEN {live_claim} THEN {SELLERS + 1} + agent END,
                   CASE WHEN {live_claim} THEN {ts('claim - 3600')} END
            FROM plan ORDER BY x"""),
        ("request_messages", f"""INSERT INTO request_messages (request_id, author_id, kind, body, created_at)
            SELECT x, {SELLERS + 1} + agent, 'info_requested', 'Please show the chat.',
                   {ts('sub_before - delay / 2')}
            FROM plan WHERE asked = 0 AND sub_before - delay / 2 >= 0 ORDER BY x"""),
        ("evidence", f"""INSERT INTO evidence (request_id, uploaded_by_id, original_filename,
                stored_name, thumbnail_name, format, width, height, byte_size, sha256,
                perceptual_hash, phash_band_0, phash_band_1, phash_band_2, phash_band_3, created_at)
            SELECT x, seller, 'chat.png', 'b-' || x || '-' || copy_no, 't-' || x || '-' || copy_no,
                   'png', 720, 400, 48000, {sql.hex(reused_sha, 64)}, {sql.hex(reused_phash, 16)},
                   0, 0, ({reused_phash}) / 65536, ({reused_phash}) % 65536, {ts('sub_before')}
            FROM plan, (SELECT 0 AS copy_no UNION ALL SELECT 1) AS copies
            WHERE copy_no = 0 OR x % 2 = 0 ORDER BY x, copy_no"""),
    ]


def build(app, args: argparse.Namespace) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import text

    from moderation_app.database import utcnow
    from moderation_app.extensions import db

    dialect = db.engine.dialect.name
    now = utcnow().replace(microsecond=0, tzinfo=None).isoformat(sep=" ")
    started = time.perf_counter()
    upgrade(revision=BEFORE_DECISIONS)
    print(f"{dialect}: migrated to {BEFORE_DECISIONS} in {time.perf_counter() - started:.0f} s")
    with db.engine.begin() as connection:
        for table, statement in fill_statements(Dialect(dialect, now), args.requests, args.days):
            started = time.perf_counter()
            rows = connection.execute(text(statement)).rowcount
            print(f"  {table}: {rows:,} rows in {time.perf_counter() - started:.0f} s", flush=True)
        connection.execute(text("DROP TABLE plan"))
        if dialect == "postgresql":  # explicit ids: move the sequences past them
            for table in ("users", "buyers", "offers", "orders", "reviews", "deletion_requests"):
                connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    started = time.perf_counter()
    upgrade()
    print(f"  last migrations (decisions backfill, buyer_id and reuse marks, indexes) in "
          f"{time.perf_counter() - started:.0f} s")
    if dialect != "postgresql":
        # SQLite is measured without statistics, as the app runs it (nothing runs ANALYZE). With
        # them (sqlite_stat1), SQLite picks slower plans for two statements: top sellers 15 -> 42 ms,
        # per agent 44 -> 65 ms at a million requests. (The ANALYZE this ran before was rolled
        # back with the connection's own transaction, so earlier figures had none either.)
        return
    started = time.perf_counter()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    print(f"  VACUUM ANALYZE in {time.perf_counter() - started:.0f} s")


def ensure_staff(app) -> None:
    from sqlalchemy import select

    from moderation_app.extensions import db
    from moderation_app.models.users import Role, User
    from moderation_app.services.accounts import create_user

    for email, role in (("manager@bench.example.com", Role.MANAGER), ("agent1@bench.example.com", Role.AGENT)):
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            create_user(email, role, PASSWORD)
        elif user.password_hash is None:
            user.set_password(PASSWORD)
    db.session.commit()


def signed_in(app, email: str):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, (email, response.status_code)
    return client


def cpu_clock(app):
    """Seconds of CPU spent on the requests: this process's (the app, and SQLite, which runs in
    it) plus, on PostgreSQL, its server processes' (read from /proc, so the server must run on
    this machine; parallel workers are not counted). On a machine shared with other work,
    wall-clock times grow with the load; the CPU time much less (PostgreSQL's counts in ticks of
    10 ms: take the median)."""
    from sqlalchemy import event, text

    from moderation_app.extensions import db

    pids: set[int] = set()
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            return time.process_time
        db.engine.dispose()  # every later connection is seen connecting

        @event.listens_for(db.engine, "connect")
        def _remember(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT pg_backend_pid()")
            pids.add(cursor.fetchone()[0])
            cursor.close()

        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    ticks = os.sysconf("SC_CLK_TCK")

    def clock() -> float:
        total = time.process_time()
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # a closed connection's process is gone, and so is its time
                continue
            total += (int(fields[11]) + int(fields[12])) / ticks
        return total
    return clock


def measure(app, args: argparse.Namespace) -> None:
    from sqlalchemy import event

    from moderation_app.extensions import db

    statements: list[list] = []

    def before(_conn, _cursor, statement, *_rest) -> None:
        statements.append([" ".join(statement.split())[:90], time.perf_counter()])

    def after(*_rest) -> None:
        statements[-1].append(time.perf_counter())

    cpu = cpu_clock(app)
    manager = signed_in(app, "manager@bench.example.com")
    agent = signed_in(app, "agent1@bench.example.com")
    cases = [("GET /dashboard (manager)", manager, "/dashboard"),
             ("GET /dashboard.json (manager)", manager, "/dashboard.json"),
             ("GET /dashboard (agent1, own figures)", agent, "/dashboard")]
    print(f"\n{'request':<40} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'CPU ms':>7} "
          f"{'statements':>11}")
    for label, client, url in cases:
        assert client.get(url).status_code == 200  # warm-up
        times, cpu_times = [], []
        for _ in range(args.repeat):
            started, started_cpu = time.perf_counter(), cpu()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            cpu_times.append((cpu() - started_cpu) * 1000)
            assert response.status_code == 200, response.status_code
        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", before)
            event.listen(db.engine, "after_cursor_execute", after)
            statements.clear()
            client.get(url)
            event.remove(db.engine, "before_cursor_execute", before)
            event.remove(db.engine, "after_cursor_execute", after)
        print(f"{label:<40} {statistics.median(times):>10.1f} {min(times):>8.1f} {max(times):>8.1f} "
              f"{statistics.median(cpu_times):>7.1f} {len(statements):>11}")
        for text_, start, end in sorted(statements, key=lambda s: s[1] - s[2])[:4]:
            print(f"    {1000 * (end - start):7.1f} ms  {text_}")
    figures = manager.get("/dashboard.json").get_json()
    print("\nfigures (manager, default period):")
    for key in ("period", "backlog", "time_to_decision_hours"):
        print(f"  {key}: {json.dumps(figures[key])}")
    print(f"  flow: {len(figures['flow'])} days, submitted {sum(d['submitted'] for d in figures['flow']):,}, "
          f"decided {sum(d['decided'] for d in figures['flow']):,}")
    print(f"  outcomes all: {json.dumps(figures['outcomes']['all'])}")
    for agent_row in figures["agents"][:3]:
        print(f"  agent: {json.dumps(agent_row)}")
    print(f"  outliers: {[a['email'] for a in figures['agents'] if a['outlier']]}")
    signals = figures["signals"]
    print(f"  top seller: {json.dumps(signals['top_sellers'][0]) if signals['top_sellers'] else None}")
    print(f"  buyers: {len(signals['buyers'])}, first {json.dumps(signals['buyers'][:1])}")
    print(f"  reused evidence: {len(signals['reused_evidence'])}, first "
          f"{json.dumps(signals['reused_evidence'][:1])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=730, help="the span the requests are spread over")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--database-url", help="PostgreSQL: a database to keep the data in, as --schema")
    parser.add_argument("--schema", default="bench_dashboard")
    parser.add_argument("--sqlite-file", default=str(Path(tempfile.gettempdir()) / "bench-dashboard.sqlite3"))
    parser.add_argument("--rebuild", action="store_true", help="drop the kept data and build it again")
    args = parser.parse_args()

    from sqlalchemy import create_engine, text

    options: dict[str, object] = {}
    if args.database_url:
        url = args.database_url
        engine = create_engine(url)
        with engine.begin() as connection:
            if args.rebuild:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {args.schema} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {args.schema}"))
        engine.dispose()
        options = {"connect_args": {"options": f"-csearch_path={args.schema}"}}
    else:
        if args.rebuild and os.path.exists(args.sqlite_file):
            os.remove(args.sqlite_file)
        url = f"sqlite:///{args.sqlite_file}"

    from moderation_app import create_app
    from moderation_app.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": options,
                      "SECRET_KEY": "benchmark-only", "SESSION_COOKIE_SECURE": False,
                      "WTF_CSRF_ENABLED": False, "UPLOAD_DIR": str(Path(tempfile.gettempdir()) / "bench-uploads")})
    with app.app_context():
        with db.engine.connect() as connection:
            filled = connection.execute(text(
                "SELECT count(*) FROM deletion_requests" if db.inspect(db.engine).has_table("decisions")
                else "SELECT 0")).scalar()
        if not filled:
            build(app, args)
        else:
            print(f"reusing {filled:,} requests at {url} ({args.schema if args.database_url else 'file'})")
        ensure_staff(app)
        for table in ("deletion_requests", "decisions", "request_messages", "evidence"):
            print(f"  {table}: {db.session.execute(text(f'SELECT count(*) FROM {table}')).scalar():,} rows")
        db.session.rollback()
    measure(app, args)


if __name__ == "__main__":
    main()
