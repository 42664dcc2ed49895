"""Per UTC hour of submission, a count of the writes that can change the dashboard's buyers signal;
and requests by buyer

Revision ID: e7f8a9b0c1d2
Revises: d6e7f8a9b0c1
Create Date: 2026-12-03 11:40:00

The buyers signal counts distinct sellers per buyer over the period's requests, which no per-day row
can hold in less than the requests themselves. Its hours before the current one rarely change, so
the dashboard keeps their answer and recomputes only the buyers seen in the current hour
(services/dashboard/buyers.py); `request_hour_changes` tells it when a kept answer is stale.
Triggers add to an hour's count on every insert and delete of a request submitted in it, and on
every update that moves a request's (hour, buyer, seller); counts only grow, so a sum over hours
changes whenever anything in them did. `ix_deletion_requests_buyer_submitted` finds a buyer's
requests in a period.
"""
import sqlalchemy as sa
from alembic import op

revision = "e7f8a9b0c1d2"
down_revision = "d6e7f8a9b0c1"
branch_labels = None
depends_on = None

CHAIN_LOCK_KEY = 0x6D6F64617564  # services/audit/log.py's _CHAIN_LOCK_KEY
NAME = "request_hour_changes"
# The hour as a timestamptz on PostgreSQL; on SQLite the text SQLAlchemy stores for that time.
PG_HOUR = "date_trunc('hour', submitted_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
UPSERT = (f"INSERT INTO {NAME} (hour, changes) {{rows}} "
          f"ON CONFLICT (hour) DO UPDATE SET changes = {NAME}.changes + excluded.changes;")

# PostgreSQL: statement triggers over transition tables. An update counts for the hours where the
# (hour, buyer, seller) keys of its old and new rows differ: a claim or a message moves none.
PG_MOVED = (
    "SELECT hour, count(*) FROM (SELECT hour FROM ("
    f"SELECT {PG_HOUR} AS hour, buyer_id, seller_id, 1 AS delta FROM new_rows UNION ALL "
    f"SELECT {PG_HOUR}, buyer_id, seller_id, -1 FROM old_rows) AS moved "
    "GROUP BY hour, buyer_id, seller_id HAVING sum(delta) <> 0) AS keys GROUP BY hour")
PG_BODIES = {
    "INSERT": UPSERT.format(rows=f"SELECT {PG_HOUR}, count(*) FROM new_rows GROUP BY 1"),
    "DELETE": UPSERT.format(rows=f"SELECT {PG_HOUR}, count(*) FROM old_rows GROUP BY 1"),
    # Most updates move nothing: they stop before taking the lock.
    "UPDATE": f"IF NOT EXISTS ({PG_MOVED}) THEN RETURN NULL; END IF;\n    "
              + UPSERT.format(rows=PG_MOVED),
}


def _sqlite_add(row):
    return UPSERT.format(
        rows=f"SELECT strftime('%Y-%m-%d %H:00:00.000000', {row}.submitted_at), 1 WHERE true")


SQLITE_BODIES = {
    "INSERT": _sqlite_add("NEW"),
    "DELETE": _sqlite_add("OLD"),
    "UPDATE": f"{_sqlite_add('OLD')}\n    {_sqlite_add('NEW')}",
}
SQLITE_WHEN = ("OLD.submitted_at IS NOT NEW.submitted_at OR OLD.buyer_id IS NOT NEW.buyer_id "
               "OR OLD.seller_id IS NOT NEW.seller_id")


def upgrade():
    op.create_table(
        NAME,
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("hour", name=op.f("pk_request_hour_changes")),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    for operation in ("INSERT", "UPDATE", "DELETE"):
        name = f"{NAME}_{operation.lower()}"
        if postgresql:
            body = PG_BODIES[operation]
            lock = f"PERFORM pg_advisory_xact_lock({CHAIN_LOCK_KEY});"
            if operation == "UPDATE":
                first, rest = body.split("\n    ", 1)
                body = f"{first}\n    {lock}\n    {rest}"
            else:
                body = f"{lock}\n    {body}"
            op.execute(f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {body}
    RETURN NULL;
END $$""")
            tables = {"INSERT": "NEW TABLE AS new_rows", "DELETE": "OLD TABLE AS old_rows",
                      "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows"}[operation]
            op.execute(f"CREATE TRIGGER {name} AFTER {operation} ON deletion_requests "
                       f"REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION {name}()")
        else:
            when = f" WHEN {SQLITE_WHEN}" if operation == "UPDATE" else ""
            op.execute(f"CREATE TRIGGER {name} AFTER {operation} ON deletion_requests FOR EACH ROW"
                       f"{when} BEGIN\n    {SQLITE_BODIES[operation]}\nEND")
    # Not in a batch: on SQLite a batch that recreates the table would drop its triggers.
    op.create_index("ix_deletion_requests_buyer_submitted", "deletion_requests",
                    ["buyer_id", "submitted_at", "seller_id"])


def downgrade():
    op.drop_index("ix_deletion_requests_buyer_submitted", table_name="deletion_requests")
    postgresql = op.get_bind().dialect.name == "postgresql"
    for operation in ("INSERT", "UPDATE", "DELETE"):
        name = f"{NAME}_{operation.lower()}"
        if postgresql:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON deletion_requests")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table(NAME)
