"""Prepared audit exports: a manager asks for one, a job writes the file into the store's
`exports/` folder, and the manager downloads it until it expires (services/audit/exports.py,
docs/jobs.md). The filters are kept as columns so the job exports exactly what was asked."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from moderation_app.database import UTCDateTime, utcnow
from moderation_app.extensions import db
from moderation_app.models.users import User, enum_values


class ExportStatus(enum.StrEnum):
    QUEUED = "queued"      # waiting for a worker (or about to run inline)
    RUNNING = "running"    # rows_done counts what is written so far
    READY = "ready"        # stored_name holds the file until expires_at
    FAILED = "failed"      # error says why; nothing to download
    EXPIRED = "expired"    # the file was removed after expires_at

    @property
    def label(self) -> str:
        return self.value.capitalize()


class ExportFormat(enum.StrEnum):
    CSV = "csv"
    JSONL = "jsonl"

    @property
    def label(self) -> str:
        return {"csv": "CSV (spreadsheet-safe)", "jsonl": "JSON Lines (raw values)"}[self.value]


class AuditExport(db.Model):
    __tablename__ = "audit_exports"
    __table_args__ = (
        # A manager's list, newest first.
        Index("ix_audit_exports_requested_by", "requested_by_id", "id"),
        # The clean-up: ready ones past their expiry, unfinished ones left by a lost job.
        Index("ix_audit_exports_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    format: Mapped[ExportFormat] = mapped_column(
        Enum(ExportFormat, name="audit_export_format", native_enum=False, create_constraint=True,
             length=8, values_callable=enum_values))
    # The filters of /audit (services/audit/export.AuditFilters), as given.
    since: Mapped[date | None] = mapped_column(Date)
    until: Mapped[date | None] = mapped_column(Date)
    actor: Mapped[str] = mapped_column(String(254), default="")
    action: Mapped[str] = mapped_column(String(64), default="")
    request_id: Mapped[int | None] = mapped_column(Integer)  # a filter: no such request is fine
    status: Mapped[ExportStatus] = mapped_column(
        Enum(ExportStatus, name="audit_export_status", native_enum=False, create_constraint=True,
             length=16, values_callable=enum_values),
        default=ExportStatus.QUEUED)
    rows_done: Mapped[int] = mapped_column(BigInteger, default=0)
    stored_name: Mapped[str | None] = mapped_column(String(64))
    byte_size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    requested_by: Mapped[User] = relationship()

    @property
    def in_progress(self) -> bool:
        return self.status in (ExportStatus.QUEUED, ExportStatus.RUNNING)

    @property
    def downloadable(self) -> bool:
        """Ready and not past its expiry (`audit clean-exports` marks it expired later)."""
        return (self.status is ExportStatus.READY and self.stored_name is not None
                and (self.expires_at is None or self.expires_at > utcnow()))
