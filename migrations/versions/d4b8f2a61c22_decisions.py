"""One row per decision, for the dashboard's figures

Revision ID: d4b8f2a61c22
Revises: c3a9e1f20b11
Create Date: 2026-12-01 21:20:00

Creates `decisions` and fills it from what the desk already holds: approve/reject from the
decided requests (decided_at, decided_by_id, status, reason, submitted_at, claimed_at) and
request_info from the agents' `info_requested` messages. A request's claimed_at is the deciding
claim only for a final decision (a closed request cannot be claimed again); for earlier questions
it is unknown, so those rows have no claim time. Durations are whole seconds, rounded down, as
decide() writes them.
"""
import sqlalchemy as sa
from alembic import op

revision = "d4b8f2a61c22"
down_revision = "c3a9e1f20b11"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.Enum("approve", "reject", "request_info", name="decision",
                                      native_enum=False, create_constraint=True, length=16),
                  nullable=False),
        sa.Column("reason", sa.Enum("competitor_attack", "wrong_offer", "blackmail",
                                    "unrelated_feedback", name="reason", native_enum=False,
                                    create_constraint=True, length=32), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds_since_submission", sa.Integer(), nullable=False),
        sa.Column("seconds_since_claim", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], name=op.f("fk_decisions_agent_id_users")),
        sa.ForeignKeyConstraint(["request_id"], ["deletion_requests.id"],
                                name=op.f("fk_decisions_request_id_deletion_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
    )
    backfill(op.get_bind())
    # Indexes after the backfill: one sort each instead of upkeep on every inserted row.
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_decisions_request_id"), ["request_id"], unique=False)
        batch_op.create_index("ix_decisions_decision_decided",
                              ["decision", "decided_at", "reason", "seconds_since_submission"],
                              unique=False)
        batch_op.create_index("ix_decisions_decided_agent",
                              ["decided_at", "agent_id", "decision", "seconds_since_claim"],
                              unique=False)
        batch_op.create_index("ix_decisions_agent_decided", ["agent_id", "decided_at"], unique=False)
    with op.batch_alter_table("deletion_requests", schema=None) as batch_op:
        batch_op.create_index("ix_deletion_requests_submitted_seller_status",
                              ["submitted_at", "seller_id", "status"], unique=False)
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_created_at"), ["created_at"], unique=False)


def downgrade():
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_created_at"))
    with op.batch_alter_table("deletion_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_deletion_requests_submitted_seller_status")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_decisions_agent_decided")
        batch_op.drop_index("ix_decisions_decided_agent")
        batch_op.drop_index("ix_decisions_decision_decided")
        batch_op.drop_index(batch_op.f("ix_decisions_request_id"))
    op.drop_table("decisions")


def seconds_between(dialect: str, later: str, earlier: str) -> str:
    """Whole seconds from `earlier` to `later`, rounded down. SQLite's julianday keeps
    milliseconds, so its difference is rounded to those before the division."""
    if dialect == "sqlite":
        return (f"CAST(ROUND((julianday({later}) - julianday({earlier})) * 86400000.0) AS INTEGER)"
                " / 1000")
    return f"CAST(floor(extract(epoch FROM ({later} - {earlier}))) AS INTEGER)"


def backfill(connection) -> None:
    """One INSERT … SELECT for both kinds of decision, in decision order (so ids follow
    decided_at, as rows written by decide() do)."""
    dialect = connection.dialect.name
    # A claim that began after the decision cannot be the deciding one; such data is not ours.
    claimed = "CASE WHEN r.claimed_at <= r.decided_at THEN r.claimed_at END"
    connection.execute(sa.text(f"""
        INSERT INTO decisions (request_id, agent_id, decision, reason, submitted_at, claimed_at,
                               decided_at, seconds_since_submission, seconds_since_claim)
        SELECT request_id, agent_id, decision, reason, submitted_at, claimed_at, decided_at,
               seconds_since_submission, seconds_since_claim
        FROM (
            SELECT r.id AS request_id, r.decided_by_id AS agent_id,
                   CASE r.status WHEN 'approved' THEN 'approve' ELSE 'reject' END AS decision,
                   r.reason AS reason, r.submitted_at AS submitted_at, {claimed} AS claimed_at,
                   r.decided_at AS decided_at,
                   {seconds_between(dialect, "r.decided_at", "r.submitted_at")}
                       AS seconds_since_submission,
                   {seconds_between(dialect, "r.decided_at", claimed)} AS seconds_since_claim
            FROM deletion_requests r
            WHERE r.status IN ('approved', 'rejected')
              AND r.decided_at IS NOT NULL AND r.decided_by_id IS NOT NULL
            UNION ALL
            SELECT r.id, m.author_id, 'request_info', r.reason, r.submitted_at, NULL, m.created_at,
                   {seconds_between(dialect, "m.created_at", "r.submitted_at")}, NULL
            FROM request_messages m JOIN deletion_requests r ON r.id = m.request_id
            WHERE m.kind = 'info_requested'
        ) AS facts
        ORDER BY decided_at, request_id
    """))
