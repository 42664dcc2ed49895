"""Prepared audit exports: one row per export a manager asked for, written by a job

Revision ID: d3e4f5a6b7c8
Revises: c2d3e4f5a6b7
Create Date: 2026-12-05 12:00:00

`audit_exports`: the format and filters asked for, the job's progress (status, rows_done), and
once ready the stored file (name in the evidence store's exports/ folder, size, SHA-256) until
expires_at (docs/jobs.md). A new table: nothing to backfill.
"""
import sqlalchemy as sa
from alembic import op

revision = "d3e4f5a6b7c8"
down_revision = "c2d3e4f5a6b7"
branch_labels = None
depends_on = None


def upgrade():
    # Plain create_table / create_index, never a batch: on SQLite a batch recreates tables.
    op.create_table(
        "audit_exports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("format", sa.Enum("csv", "jsonl", name="audit_export_format", native_enum=False,
                                    create_constraint=True, length=8), nullable=False),
        sa.Column("since", sa.Date(), nullable=True),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.Enum("queued", "running", "ready", "failed", "expired",
                                    name="audit_export_status", native_enum=False,
                                    create_constraint=True, length=16), nullable=False),
        sa.Column("rows_done", sa.BigInteger(), nullable=False),
        sa.Column("stored_name", sa.String(length=64), nullable=True),
        sa.Column("byte_size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["requested_by_id"], ["users.id"],
                                name=op.f("fk_audit_exports_requested_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_exports")),
    )
    op.create_index("ix_audit_exports_requested_by", "audit_exports", ["requested_by_id", "id"])
    op.create_index("ix_audit_exports_status_created", "audit_exports", ["status", "created_at"])


def downgrade():
    op.drop_index("ix_audit_exports_status_created", table_name="audit_exports")
    op.drop_index("ix_audit_exports_requested_by", table_name="audit_exports")
    op.drop_table("audit_exports")
