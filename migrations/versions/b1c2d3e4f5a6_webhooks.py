"""Webhooks to the marketplace: an outbox of decision events and a log of delivery attempts

Revision ID: b1c2d3e4f5a6
Revises: a9b0c1d2e3f4
Create Date: 2026-12-04 12:00:00

`webhook_events`: one row per event a decision owes the marketplace (review.removed, review.kept,
request.needs_info, request.decided), written with the decision, its signed body fixed there;
`webhook_attempts`: one row per POST. Decisions taken before this revision were never sent and
are not now: both tables start empty (docs/webhooks.md).
"""
import sqlalchemy as sa
from alembic import op

revision = "b1c2d3e4f5a6"
down_revision = "a9b0c1d2e3f4"
branch_labels = None
depends_on = None


def upgrade():
    # Plain create_table / create_index, never a batch: on SQLite a batch recreates tables.
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.Enum("request.decided", "request.needs_info", "review.removed",
                                  "review.kept", name="webhook_event_type", native_enum=False,
                                  create_constraint=True, length=32), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.Enum("pending", "delivered", "failed", name="webhook_status",
                                    native_enum=False, create_constraint=True, length=16),
                  nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["decision_id"], ["decisions.id"],
                                name=op.f("fk_webhook_events_decision_id_decisions")),
        sa.ForeignKeyConstraint(["request_id"], ["deletion_requests.id"],
                                name=op.f("fk_webhook_events_request_id_deletion_requests")),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.id"],
                                name=op.f("fk_webhook_events_review_id_reviews")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sa.UniqueConstraint("decision_id", "type", name="uq_webhook_events_decision_type"),
        sa.UniqueConstraint("webhook_id", name=op.f("uq_webhook_events_webhook_id")),
    )
    op.create_index(op.f("ix_webhook_events_request_id"), "webhook_events", ["request_id"])
    op.create_index("ix_webhook_events_status_next_attempt", "webhook_events",
                    ["status", "next_attempt_at", "id"])
    op.create_index("ix_webhook_events_status_created", "webhook_events",
                    ["status", "created_at", "id"])
    op.create_index("ix_webhook_events_review_id", "webhook_events", ["review_id", "id"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["webhook_events.id"],
                                name=op.f("fk_webhook_attempts_event_id_webhook_events")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    op.create_index(op.f("ix_webhook_attempts_event_id"), "webhook_attempts", ["event_id"])


def downgrade():
    op.drop_index(op.f("ix_webhook_attempts_event_id"), table_name="webhook_attempts")
    op.drop_table("webhook_attempts")
    op.drop_index("ix_webhook_events_review_id", table_name="webhook_events")
    op.drop_index("ix_webhook_events_status_created", table_name="webhook_events")
    op.drop_index("ix_webhook_events_status_next_attempt", table_name="webhook_events")
    op.drop_index(op.f("ix_webhook_events_request_id"), table_name="webhook_events")
    op.drop_table("webhook_events")
