"""The seller's open requests, newest first, from an index of their own

Revision ID: a3b4c5d6e7f8
Revises: e9f1a4b5c6d8
Create Date: 2026-12-02 08:00:00

/seller/requests pages by keyset on (submitted_at, id). Its "open" tab wants the seller's few open
requests among thousands of closed ones: through ix_deletion_requests_seller_submitted it read every
closed request above them (865 ms for the bench seller, cold). A partial index over the open
statuses seeks straight to them. The condition is the model's `_OPEN_SQL`, word for word: SQLite
uses a partial index only when the query repeats its condition as written.
"""
import sqlalchemy as sa
from alembic import op

revision = "a3b4c5d6e7f8"
down_revision = "e9f1a4b5c6d8"
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('submitted', 'needs_info', 'appealed')")


def upgrade() -> None:
    op.create_index("ix_deletion_requests_seller_open_submitted", "deletion_requests",
                    ["seller_id", "submitted_at", "id"], sqlite_where=OPEN, postgresql_where=OPEN)


def downgrade() -> None:
    op.drop_index("ix_deletion_requests_seller_open_submitted", table_name="deletion_requests")
