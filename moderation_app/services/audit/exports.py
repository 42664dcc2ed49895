"""Prepared audit exports: the rows a manager's request leaves (`request_export`), the file a job
writes from them (`write_export`, streamed through a temporary file, so memory stays flat), the
download's checks (`export_for_download`), and the clean-up of old files (`clean_exports`).

The file is byte for byte what /audit/export.csv|jsonl streams for the same filters at the same
moment: both come from export.export_lines. No commits here: `write_export` takes its caller's
`commit` (a job's), the others leave it to the view or command.
"""

from __future__ import annotations

import hashlib
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models.exports import AuditExport, ExportFormat, ExportStatus
from moderation_app.models.users import Role, User
from moderation_app.services.audit.export import STREAM_BATCH, AuditFilters, export_lines
from moderation_app.services.audit.log import record_event
from moderation_app.services.errors import DomainError, NoSuchRecord
from moderation_app.services.evidence.backends import Backend, NotStored

# A prepared file is kept this long after it is ready, then `audit clean-exports` removes it.
DEFAULT_KEEP = timedelta(days=7)
# A queued or running export this old lost its job (a worker killed, Redis emptied): failed.
DEFAULT_STALE_AFTER = timedelta(hours=24)
# A file with no row is a job that died between storing and committing; older than any commit.
ORPHAN_MIN_AGE = timedelta(hours=1)
# How many of a manager's exports the list shows.
LIST_LIMIT = 50
_SPOOL_BYTES = 1024 * 1024


def filters_of(export: AuditExport) -> AuditFilters:
    return AuditFilters(since=export.since, until=export.until, actor=export.actor,
                        action=export.action, request_id=export.request_id)


def request_export(manager: User, fmt: ExportFormat, filters: AuditFilters) -> AuditExport:
    """A queued export of the log with these filters, on the record; the caller commits, then
    has the job run."""
    if manager.role is not Role.MANAGER:
        raise DomainError("Only managers export the audit log.")
    export = AuditExport(requested_by_id=manager.id, format=fmt, since=filters.since,
                         until=filters.until, actor=filters.actor, action=filters.action,
                         request_id=filters.request_id, status=ExportStatus.QUEUED, rows_done=0)
    db.session.add(export)
    db.session.flush()
    record_event("audit.export_requested", actor=manager, details={
        "export_id": export.id, "format": fmt.value, "filters": filters.describe()})
    return export


def fail_export(export: AuditExport, reason: str, now: datetime) -> None:
    export.status = ExportStatus.FAILED
    export.error = reason[:1000]
    export.finished_at = now


def exports_of(manager: User, limit: int = LIST_LIMIT) -> list[AuditExport]:
    """The manager's own exports, newest first."""
    return list(db.session.scalars(
        select(AuditExport).where(AuditExport.requested_by_id == manager.id)
        .order_by(AuditExport.id.desc()).limit(limit)))


def export_for_download(manager: User, export_id: int) -> AuditExport:
    """Only the manager who asked for it, only while it is ready and not past its expiry (before
    `audit clean-exports` has removed it): anything else looks absent."""
    export = db.session.get(AuditExport, export_id)
    if (export is None or manager.role is not Role.MANAGER or export.requested_by_id != manager.id
            or not export.downloadable):
        raise NoSuchRecord("No such export, or it is not ready.")
    return export


