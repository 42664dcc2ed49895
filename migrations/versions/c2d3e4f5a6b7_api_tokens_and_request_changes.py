"""API tokens, and an index for the API's list of changed requests

Revision ID: c2d3e4f5a6b7
Revises: b1c2d3e4f5a6
Create Date: 2026-12-04 12:00:00

`api_tokens`: the marketplace's tokens for the JSON API (docs/api.md), stored as SHA-256 hashes.
The API lists requests by (updated_at, id), oldest change first. deletion_requests.updated_at
already moves with every change to a request (the ORM's onupdate; every state change goes through
it), and is NOT NULL since the first schema, so nothing needs a backfill: only an index over all
statuses (ix_deletion_requests_withdrawn_updated covers the withdrawn tab only).
"""
import sqlalchemy as sa
from alembic import op

revision = "c2d3e4f5a6b7"
down_revision = "b1c2d3e4f5a6"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_api_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    # Not in a batch: on SQLite a batch that recreates the table would drop its triggers.
    op.create_index("ix_deletion_requests_updated", "deletion_requests", ["updated_at", "id"])


def downgrade():
    op.drop_index("ix_deletion_requests_updated", table_name="deletion_requests")
    op.drop_table("api_tokens")
