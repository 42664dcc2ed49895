"""Reply templates managers keep for agents' decisions

Revision ID: b5e2d8c1f4a9
Revises: a3f1c9e2d7b4
Create Date: 2026-12-02 12:00:00

`reply_templates`: the notes managers keep for agents' decisions. The table starts empty; the
demo seed adds a few.
"""
import sqlalchemy as sa
from alembic import op

revision = "b5e2d8c1f4a9"
down_revision = "a3f1c9e2d7b4"
branch_labels = None
depends_on = None


ACTIVE = sa.text("retired_at IS NULL")


def upgrade():
    op.create_table(
        "reply_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("title_key", sa.String(length=360), nullable=False),
        sa.Column("decision", sa.Enum("approve", "reject", "request_info", name="decision",
                                      native_enum=False, create_constraint=True, length=16),
                  nullable=False),
        sa.Column("reason", sa.Enum("competitor_attack", "wrong_offer", "blackmail",
                                    "unrelated_feedback", name="reason", native_enum=False,
                                    create_constraint=True, length=32),
                  nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name=op.f("fk_reply_templates_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply_templates")),
    )
    with op.batch_alter_table("reply_templates", schema=None) as batch_op:
        batch_op.create_index("ix_reply_templates_decision_reason", ["decision", "reason"],
                              unique=False)
        batch_op.create_index("uq_reply_templates_active_title_key", ["title_key"], unique=True,
                              sqlite_where=ACTIVE, postgresql_where=ACTIVE)


def downgrade():
    with op.batch_alter_table("reply_templates", schema=None) as batch_op:
        batch_op.drop_index("uq_reply_templates_active_title_key")
        batch_op.drop_index("ix_reply_templates_decision_reason")
    op.drop_table("reply_templates")
