"""Dashboard rollups: requests per (UTC day submitted, seller, status) and decisions per (UTC day
decided, agent, reason, decision), kept by triggers

Revision ID: d6e7f8a9b0c1
Revises: c5d6e7f8a9b0
Create Date: 2026-12-03 11:20:00

The dashboard's period is whole UTC days, so per-day rows answer its flow, its decision tally and
its top sellers exactly, without reading the period's requests and decisions one by one (issue 14:
a 30-day period of a million-request desk held 130,000 requests). Kept like the request counters
(d8e4f0a3c2b7): in the writing transaction, whoever writes, on every insert, delete and change of
a key column; statement triggers over transition tables on PostgreSQL (each first takes the audit
chain's transaction lock, as those do), row triggers on SQLite. Zero rows stay; readers skip them.
"""
import sqlalchemy as sa
from alembic import op

revision = "d6e7f8a9b0c1"
down_revision = "c5d6e7f8a9b0"
branch_labels = None
depends_on = None

CHAIN_LOCK_KEY = 0x6D6F64617564  # services/audit/log.py's _CHAIN_LOCK_KEY


class Rollup:
    """A rollup table of `source`: its key (column, expression of a source row `{row}`) and its sums
    (column, the value one source row adds)."""

    def __init__(self, table, source, keys, sums, day_column):
        self.table, self.source, self.keys, self.sums = table, source, keys, sums
        self.day_column = day_column

    def key_names(self):
        return [name for name, _ in self.keys]

    def columns(self):
        return [*self.key_names(), *(name for name, _ in self.sums)]

    def expressions(self, row, postgresql):
        day = (f"({row}.{self.day_column} AT TIME ZONE 'UTC')::date" if postgresql
               else f"date({row}.{self.day_column})")
        return [day if expression == "day" else f"{row}.{expression}"
                for _, expression in self.keys] + [value.format(row=row) for _, value in self.sums]


ROLLUPS = (
    Rollup("seller_day_requests", "deletion_requests",
           keys=(("day", "day"), ("seller_id", "seller_id"), ("status", "status")),
           sums=(("requests", "1"),), day_column="submitted_at"),
    Rollup("agent_day_decisions", "decisions",
           keys=(("day", "day"), ("agent_id", "agent_id"), ("reason", "reason"),
                 ("decision", "decision")),
           sums=(("decisions", "1"),
                 ("timed", "CASE WHEN {row}.seconds_since_claim IS NULL THEN 0 ELSE 1 END")),
           day_column="decided_at"),
)
# SQLite's update triggers run only when a column a rollup reads changed.
WATCHED = {"deletion_requests": ("submitted_at", "seller_id", "status"),
           "decisions": ("decided_at", "agent_id", "reason", "decision", "seconds_since_claim")}


def _sqlite_change(rollup, row, sign):
    values = rollup.expressions(row, postgresql=False)
    keys = rollup.key_names()
    if sign > 0:
        updates = ", ".join(f"{name} = {rollup.table}.{name} + excluded.{name}"
                            for name, _ in rollup.sums)
        # "WHERE true" keeps SQLite from reading ON CONFLICT as a join constraint of the SELECT.
        return (f"INSERT INTO {rollup.table} ({', '.join(rollup.columns())}) "
                f"SELECT {', '.join(values)} WHERE true "
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates};")
    key_values = values[:len(keys)]
    where = " AND ".join(f"{name} = {value}" for name, value in zip(keys, key_values, strict=True))
    sets = ", ".join(f"{name} = {name} - ({value})"
                     for (name, _), value in zip(rollup.sums, values[len(keys):], strict=True))
    return f"UPDATE {rollup.table} SET {sets} WHERE {where};"


def _pg_deltas(rollup, sources):
    """(a query of each key's non-zero delta, the upsert adding them) for (rows, sign) sources."""
    keys = rollup.key_names()
    sums = [name for name, _ in rollup.sums]
    rows = " UNION ALL ".join(
        "SELECT " + ", ".join(
            f"{expression} AS {name}" if index < len(keys) else f"{sign}({expression}) AS {name}"
            for index, (name, expression) in enumerate(zip(
                rollup.columns(), rollup.expressions(source, postgresql=True), strict=True)))
        + f" FROM {source}"
        for source, sign in sources)
    totals = ", ".join(f"sum({name}) AS {name}" for name in sums)
    nonzero = " OR ".join(f"sum({name}) <> 0" for name in sums)
    deltas = (f"SELECT {', '.join(keys)}, {totals} FROM ({rows}) AS rows "
              f"GROUP BY {', '.join(keys)} HAVING {nonzero}")
    updates = ", ".join(f"{name} = {rollup.table}.{name} + EXCLUDED.{name}" for name in sums)
    upsert = (f"INSERT INTO {rollup.table} ({', '.join(rollup.columns())}) {deltas} "
              f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates};")
    return deltas, upsert