def _reason(error: BaseException) -> str:
    # The class and message only: database errors hide their parameters (config.engine_options).
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def write_export(export_id: int, reader: Session, files: Callable[[], Backend], *,
                 commit: Callable[[], None],
                 keep: timedelta = DEFAULT_KEEP,
                 clock: Callable[[], datetime] = utcnow) -> AuditExport | None:
    """Runs a queued export: marks it running, streams the log through `reader` into a temporary
    file (progress committed every STREAM_BATCH rows), stores it in the store `files()` opens
    (opened then, so a store that cannot be opened fails the export too) and marks it ready.
    A failure marks it failed with the reason and is raised again (the job runner logs it).
    None when there is nothing to run: no such export, or not queued (a job delivered twice)."""
    export = db.session.get(AuditExport, export_id)
    if export is None or export.status is not ExportStatus.QUEUED:
        commit()
        return None
    # Read before the commit: loading them after it would begin a transaction (on SQLite one
    # holding the write lock) that lasted until the first progress commit.
    fmt, filters = export.format.value, filters_of(export)
    export.status, export.started_at = ExportStatus.RUNNING, clock()
    commit()
    name = f"{secrets.token_hex(16)}.{fmt}"
    store: Backend | None = None
    try:
        rows = [0]
        digest, size, reported = hashlib.sha256(), 0, 0
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            for chunk in export_lines(reader, filters, fmt, rows):
                data = chunk.encode("utf-8")
                spool.write(data)
                digest.update(data)
                size += len(data)
                if rows[0] - reported >= STREAM_BATCH:  # a chunk is a batch: one commit each
                    reported = export.rows_done = rows[0]
                    commit()
            reader.close()  # the read is done: end its snapshot before the slow upload
            spool.seek(0)
            store = files()
            store.write_file(name, spool, digest.hexdigest())
        finished = clock()
        export.status, export.rows_done, export.finished_at = ExportStatus.READY, rows[0], finished
        export.stored_name, export.byte_size, export.sha256 = name, size, digest.hexdigest()
        export.expires_at = finished + keep
        commit()
    except BaseException as error:
        db.session.rollback()
        if store is not None:  # perhaps stored, but no row says so: nothing would serve it
            try:
                store.delete(name)
            except OSError:
                pass  # left to clean_exports, which removes files no row names
        export = db.session.get(AuditExport, export_id)
        if export is not None:
            fail_export(export, _reason(error), clock())
            commit()
        raise
    return export


@dataclass
class CleanupReport:
    expired: list[int] = field(default_factory=list)         # export ids whose file was removed
    abandoned: list[int] = field(default_factory=list)       # unfinished ones marked failed
    orphans: list[str] = field(default_factory=list)         # files no row names, removed
    failed: list[tuple[str, str]] = field(default_factory=list)  # (name, why) not removed

    @property
    def changed(self) -> bool:
        return bool(self.expired or self.abandoned or self.orphans)


def clean_exports(files: Backend, now: datetime, *, stale_after: timedelta = DEFAULT_STALE_AFTER,
                  orphan_min_age: timedelta = ORPHAN_MIN_AGE) -> CleanupReport:
    """Removes the files of exports past expires_at (the rows stay, marked expired), fails
    exports a lost job left queued or running, removes stored files no row names, and records
    `audit.exports_cleaned` when it changed anything. The caller commits."""
    report = CleanupReport()
    # Listed before the rows are read: a file whose row commits meanwhile is then seen as named.
    listed = list(files.listing())
    # Read before expiring clears stored_name: an expired file is not an orphan too.
    named = set(db.session.scalars(select(AuditExport.stored_name).where(
        AuditExport.stored_name.is_not(None))))
    for export in db.session.scalars(select(AuditExport).where(
            AuditExport.status == ExportStatus.READY, AuditExport.expires_at <= now)):
        try:
            files.delete(export.stored_name)
        except NotStored:
            pass
        except OSError as error:
            report.failed.append((export.stored_name, str(error)))
            continue
        export.status, export.stored_name = ExportStatus.EXPIRED, None
        report.expired.append(export.id)
    for export in db.session.scalars(select(AuditExport).where(
            AuditExport.status.in_([ExportStatus.QUEUED, ExportStatus.RUNNING]),
            AuditExport.created_at <= now - stale_after)):
        fail_export(export, f"did not finish within {stale_after}: its job was lost (a worker "
                            "stopped, or Redis lost the queue). Ask for it again.", now)
        report.abandoned.append(export.id)
    for item in listed:
        if item.name in named or now - item.modified < orphan_min_age:
            continue
        try:
            files.delete(item.name)
        except OSError as error:
            report.failed.append((item.name, str(error)))
        else:
            report.orphans.append(item.name)
    if report.changed:
        record_event("audit.exports_cleaned", details={
            "expired": report.expired, "abandoned": report.abandoned,
            "orphans_removed": len(report.orphans), "failed": len(report.failed)})
    return report
