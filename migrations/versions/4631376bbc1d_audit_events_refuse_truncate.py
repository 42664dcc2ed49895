"""audit_events is append-only: on PostgreSQL the database refuses TRUNCATE on it too

Revision ID: 4631376bbc1d
Revises: a1d17e5c0b01
Create Date: 2026-11-28 05:38:58

"""
from alembic import op

revision = "4631376bbc1d"
down_revision = "a1d17e5c0b01"
branch_labels = None
depends_on = None


def upgrade():
    # TRUNCATE fires no row-level DELETE trigger, so it needs its own (statement-level) one.
    # SQLite has no TRUNCATE: its "DELETE FROM" without WHERE already hits the DELETE trigger.
    if op.get_bind().dialect.name == "postgresql":
        # The function from a1d17e5c0b01 raises "audit_events is append-only: TRUNCATE refused".
        op.execute("""
            CREATE TRIGGER audit_events_no_truncate
            BEFORE TRUNCATE ON audit_events
            FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();
        """)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
