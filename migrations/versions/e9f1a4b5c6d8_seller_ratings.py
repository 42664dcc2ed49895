"""Seller ratings kept by triggers: per seller, the visible reviews and their star sums

Revision ID: e9f1a4b5c6d8
Revises: d8e4f0a3c2b7
Create Date: 2026-12-02 14:00:00

A seller's rating (services/marketplace/ratings.py) is the mean of the stars of their visible
reviews. It read every review of the seller (259 ms for one with 564,540); it now reads one row.
Triggers on reviews keep the row in the writing transaction, whoever writes (the importer's bulk
upserts, a decision hiding a review): after an insert, a delete, or an update that changes the
seller, the visibility or a rating. PostgreSQL: statement triggers over transition tables (an
import batch adds each seller once), in one linear pass each. SQLite: row triggers. The table is filled from the rows here.
"""
import sqlalchemy as sa
from alembic import op

revision = "e9f1a4b5c6d8"
down_revision = "d8e4f0a3c2b7"
branch_labels = None
depends_on = None

STARS = ("rating_fulfillment", "rating_start_time", "rating_communication")
SUMS = ("fulfillment", "start_time", "communication")
WATCHED = ("seller_id", "is_visible", *STARS)
OPERATIONS = ("INSERT", "UPDATE", "DELETE")


def _fill_from(rows: str, sign: str) -> str:
    """Adds (sign '') or subtracts (sign '-') the visible reviews among `rows`, per seller."""
    sums = ", ".join(f"{sign}sum({star})" for star in STARS)
    updates = ", ".join(f"{column} = seller_ratings.{column} + excluded.{column}"
                        for column in ("reviews", *SUMS))
    return (f"INSERT INTO seller_ratings (seller_id, reviews, {', '.join(SUMS)}) "
            f"SELECT seller_id, {sign}count(*), {sums} FROM {rows} WHERE is_visible "
            f"GROUP BY seller_id ON CONFLICT (seller_id) DO UPDATE SET {updates};")


def _sqlite_row(row: str, sign: str) -> str:
    values = ", ".join(f"{sign}{row}.{star}" for star in STARS)
    updates = ", ".join(f"{column} = seller_ratings.{column} + excluded.{column}"
                        for column in ("reviews", *SUMS))
    return (f"INSERT INTO seller_ratings (seller_id, reviews, {', '.join(SUMS)}) "
            f"SELECT {row}.seller_id, {sign}1, {values} WHERE {row}.is_visible "
            f"ON CONFLICT (seller_id) DO UPDATE SET {updates};")


def _pg_body(operation: str) -> str:
    """Adds the visible new rows and takes away the visible old ones, per seller: one linear pass
    (transition tables have no index or statistics, so a join between them could be planned as a
    nested loop). An UPDATE whose changes net to zero for every seller stops before writing."""
    sources = {"INSERT": (("new_rows", ""),), "DELETE": (("old_rows", "-"),),
               "UPDATE": (("new_rows", ""), ("old_rows", "-"))}[operation]
    rows = " UNION ALL ".join(
        f"SELECT seller_id, {sign}1 AS reviews, "
        + ", ".join(f"{sign}{star} AS {total}" for star, total in zip(STARS, SUMS, strict=True))
        + f" FROM {source} WHERE is_visible" for source, sign in sources)
    totals = ", ".join(f"sum({column}) AS {column}" for column in ("reviews", *SUMS))
    nonzero = " OR ".join(f"sum({column}) <> 0" for column in ("reviews", *SUMS))
    deltas = f"SELECT seller_id, {totals} FROM ({rows}) AS rows GROUP BY seller_id HAVING {nonzero}"
    updates = ", ".join(f"{column} = seller_ratings.{column} + excluded.{column}"
                        for column in ("reviews", *SUMS))
    upsert = (f"INSERT INTO seller_ratings (seller_id, reviews, {', '.join(SUMS)}) {deltas} "
              f"ON CONFLICT (seller_id) DO UPDATE SET {updates};")
    if operation != "UPDATE":
        return upsert
    return f"IF NOT EXISTS ({deltas}) THEN RETURN NULL; END IF;\n    {upsert}"


def upgrade():
    op.create_table(
        "seller_ratings",
        sa.Column("seller_id", sa.Integer(), nullable=False),
        sa.Column("reviews", sa.Integer(), nullable=False),
        sa.Column("fulfillment", sa.BigInteger(), nullable=False),
        sa.Column("start_time", sa.BigInteger(), nullable=False),
        sa.Column("communication", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["seller_id"], ["users.id"], name=op.f("fk_seller_ratings_seller_id_users")),
        sa.PrimaryKeyConstraint("seller_id", name=op.f("pk_seller_ratings")),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("LOCK TABLE reviews IN SHARE ROW EXCLUSIVE MODE")
    op.execute(_fill_from("reviews", "").split(" ON CONFLICT")[0])
    for operation in OPERATIONS:
        name = f"reviews_rate_{operation.lower()}"
        if postgresql:
            op.execute(f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_pg_body(operation)}
    RETURN NULL;
END $$""")
            tables = {"INSERT": "NEW TABLE AS new_rows", "DELETE": "OLD TABLE AS old_rows",
                      "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows"}[operation]
            op.execute(f"CREATE TRIGGER {name} AFTER {operation} ON reviews REFERENCING {tables} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()")
        else:
            statements = []
            if operation in ("UPDATE", "DELETE"):
                statements.append(_sqlite_row("OLD", "-"))
            if operation in ("INSERT", "UPDATE"):
                statements.append(_sqlite_row("NEW", ""))
            when = (" WHEN " + " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in WATCHED)
                    if operation == "UPDATE" else "")
            op.execute(f"CREATE TRIGGER {name} AFTER {operation} ON reviews FOR EACH ROW{when} "
                       f"BEGIN\n    {chr(10).join(statements)}\nEND")


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for operation in OPERATIONS:
        name = f"reviews_rate_{operation.lower()}"
        if postgresql:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON reviews")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("seller_ratings")
