"""Large uploads processed in the background: one row per file held until a job re-encodes it

Revision ID: e4f5a6b7c8d9
Revises: d3e4f5a6b7c8
Create Date: 2026-12-02 20:00:00

`evidence_uploads`: a file that passed every check short of decoding, held as received (its name
in the evidence store) until a job turns it into an `evidence` row, which deletes this one; or kept
as failed with the seller's message (services/evidence/processing.py). `attempts` counts the
decodes begun, so one that always kills its worker ends as failed instead of waiting forever.
A new table: nothing to backfill, and `evidence` itself is untouched (on SQLite changing it would
rebuild the table).
"""
import sqlalchemy as sa
from alembic import op

revision = "e4f5a6b7c8d9"
down_revision = "d3e4f5a6b7c8"
branch_labels = None
depends_on = None


def upgrade():
    # Plain create_table / create_index, never a batch: on SQLite a batch recreates tables.
    op.create_table(
        "evidence_uploads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
        sa.Column("original_filename", sa.String(length=255), nullable=False),
        sa.Column("held_name", sa.String(length=80), nullable=True),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("received_bytes", sa.BigInteger(), nullable=False),
        sa.Column("received_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Enum("processing", "failed", name="evidence_upload_status",
                                    native_enum=False, create_constraint=True, length=16),
                  nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["deletion_requests.id"],
                                name=op.f("fk_evidence_uploads_request_id_deletion_requests")),
        sa.ForeignKeyConstraint(["message_id"], ["request_messages.id"],
                                name=op.f("fk_evidence_uploads_message_id_request_messages")),
        sa.ForeignKeyConstraint(["uploaded_by_id"], ["users.id"],
                                name=op.f("fk_evidence_uploads_uploaded_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_uploads")),
        sa.UniqueConstraint("held_name", name=op.f("uq_evidence_uploads_held_name")),
    )
    op.create_index(op.f("ix_evidence_uploads_request_id"), "evidence_uploads", ["request_id"])
    op.create_index("ix_evidence_uploads_status_created", "evidence_uploads",
                    ["status", "created_at"])
    op.create_index("ix_evidence_uploads_uploader_created", "evidence_uploads",
                    ["uploaded_by_id", "created_at"])


def downgrade():
    op.drop_index("ix_evidence_uploads_uploader_created", table_name="evidence_uploads")
    op.drop_index("ix_evidence_uploads_status_created", table_name="evidence_uploads")
    op.drop_index(op.f("ix_evidence_uploads_request_id"), table_name="evidence_uploads")
    op.drop_table("evidence_uploads")