def _pg_body(rollup, operation):
    sources = {"INSERT": (("new_rows", ""),), "DELETE": (("old_rows", "-"),),
               "UPDATE": (("new_rows", ""), ("old_rows", "-"))}[operation]
    deltas, upsert = _pg_deltas(rollup, sources)
    lock = f"PERFORM pg_advisory_xact_lock({CHAIN_LOCK_KEY});"
    if operation != "UPDATE":
        return f"{lock}\n    {upsert}"
    # Most updates (a claim, a message) move no rollup row: stop before taking the lock.
    return f"IF NOT EXISTS ({deltas}) THEN RETURN NULL; END IF;\n    {lock}\n    {upsert}"


def _trigger(rollup, operation):
    return f"{rollup.table}_{operation.lower()}"


def create_triggers(rollup):
    postgresql = op.get_bind().dialect.name == "postgresql"
    for operation in ("INSERT", "UPDATE", "DELETE"):
        name = _trigger(rollup, operation)
        if postgresql:
            op.execute(f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_pg_body(rollup, operation)}
    RETURN NULL;
END $$""")
            tables = {"INSERT": "NEW TABLE AS new_rows", "DELETE": "OLD TABLE AS old_rows",
                      "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows"}[operation]
            op.execute(f"CREATE TRIGGER {name} AFTER {operation} ON {rollup.source} "
                       f"REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION {name}()")
            continue
        statements = []
        if operation in ("UPDATE", "DELETE"):
            statements.append(_sqlite_change(rollup, "OLD", -1))
        if operation in ("INSERT", "UPDATE"):
            statements.append(_sqlite_change(rollup, "NEW", +1))
        when = ""
        if operation == "UPDATE":
            when = " WHEN " + " OR ".join(f"OLD.{column} IS NOT NEW.{column}"
                                          for column in WATCHED[rollup.source])
        body = "\n    ".join(statements)
        op.execute(f"CREATE TRIGGER {name} AFTER {operation} ON {rollup.source} FOR EACH ROW"
                   f"{when} BEGIN\n    {body}\nEND")


def drop_triggers(rollup):
    postgresql = op.get_bind().dialect.name == "postgresql"
    for operation in ("INSERT", "UPDATE", "DELETE"):
        name = _trigger(rollup, operation)
        if postgresql:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {rollup.source}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")


def _fill(rollup):
    postgresql = op.get_bind().dialect.name == "postgresql"
    keys = rollup.key_names()
    expressions = rollup.expressions(rollup.source, postgresql)
    selected = ", ".join(
        f"{expression} AS {name}" if index < len(keys) else f"sum({expression})"
        for index, (name, expression) in enumerate(zip(rollup.columns(), expressions, strict=True)))
    op.execute(f"INSERT INTO {rollup.table} ({', '.join(rollup.columns())}) "
               f"SELECT {selected} FROM {rollup.source} GROUP BY {', '.join(keys)}")


def upgrade():
    op.create_table(
        "seller_day_requests",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("seller_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["seller_id"], ["users.id"],
                                name=op.f("fk_seller_day_requests_seller_id_users")),
        sa.PrimaryKeyConstraint("day", "seller_id", "status", name=op.f("pk_seller_day_requests")),
    )
    op.create_table(
        "agent_day_decisions",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("decisions", sa.Integer(), nullable=False),
        sa.Column("timed", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"],
                                name=op.f("fk_agent_day_decisions_agent_id_users")),
        sa.PrimaryKeyConstraint("day", "agent_id", "reason", "decision",
                                name=op.f("pk_agent_day_decisions")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Nothing may change between the fill below and the triggers' first run.
        op.execute("LOCK TABLE deletion_requests, decisions IN SHARE ROW EXCLUSIVE MODE")
    for rollup in ROLLUPS:
        _fill(rollup)
        create_triggers(rollup)


def downgrade():
    for rollup in ROLLUPS:
        drop_triggers(rollup)
    op.drop_table("agent_day_decisions")
    op.drop_table("seller_day_requests")
