"""The dashboard's signals without scans: the buyer on each request, reuse marked on each file

Revision ID: e5c7a9d3b4f6
Revises: d4b8f2a61c22
Create Date: 2026-12-01 22:00:00

`deletion_requests.buyer_id` is copied from the request's review (a review's buyer never
changes), so the reported-buyers signal groups the period's requests without reading the reviews.
`evidence.sha256_reused` and `evidence.phash_reused` say that, when the file was stored, a file of
another request already had the same SHA-256 / perceptual hash; the backfill marks a file when a
file with a lower id (stored earlier) of another request has the same hash, as filing does.
"""
import sqlalchemy as sa
from alembic import op

revision = "e5c7a9d3b4f6"
down_revision = "d4b8f2a61c22"
branch_labels = None
depends_on = None

FLAGS = (("sha256_reused", "sha256", "ix_evidence_sha256_reused_created"),
         ("phash_reused", "perceptual_hash", "ix_evidence_phash_reused_created"))


def upgrade():
    with op.batch_alter_table("deletion_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("buyer_id", sa.Integer(), nullable=True))
    op.execute("UPDATE deletion_requests SET buyer_id = "
               "(SELECT buyer_id FROM reviews WHERE reviews.id = deletion_requests.review_id)")
    # On SQLite this copies the table once (NOT NULL and the foreign key need a new table).
    with op.batch_alter_table("deletion_requests", schema=None) as batch_op:
        batch_op.alter_column("buyer_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(batch_op.f("fk_deletion_requests_buyer_id_buyers"), "buyers",
                                    ["buyer_id"], ["id"])
        batch_op.create_index("ix_deletion_requests_submitted_buyer_seller",
                              ["submitted_at", "buyer_id", "seller_id"], unique=False)

    with op.batch_alter_table("evidence", schema=None) as batch_op:
        for flag, _column, _index in FLAGS:
            batch_op.add_column(sa.Column(flag, sa.Boolean(), server_default=sa.false(),
                                          nullable=False))
    for flag, column, _index in FLAGS:
        # One probe of the hash's index per file; nearly every hash is unique.
        op.execute(f"""
            UPDATE evidence SET {flag} = TRUE
            WHERE EXISTS (SELECT 1 FROM evidence AS earlier
                          WHERE earlier.{column} = evidence.{column} AND earlier.id < evidence.id
                            AND earlier.request_id <> evidence.request_id)""")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        for flag, column, index in FLAGS:
            batch_op.create_index(index, ["created_at", column], unique=False,
                                  sqlite_where=sa.text(f"{flag} = 1"),
                                  postgresql_where=sa.text(flag))


def downgrade():
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        for flag, _column, index in reversed(FLAGS):
            batch_op.drop_index(index, sqlite_where=sa.text(f"{flag} = 1"),
                                postgresql_where=sa.text(flag))
        for flag, _column, _index in reversed(FLAGS):
            batch_op.drop_column(flag)
    with op.batch_alter_table("deletion_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_deletion_requests_submitted_buyer_seller")
        batch_op.drop_constraint(batch_op.f("fk_deletion_requests_buyer_id_buyers"),
                                 type_="foreignkey")
        batch_op.drop_column("buyer_id")
