"""The audit viewer's actor filter from an index of each actor's events in id order

Revision ID: c5d6e7f8a9b0
Revises: b4c5d6e7f8a9
Create Date: 2026-12-02 08:10:00

/audit filtered by actor takes each matching actor's newest page of events and merges them by id
(services/audit/export.py). PostgreSQL needs (actor_email, id) to read one actor's events newest
first; ix_audit_events_actor_email holds only the address. SQLite gets the same index for one schema
(its rowid made the old one serve already).
"""
from alembic import op

revision = "c5d6e7f8a9b0"
down_revision = "b4c5d6e7f8a9"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_events_actor_email_id", "audit_events", ["actor_email", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_actor_email_id", table_name="audit_events")
