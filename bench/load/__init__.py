"""The load test behind `make load`: the real server under a moderation desk's working day, squeezed.

    .venv/bin/python -m bench.load [--seconds 60] [--servers sqlite,postgres] [--keep]

For each server in turn (gunicorn with one process and a pool of threads on SQLite, as `make run`
starts it; then gunicorn with 4 workers on PostgreSQL, with the login throttle in a private redis),
on a fresh database and
upload folder: migrate, create the accounts, import reviews, start the server on a free loopback
port, and for `--seconds` run 20 agents, 50 sellers, 2 managers and an attacker against it, each a
thread with its own cookie jar posting real forms with their CSRF tokens. Afterwards the server is
stopped and the database read directly (checks.py); the run exits 1 if any check fails.

Modules: fixtures (screenshots, accounts, marketplace file), seed (runs inside the app to create the
accounts), servers (databases, redis, the server processes), browser (HTTP, CSRF, the recorder and
the ledger of what the harness saw), workload (what each kind of user does), attacker, checks,
report.
"""
