"""Notifications to sellers, delivered by e-mail after commit

Revision ID: a3f1c9e2d7b4
Revises: b2d9e4f60a17
Create Date: 2026-12-02 12:00:00

The outbox `notifications`: one row per e-mail a seller is owed, written with the decision it
tells about and delivered by `flask notifications send`. Decisions taken before this revision
were never e-mailed and are not now: the table starts empty.
"""
import sqlalchemy as sa
from alembic import op

revision = "a3f1c9e2d7b4"
down_revision = "b2d9e4f60a17"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Enum("request_decided", "information_requested", "appeal_decided",
                                  name="notification_kind", native_enum=False,
                                  create_constraint=True, length=32), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.Enum("pending", "sent", "failed", name="notification_status",
                                    native_enum=False, create_constraint=True, length=16),
                  nullable=False),
        sa.Column("message_token", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["decision_id"], ["decisions.id"],
                                name=op.f("fk_notifications_decision_id_decisions")),
        sa.ForeignKeyConstraint(["recipient_id"], ["users.id"],
                                name=op.f("fk_notifications_recipient_id_users")),
        sa.ForeignKeyConstraint(["request_id"], ["deletion_requests.id"],
                                name=op.f("fk_notifications_request_id_deletion_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("kind", "request_id", "decision_id",
                            name="uq_notifications_kind_request_decision"),
        sa.UniqueConstraint("message_token", name=op.f("uq_notifications_message_token")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notifications_request_id"), ["request_id"],
                              unique=False)
        batch_op.create_index("ix_notifications_status_next_attempt",
                              ["status", "next_attempt_at", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_status_next_attempt")
        batch_op.drop_index(batch_op.f("ix_notifications_request_id"))
    op.drop_table("notifications")
