"""Verify the desk's audit hash chain from outside the app, with nothing but the standard library.

    python docs/verify_audit_chain.py instance/moderation.sqlite3

Reads audit_events from a SQLite copy of the database (for PostgreSQL, fetch the same columns with
psql and adapt `rows()`), recomputes each hash from the canonical form described in
docs/audit-log.md, and checks the links. Exit 0 if the whole chain holds, 1 at the first break.
"""

import hashlib
import json
import sqlite3
import sys
from datetime import datetime, timezone

GENESIS = "0" * 64
COLUMNS = ("id", "occurred_at", "actor_id", "actor_email", "actor_role", "action", "request_id",
           "review_id", "details", "prev_hash", "hash")


def rows(path):
    connection = sqlite3.connect(path)
    yield from connection.execute(f"SELECT {', '.join(COLUMNS)} FROM audit_events ORDER BY id")


def canonical_time(value):
    # SQLite stores "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC; the hash covers ISO 8601 with Z.
    moment = datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def main(path):
    previous_id, previous_hash, count = 0, GENESIS, 0
    for row in rows(path):
        event = dict(zip(COLUMNS, row))
        content = {key: event[key] for key in COLUMNS if key != "hash"}
        content["occurred_at"] = canonical_time(event["occurred_at"])
        content["details"] = json.loads(event["details"])
        digest = hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":"),
                                           ensure_ascii=False).encode("utf-8")).hexdigest()
        if event["id"] != previous_id + 1 or event["prev_hash"] != previous_hash or digest != event["hash"]:
            print(f"broken at event {event['id']}")
            return 1
        previous_id, previous_hash, count = event["id"], event["hash"], count + 1
    print(f"ok: {count} events, head {previous_hash}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
