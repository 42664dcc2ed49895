"""Benchmark: the context signals of one request (request_signals) on PostgreSQL at scale.

    .venv/bin/python bench/context_pg.py [DATABASE_URL]      (env: REUSE=1 keep data, PLANS=1 EXPLAIN, DROP=0 keep schema)

Fills a scratch schema with 2,000 sellers, 200,000 buyers, 1,000,000 orders and reviews, 300,000 decided
requests and 900,000 evidence rows with random perceptual hashes (generate_series, a minute or two), then
times request_signals() for three requests and each of its statements.
"""
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from flask_migrate import upgrade
from sqlalchemy import create_engine, event, text

from moderation_app import create_app
from moderation_app.extensions import db

URL = sys.argv[1] if len(sys.argv) > 1 else "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA = "bench_context"
REUSE = os.environ.get("REUSE") == "1"
eng = create_engine(URL)
if not REUSE:
    with eng.begin() as c:
        c.execute(text(f"CREATE SCHEMA {SCHEMA}"))
app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": URL,
                  "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"options": f"-csearch_path={SCHEMA}"}},
                  "UPLOAD_DIR": "/tmp/bench_context_uploads"})
try:
    with app.app_context():
        t = time.time()
        if not REUSE:
          upgrade()
        stmts = """
INSERT INTO users (id, email, role, active, session_token, timezone, created_at)
  SELECT g, 's'||g||'@x.com', 'seller', true, md5(g::text), 'UTC', now() FROM generate_series(1,2000) g;
INSERT INTO buyers (id, username) SELECT g, 'b'||g FROM generate_series(1,200000) g;
INSERT INTO offers (id, external_id, title, seller_id) SELECT g, 'of'||g, 't', 1+(g%2000) FROM generate_series(1,5000) g;
INSERT INTO orders (id, external_id, status, offer_id, buyer_id)
  SELECT g, 'o'||g, 'finished', 1+(g%5000), 1+((g::bigint*7919)%200000) FROM generate_series(1,1000000) g;
INSERT INTO reviews (id, external_id, order_id, seller_id, buyer_id, rating_fulfillment, rating_start_time,
  rating_communication, text, created_at, is_visible, imported_at)
  SELECT g, 'r'||g, g, 1+((1+(g%5000))%2000), 1+((g::bigint*7919)%200000), 1+(g%5), 1+((g/5)%5), 1+((g/25)%5), '',
   timestamptz '2022-01-01' + (g||' minutes')::interval, true, now() FROM generate_series(1,1000000) g;
INSERT INTO deletion_requests (id, review_id, seller_id, buyer_id, reason, explanation, review_snapshot,
  status, submitted_at, waiting_since, updated_at, version)
  SELECT g, g*3, 1+((1+((g*3)%5000))%2000), 1+(((g*3)::bigint*7919)%200000), 'competitor_attack', 'e', '{}',
   (ARRAY['approved','rejected','withdrawn','rejected'])[1+g%4],
   timestamptz '2022-01-02' + (g||' minutes')::interval, timestamptz '2022-01-02' + (g||' minutes')::interval,
   now(), 1 FROM generate_series(1,300000) g;
INSERT INTO evidence (id, request_id, uploaded_by_id, original_filename, stored_name, thumbnail_name, format,
  width, height, byte_size, sha256, perceptual_hash, phash_band_0, phash_band_1, phash_band_2, phash_band_3, created_at)
  SELECT g, 1+(g%300000), 1, 'f', 's'||g, 't'||g, 'PNG', 1, 1, 1, md5(g::text)||md5(g::text), h,
   ('x'||substr(h,1,4))::bit(16)::int, ('x'||substr(h,5,4))::bit(16)::int,
   ('x'||substr(h,9,4))::bit(16)::int, ('x'||substr(h,13,4))::bit(16)::int, now()
  FROM (SELECT g, lpad(to_hex((random()*4294967295)::bigint),8,'0')||lpad(to_hex((random()*4294967295)::bigint),8,'0') h
        FROM generate_series(1,900000) g) s;
"""
        with db.engine.begin() as c:
            for s in ([] if REUSE else stmts.split(";\n")):
                if s.strip(): c.execute(text(s))
            if not REUSE: c.execute(text("ANALYZE"))
        print("loaded in", round(time.time()-t,1), "s")
        from moderation_app.models.requests import DeletionRequest
        from moderation_app.services.queue.signals import request_signals
        stmts_seen = []
        timings = []
        event.listen(db.engine, "before_cursor_execute", lambda conn, cur, st, params, ctx, many: (stmts_seen.append((st, params)), timings.append([st.split("FROM")[0][:70].replace("\n"," "), time.perf_counter()])))
        event.listen(db.engine, "after_cursor_execute", lambda conn, cur, st, params, ctx, many: timings[-1].append(time.perf_counter()))
        for rid in (150000, 7, 299999):
            db.session.expire_all()
            dr = db.session.get(DeletionRequest, rid)
            stmts_seen.clear(); timings.clear()
            t = time.perf_counter(); ctx = request_signals(dr); dt = time.perf_counter()-t
            print(rid, f"{dt*1000:.1f} ms", len(stmts_seen), "statements", ctx.seller_history.counts,
                  ctx.buyer.review_count, ctx.buyer.low_reviews_last_30_days, len(ctx.evidence_matches))
            for name, a, b in timings: print(f"   {1000*(b-a):7.2f} ms  {name}")
        if os.environ.get("PLANS") != "1": raise SystemExit
        with db.engine.connect() as c:
            for st, params in stmts_seen:
                if not st.lstrip().upper().startswith("SELECT"): continue
                plan = c.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + st, params).scalars().all()
                print("----", st.split("FROM")[0][:100].replace("\n"," "))
                print("\n".join(plan[:14]))
finally:
  if os.environ.get("DROP", "1") == "1":
    with eng.begin() as c:
        c.execute(text(f"DROP SCHEMA {SCHEMA} CASCADE"))
