"""The queue's truth: when each request last changed hands, and the closed tabs' order

Revision ID: f7a1b2c3d4e5
Revises: e5c7a9d3b4f6
Create Date: 2026-12-01 23:00:00

`deletion_requests.waiting_since` is when the request last entered someone's court: filed or
answered by the seller (the agents' court), or asked a question (the seller's). The queue counts
ages and the response target from it. The backfill takes the latest seller reply (or, for a request
waiting on the seller, the latest question), else `submitted_at`.

The closed tabs list newest decision first: (status, decided_at, id) for approved and rejected; a
withdrawal records no decision, so the withdrawn tab keys on (updated_at, id), the withdrawal being
a closed request's last change, through a partial index that only withdrawn rows enter.
"""
import sqlalchemy as sa
from alembic import op

revision = "f7a1b2c3d4e5"
down_revision = "e5c7a9d3b4f6"
branch_labels = None
depends_on = None

WITHDRAWN = sa.text("status = 'withdrawn'")


def _latest(kind: str) -> str:
    return (f"(SELECT MAX(request_messages.created_at) FROM request_messages "
            f"WHERE request_messages.request_id = deletion_requests.id "
            f"AND request_messages.kind = '{kind}')")


def upgrade():
    with op.batch_alter_table("deletion_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True))
    op.execute(f"""
        UPDATE deletion_requests SET waiting_since = CASE
            WHEN status = 'needs_info' THEN COALESCE({_latest('info_requested')}, submitted_at)
            ELSE COALESCE({_latest('seller_reply')}, submitted_at) END""")
    # The approved and rejected tabs key on decided_at, which decisions always set; a row from
    # before that rule gets its last change.
    op.execute("UPDATE deletion_requests SET decided_at = updated_at "
               "WHERE status IN ('approved', 'rejected') AND decided_at IS NULL")
    with op.batch_alter_table("deletion_requests", schema=None) as batch_op:
        batch_op.alter_column("waiting_since", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_index("ix_deletion_requests_status_decided", ["status", "decided_at", "id"],
                              unique=False)
        batch_op.create_index("ix_deletion_requests_withdrawn_updated", ["updated_at", "id"],
                              unique=False, sqlite_where=WITHDRAWN, postgresql_where=WITHDRAWN)


def downgrade():
    with op.batch_alter_table("deletion_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_deletion_requests_withdrawn_updated", sqlite_where=WITHDRAWN,
                            postgresql_where=WITHDRAWN)
        batch_op.drop_index("ix_deletion_requests_status_decided")
        batch_op.drop_column("waiting_since")
