"""Seller ratings kept by triggers: per seller, the visible reviews and their star sums

Revision ID: e9f1a4b5c6d8
Revises: d8e4f0a3c2b7
Create Date: 2026-12-02 14:00:00

A seller's rating (services/marketplace/ratings.py) is the mean of the stars of their visible
reviews. It read every review of the seller (259 ms for one with 564,540); it now reads one row.
Triggers on reviews keep the row in the writing transaction, whoever writes (the importer's bulk
upserts, a decision hiding a review): after an insert, a delete, or an update that changes the
seller, the visibility or a rating. PostgreSQL: statement triggers over transition tables (an
import batch adds each seller once). SQLite: row triggers. The table is filled from the rows here.
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
    if operation == "INSERT":
        return _fill_from("new_rows", "")
    if operation == "DELETE":
        return _fill_from("old_rows", "-")
    differs = (f"({', '.join('o.' + column for column in WATCHED)}) IS DISTINCT FROM "
               f"({', '.join('n.' + column for column in WATCHED)})")
    pairs = f"old_rows o JOIN new_rows n ON n.id = o.id WHERE {differs}"
    return (f"IF NOT EXISTS (SELECT 1 FROM {pairs}) THEN RETURN NULL; END IF;\n    "
            f"{_fill_from(f'(SELECT o.* FROM {pairs}) AS gone', '-')}\n    "
            f"{_fill_from(f'(SELECT n.* FROM {pairs}) AS came', '')}")


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
