"""A user's time zone may be left to their browser

Revision ID: b2d9e4f60a17
Revises: f7a1b2c3d4e5
Create Date: 2026-12-02 10:00:00

`users.timezone` becomes nullable: NULL means "the browser's zone" (read from the `tz` cookie that
static/js/timezone.js sets), a name is the zone the user chose on /account. Every existing 'UTC' is
the old column default, never a choice (nobody could choose before this revision), so it becomes
NULL; any other value was set on purpose and stays.
"""
import sqlalchemy as sa
from alembic import op

revision = "b2d9e4f60a17"
down_revision = "f7a1b2c3d4e5"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("timezone", existing_type=sa.String(length=64), nullable=True)
    op.execute("UPDATE users SET timezone = NULL WHERE timezone = 'UTC'")


def downgrade():
    op.execute("UPDATE users SET timezone = 'UTC' WHERE timezone IS NULL")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("timezone", existing_type=sa.String(length=64), nullable=False)
