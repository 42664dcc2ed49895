"""Reply templates: the notes to the seller managers write once, for agents to start a decision's
note from (services/replies.py keeps the rules, docs/reply_templates.md says why)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from moderation_app.database import UTCDateTime, utcnow
from moderation_app.extensions import db
from moderation_app.models.requests import Decision, Reason
from moderation_app.models.users import enum_values

TITLE_MAX_LENGTH = 120

_ACTIVE_SQL = text("retired_at IS NULL")


def title_key(title: str) -> str:
    """Case and runs of spaces do not make two titles different."""
    return " ".join(title.split()).casefold()


class ReplyTemplate(db.Model):
    __tablename__ = "reply_templates"
    __table_args__ = (
        # One active template per title, whatever its case and spacing: two "Rival shop" in one
        # picker would be told apart by nobody. Retired ones keep theirs, so a title can be reused.
        # On a column rather than lower(title): SQLite's lower() knows only ASCII, and expression
        # indexes are not compared by Alembic.
        Index("uq_reply_templates_active_title_key", "title_key", unique=True,
              sqlite_where=_ACTIVE_SQL, postgresql_where=_ACTIVE_SQL),
        # The decision form's picker: the active templates of one decision.
        Index("ix_reply_templates_decision_reason", "decision", "reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX_LENGTH))
    # title_key(title): what "the same title" means (services/replies.py sets both together).
    # Casefolding may lengthen a title (ß -> ss; at most threefold), hence the room.
    title_key: Mapped[str] = mapped_column(String(3 * TITLE_MAX_LENGTH))
    decision: Mapped[Decision] = mapped_column(
        Enum(Decision, name="decision", native_enum=False, create_constraint=True,
             length=16, values_callable=enum_values))
    # None: offered whatever the request's reason.
    reason: Mapped[Reason | None] = mapped_column(
        Enum(Reason, name="reason", native_enum=False, create_constraint=True,
             length=32, values_callable=enum_values))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Retired templates are never offered but stay, so the decisions that used one still name it.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_active(self) -> bool:
        return self.retired_at is None

    def fits(self, reason: Reason, decision: Decision) -> bool:
        """Whether the template answers a request of `reason` with `decision`."""
        return self.decision is decision and self.reason in (None, reason)
