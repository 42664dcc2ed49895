"""Evidence files (re-encoded screenshots) attached to deletion requests, and large uploads still
being processed in the background (``EvidenceUpload``, services/evidence/processing.py)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from moderation_app.database import UTCDateTime, utcnow
from moderation_app.extensions import db
from moderation_app.models.requests import DeletionRequest, RequestMessage
from moderation_app.models.users import User, enum_values


class Evidence(db.Model):
    __tablename__ = "evidence"
    __table_args__ = (
        # The dashboard's reused evidence: the few files of a period marked as reused, with their
        # hash, read from these small indexes alone. SQLite uses a partial index only when the
        # query's WHERE repeats its condition as written, and renders a true boolean as "= 1".
        Index("ix_evidence_sha256_reused_created", "created_at", "sha256",
              sqlite_where=text("sha256_reused = 1"), postgresql_where=text("sha256_reused")),
        Index("ix_evidence_phash_reused_created", "created_at", "perceptual_hash",
              sqlite_where=text("phash_reused = 1"), postgresql_where=text("phash_reused")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("deletion_requests.id"), index=True)
    # Set when the file came with a seller's answer rather than with the request itself.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("request_messages.id"))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # For display only; never part of a path.
    original_filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    thumbnail_name: Mapped[str] = mapped_column(String(80), unique=True)
    format: Mapped[str] = mapped_column(String(8))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    byte_size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    perceptual_hash: Mapped[str] = mapped_column(String(16), index=True)
    # The 64-bit hash cut into four 16-bit bands, each indexed: two hashes within Hamming
    # distance 3 share at least one band, so near-duplicates are found by exact lookups.
    phash_band_0: Mapped[int] = mapped_column(Integer, index=True)
    phash_band_1: Mapped[int] = mapped_column(Integer, index=True)
    phash_band_2: Mapped[int] = mapped_column(Integer, index=True)
    phash_band_3: Mapped[int] = mapped_column(Integer, index=True)
    # Set when the file is stored if a file of another request already had the same SHA-256 /
    # perceptual hash (services/requests/filing.py); never changed afterwards.
    sha256_reused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    phash_reused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Indexed: the files of the last 24 hours, for the upload quota (the dashboard reads the
    # partial indexes above).
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    request: Mapped[DeletionRequest] = relationship()
    message: Mapped[RequestMessage | None] = relationship()
    uploaded_by: Mapped[User] = relationship()

    @validates("perceptual_hash")
    def _set_bands(self, _key: str, value: str) -> str:
        for number, band in enumerate(phash_bands(value)):
            setattr(self, f"phash_band_{number}", band)
        return value


class UploadStatus(enum.StrEnum):
    PROCESSING = "processing"  # held, waiting for a worker (or being processed)
    FAILED = "failed"          # could not be decoded; `error` says why, nothing is stored


class EvidenceUpload(db.Model):
    """A large upload that passed every check short of decoding, held as received under
    ``held_name`` (never served) until a job decodes and re-encodes it into an ``Evidence`` row.
    The row is deleted when that row is made, or kept as FAILED with the seller's message."""

    __tablename__ = "evidence_uploads"
    __table_args__ = (
        # The sweep of uploads left by a lost job, oldest first.
        Index("ix_evidence_uploads_status_created", "status", "created_at"),
        # The upload quota: the seller's files of the last 24 hours, held ones included.
        Index("ix_evidence_uploads_uploader_created", "uploaded_by_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("deletion_requests.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("request_messages.id"))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    original_filename: Mapped[str] = mapped_column(String(255))
    # The bytes as received; None once processing failed and they were removed.
    held_name: Mapped[str | None] = mapped_column(String(80), unique=True)
    # What the header said and what arrived, for the audit event and the page.
    format: Mapped[str] = mapped_column(String(8))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    received_bytes: Mapped[int] = mapped_column(BigInteger)
    received_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[UploadStatus] = mapped_column(
        Enum(UploadStatus, name="evidence_upload_status", native_enum=False, create_constraint=True,
             length=16, values_callable=enum_values),
        default=UploadStatus.PROCESSING)
    # Decodes begun: one that kills its worker every time must not keep the request waiting.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    request: Mapped[DeletionRequest] = relationship()
    uploaded_by: Mapped[User] = relationship()

    @property
    def processing(self) -> bool:
        return self.status is UploadStatus.PROCESSING


def phash_bands(perceptual_hash: str) -> list[int]:
    """The four 16-bit bands of a 16-hex-digit perceptual hash."""
    return [int(perceptual_hash[start:start + 4], 16) for start in range(0, 16, 4)]


def hamming_distance(first: str, second: str) -> int:
    return (int(first, 16) ^ int(second, 16)).bit_count()
