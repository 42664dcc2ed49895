"""Drop ix_audit_events_actor_email: ix_audit_events_actor_email_id starts with the same column

Revision ID: a1b2c3d4e5f7
Revises: e4f5a6b7c8d9
Create Date: 2026-12-03 00:40:00

Every lookup by actor (the viewer's filter, services/audit/export.py) is served by the two-column
index added in c5d6e7f8a9b0; the one-column index only cost space and a write per audit event.
"""
from alembic import op

revision = "a1b2c3d4e5f7"
down_revision = "e4f5a6b7c8d9"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_audit_events_actor_email", table_name="audit_events")


def downgrade() -> None:
    op.create_index("ix_audit_events_actor_email", "audit_events", ["actor_email"])
