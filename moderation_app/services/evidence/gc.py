"""Evidence garbage collection: stored files that no Evidence row points to, and the reverse.

An upload writes its files first and commits its rows last (services/evidence/storage.py), so a
process killed in between leaves files behind that nothing refers to. ``find_garbage`` looks;
``collect_garbage`` removes the orphans and appends an ``evidence.gc`` audit event when it removed
something. Rows whose file is missing are only reported: a row is evidence, and deciding what to
do about a lost screenshot is a person's job. The caller commits.

Only files whose names the app could have chosen are candidates: in the local folder, regular files
directly in it (symlinks, directories and every other name are left alone and never followed); in
S3, objects directly under the prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models.evidence import Evidence, EvidenceUpload
from moderation_app.services.audit.log import record_event
from moderation_app.services.evidence.storage import EvidenceStore

# An upload in flight has written (and fsynced) its files but not yet committed the rows that point
# to them, so a fresh file without a row is normal. An hour is far beyond any request's lifetime;
# 0 is only safe while the app is stopped.
DEFAULT_MIN_AGE = timedelta(minutes=60)
# The event lists removed names up to this many, so one huge clean-up stays a readable event.
MAX_NAMES_IN_EVENT = 200


@dataclass(frozen=True)
class StoredFile:
    name: str
    size: int
    age: timedelta


@dataclass(frozen=True)
class MissingFile:
    evidence_id: int
    request_id: int
    name: str


@dataclass
class GarbageReport:
    orphans: list[StoredFile] = field(default_factory=list)  # old enough to remove
    too_young: list[StoredFile] = field(default_factory=list)  # no row yet, but maybe in flight
    missing: list[MissingFile] = field(default_factory=list)
    removed: list[StoredFile] = field(default_factory=list)
    failed: list[tuple[StoredFile, str]] = field(default_factory=list)  # (file, error)

    @property
    def removed_bytes(self) -> int:
        return sum(item.size for item in self.removed)


def _stored_files(store: EvidenceStore, now: datetime) -> dict[str, StoredFile]:
    return {item.name: StoredFile(item.name, item.size, max(now - item.modified, timedelta(0)))
            for item in store.backend.listing()}


def find_garbage(store: EvidenceStore, min_age: timedelta = DEFAULT_MIN_AGE) -> GarbageReport:
    """Orphan files (split by age) and rows whose image or thumbnail is not a file in the store."""
    # The directory is listed before the rows are read: a row committed in between is then seen,
    # so a file can only look orphaned if its row had not committed when the listing ended.
    files = _stored_files(store, datetime.now(timezone.utc))
    rows = db.session.execute(
        select(Evidence.id, Evidence.request_id, Evidence.stored_name, Evidence.thumbnail_name)
        .order_by(Evidence.id).execution_options(yield_per=1000))
    report = GarbageReport()
    referenced: set[str] = set()
    for row in rows:
        for name in (row.stored_name, row.thumbnail_name):
            referenced.add(name)
            # Looked up again when not listed: its upload may have written it after the listing.
            if name not in files and not store.backend.exists(name):
                report.missing.append(MissingFile(row.id, row.request_id, name))
    # Uploads held for processing are named by their own rows (processing.py).
    referenced.update(db.session.scalars(select(EvidenceUpload.held_name)
                                         .where(EvidenceUpload.held_name.is_not(None))))
    for name in sorted(files.keys() - referenced):
        item = files[name]
        (report.orphans if item.age >= min_age else report.too_young).append(item)
    return report


def collect_garbage(store: EvidenceStore, min_age: timedelta = DEFAULT_MIN_AGE, *,
                    dry_run: bool = False) -> GarbageReport:
    """``find_garbage``, then removes the orphans (unless dry_run) and records ``evidence.gc``."""
    report = find_garbage(store, min_age)
    if dry_run:
        return report
    for item in report.orphans:
        try:
            store.delete(item.name)
        except OSError as error:
            report.failed.append((item, error.strerror or str(error)))
        else:
            report.removed.append(item)
    if report.removed:
        names = [item.name for item in report.removed]
        record_event("evidence.gc", details={
            "removed": len(report.removed),
            "removed_bytes": report.removed_bytes,
            "failed": len(report.failed),
            "too_young": len(report.too_young),
            "rows_missing_files": len(report.missing),
            "min_age_minutes": int(min_age.total_seconds() // 60),
            "names": names[:MAX_NAMES_IN_EVENT],
            "names_truncated": len(names) > MAX_NAMES_IN_EVENT,
        })
    return report
