"""Appeals: one per rejected request, decided by another agent

Revision ID: c7d3e9a2b6f1
Revises: b5e2d8c1f4a9
Create Date: 2026-12-02 12:00:00

A request may be appealed once: status `appealed`, `appealed_at` and `first_decided_by_id` (the
agent who may not take the appeal) on `deletion_requests`, the seller's text as a request message
of kind `appeal`, and `decisions.on_appeal` for the dashboard. Statuses and message kinds are
VARCHAR with a named CHECK on both databases (native_enum=False), so each CHECK is swapped for one
that also admits the new value: in place on PostgreSQL, by batch copy of the table on SQLite. The
one-open-request-per-review index now also counts an appeal as open. Nothing existing was
appealed: the new columns start empty, and old decisions were not taken on appeal.
"""
import sqlalchemy as sa
from alembic import op

revision = "c7d3e9a2b6f1"
down_revision = "b5e2d8c1f4a9"
branch_labels = None
depends_on = None

STATUSES = ("submitted", "needs_info", "approved", "rejected", "withdrawn")
KINDS = ("info_requested", "seller_reply", "decision", "withdrawn", "internal_note")
OPEN_BEFORE = sa.text("status IN ('submitted', 'needs_info')")
OPEN_AFTER = sa.text("status IN ('submitted', 'needs_info', 'appealed')")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def _swap_check(batch_op, name: str, condition: str) -> None:
    batch_op.drop_constraint(name, type_="check")
    batch_op.create_check_constraint(name, condition)


def upgrade():
    with op.batch_alter_table("deletion_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("appealed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("first_decided_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_deletion_requests_first_decided_by_id_users"), "users",
            ["first_decided_by_id"], ["id"])
        _swap_check(batch_op, op.f("ck_deletion_requests_request_status"),
                    _in("status", STATUSES + ("appealed",)))
        batch_op.drop_index("uq_deletion_requests_open_review", sqlite_where=OPEN_BEFORE,
                            postgresql_where=OPEN_BEFORE)
        batch_op.create_index("uq_deletion_requests_open_review", ["review_id"], unique=True,
                              sqlite_where=OPEN_AFTER, postgresql_where=OPEN_AFTER)
        batch_op.create_index("ix_deletion_requests_status_appealed",
                              ["status", "appealed_at", "id"], unique=False)
    with op.batch_alter_table("request_messages", schema=None) as batch_op:
        _swap_check(batch_op, op.f("ck_request_messages_message_kind"),
                    _in("kind", KINDS + ("appeal",)))
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("on_appeal", sa.Boolean(), server_default=sa.false(),
                                      nullable=False))


def downgrade():
    # What an appeal left behind, as the older schema can hold it: an undecided appeal (waiting
    # on an agent or on the seller's answer) is the rejection it appealed, its text a reply.
    op.execute("UPDATE deletion_requests SET status = 'rejected' WHERE status = 'appealed' "
               "OR (status = 'needs_info' AND appealed_at IS NOT NULL)")
    op.execute("UPDATE request_messages SET kind = 'seller_reply' WHERE kind = 'appeal'")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_column("on_appeal")
    with op.batch_alter_table("request_messages", schema=None) as batch_op:
        _swap_check(batch_op, op.f("ck_request_messages_message_kind"), _in("kind", KINDS))
    with op.batch_alter_table("deletion_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_deletion_requests_status_appealed")
        batch_op.drop_index("uq_deletion_requests_open_review", sqlite_where=OPEN_AFTER,
                            postgresql_where=OPEN_AFTER)
        batch_op.create_index("uq_deletion_requests_open_review", ["review_id"], unique=True,
                              sqlite_where=OPEN_BEFORE, postgresql_where=OPEN_BEFORE)
        _swap_check(batch_op, op.f("ck_deletion_requests_request_status"),
                    _in("status", STATUSES))
        batch_op.drop_constraint(batch_op.f("fk_deletion_requests_first_decided_by_id_users"),
                                 type_="foreignkey")
        batch_op.drop_column("first_decided_by_id")
        batch_op.drop_column("appealed_at")
