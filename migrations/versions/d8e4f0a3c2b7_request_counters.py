"""Request counters: deletion requests per (status, reason), for the desk and per seller, kept by
triggers

Revision ID: d8e4f0a3c2b7
Revises: c7d3e9a2b6f1
Create Date: 2026-12-02 13:00:00

The queue's tab and reason counts read these few rows instead of counting the requests table
(issue 14). Triggers on deletion_requests keep them in the writing transaction, whoever writes:
after an insert, a delete, or an update that changes status, reason or seller_id. The tables are
filled from the rows here, so an existing desk starts exact. The assignee index grows into a
covering one for the live claims the assignee filter subtracts.

PostgreSQL: statement triggers over transition tables (a COPY of a million rows adds each counter
once); each first takes the audit chain's transaction lock (the same key as services/audit/log.py),
which every state change takes anyway to append its audit event, so counter rows are only ever
locked by its holder and two writers cannot deadlock on them. SQLite: row triggers.
"""
import sqlalchemy as sa
from alembic import op

revision = "d8e4f0a3c2b7"
down_revision = "c7d3e9a2b6f1"
branch_labels = None
depends_on = None

CHAIN_LOCK_KEY = 0x6D6F64617564  # services/audit/log.py's _CHAIN_LOCK_KEY

# (table, its key columns beyond status and reason)
COUNTERS = (("request_counts", ()), ("seller_request_counts", ("seller_id",)))
# SQLite: row triggers, each a few B-tree upserts.
CHANGED = "OLD.status IS NOT NEW.status OR OLD.reason IS NOT NEW.reason OR OLD.seller_id IS NOT NEW.seller_id"


def _add(row: str, table: str, keys: tuple[str, ...], delta: int) -> str:
    """One statement adding `delta` to the counter of `row` (NEW or OLD)."""
    columns = (*keys, "status", "reason")
    if delta < 0:
        where = " AND ".join(f"{column} = {row}.{column}" for column in columns)
        return f"UPDATE {table} SET requests = requests - 1 WHERE {where};"
    values = ", ".join(f"{row}.{column}" for column in columns)
    return (f"INSERT INTO {table} ({', '.join(columns)}, requests) VALUES ({values}, 1) "
            f"ON CONFLICT ({', '.join(columns)}) DO UPDATE SET requests = {table}.requests + 1;")


def _sqlite_body(operation: str) -> str:
    statements = []
    if operation in ("UPDATE", "DELETE"):
        statements += [_add("OLD", table, keys, -1) for table, keys in COUNTERS]
    if operation in ("INSERT", "UPDATE"):
        statements += [_add("NEW", table, keys, +1) for table, keys in COUNTERS]
    return "\n    ".join(statements)


# PostgreSQL: statement triggers over the transition tables, so a bulk write (a COPY, an UPDATE
# of many rows) adds each counter once, not once per row. Transition tables cannot go with
# UPDATE OF <columns>, so the update trigger runs for every UPDATE: it adds the new rows and takes
# away the old ones per key (one linear pass; transition tables have no index or statistics, so a
# join between them could be planned as a nested loop), and when every key nets to zero, as for
# a claim, it stops there without a lock.
def _pg_deltas(table: str, keys: tuple[str, ...], sources: tuple[tuple[str, str], ...]) -> tuple[str, str]:
    """(a query of each key's non-zero delta, the upsert adding them) for (rows, sign) sources."""
    columns = ", ".join((*keys, "status", "reason"))
    rows = " UNION ALL ".join(f"SELECT {columns}, {sign}1 AS delta FROM {source}"
                              for source, sign in sources)
    deltas = (f"SELECT {columns}, sum(delta) AS requests FROM ({rows}) AS rows "
              f"GROUP BY {columns} HAVING sum(delta) <> 0")
    upsert = (f"INSERT INTO {table} ({columns}, requests) {deltas} "
              f"ON CONFLICT ({columns}) DO UPDATE SET requests = {table}.requests + EXCLUDED.requests;")
    return deltas, upsert


def _pg_body(operation: str) -> str:
    sources = {"INSERT": (("new_rows", ""),), "DELETE": (("old_rows", "-"),),
               "UPDATE": (("new_rows", ""), ("old_rows", "-"))}[operation]
    changes = [_pg_deltas(table, keys, sources) for table, keys in COUNTERS]
    upserts = "\n    ".join(upsert for _, upsert in changes)
    lock = f"PERFORM pg_advisory_xact_lock({CHAIN_LOCK_KEY});"
    if operation != "UPDATE":
        return f"{lock}\n    {upserts}"
    return (f"IF NOT EXISTS ({changes[1][0]}) THEN RETURN NULL; END IF;\n    {lock}\n    {upserts}")


def _create_triggers() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for operation in ("INSERT", "UPDATE", "DELETE"):
        name = f"deletion_requests_count_{operation.lower()}"
        if postgresql:
            op.execute(f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_pg_body(operation)}
    RETURN NULL;
END $$""")
            tables = {"INSERT": "NEW TABLE AS new_rows", "DELETE": "OLD TABLE AS old_rows",
                      "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows"}[operation]
            op.execute(f"CREATE TRIGGER {name} AFTER {operation} ON deletion_requests "
                       f"REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION {name}()")
        else:
            when = f" WHEN {CHANGED}" if operation == "UPDATE" else ""
            op.execute(f"CREATE TRIGGER {name} AFTER {operation} ON deletion_requests FOR EACH ROW"
                       f"{when} BEGIN\n    {_sqlite_body(operation)}\nEND")


def _drop_triggers() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for operation in ("INSERT", "UPDATE", "DELETE"):
        name = f"deletion_requests_count_{operation.lower()}"
        if postgresql:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON deletion_requests")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")


def upgrade():
    op.create_table(
        "request_counts",
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("status", "reason", name=op.f("pk_request_counts")),
    )
    op.create_table(
        "seller_request_counts",
        sa.Column("seller_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["seller_id"], ["users.id"],
                                name=op.f("fk_seller_request_counts_seller_id_users")),
        sa.PrimaryKeyConstraint("seller_id", "status", "reason", name=op.f("pk_seller_request_counts")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # No request may change between the count below and the triggers' first run.
        op.execute("LOCK TABLE deletion_requests IN SHARE ROW EXCLUSIVE MODE")
    op.execute("INSERT INTO request_counts (status, reason, requests) "
               "SELECT status, reason, count(*) FROM deletion_requests GROUP BY status, reason")
    op.execute("INSERT INTO seller_request_counts (seller_id, status, reason, requests) "
               "SELECT seller_id, status, reason, count(*) FROM deletion_requests "
               "GROUP BY seller_id, status, reason")
    _create_triggers()
    # The live claims the assignee filter subtracts: read from the index alone (SQLite read each
    # assigned row to check its lease). The old one-column index is its prefix.
    op.create_index("ix_deletion_requests_assignee_lease", "deletion_requests",
                    ["assignee_id", "lease_expires_at", "status", "reason"])
    op.drop_index("ix_deletion_requests_assignee_id", table_name="deletion_requests")


def downgrade():
    op.create_index("ix_deletion_requests_assignee_id", "deletion_requests", ["assignee_id"])
    op.drop_index("ix_deletion_requests_assignee_lease", table_name="deletion_requests")
    _drop_triggers()
    op.drop_table("seller_request_counts")
    op.drop_table("request_counts")
