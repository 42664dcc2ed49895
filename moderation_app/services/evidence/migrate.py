"""Copying a desk's evidence into S3 (`flask --app wsgi evidence migrate --to s3://…`).

Every file an evidence row names is read from the current store, its SHA-256 checked (an image's
against the row, which recorded it at upload; a thumbnail's against itself as read), written to the
target with the hash in its metadata, read back and checked again. A rerun after an interruption
skips what is already there with the same hash and size, so it costs a HEAD per file done before.
Uploads held for processing are copied too, checked against what arrived. Files no row names
are not copied: they are `evidence gc`'s business. The caller commits the
`evidence.migrated` event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models.evidence import Evidence, EvidenceUpload
from moderation_app.services.audit.log import record_event
from moderation_app.services.evidence.backends import NotStored, S3Objects
from moderation_app.services.evidence.storage import EvidenceStore

# The event lists problem names up to this many, like evidence.gc.
MAX_NAMES_IN_EVENT = 200


@dataclass
class MigrationReport:
    copied: int = 0
    copied_bytes: int = 0
    already_there: int = 0
    missing: list[str] = field(default_factory=list)               # a row's file not in the source
    failed: list[tuple[str, str]] = field(default_factory=list)    # (name, why)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.failed


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _copy_one(source: EvidenceStore, target: S3Objects, name: str, expected: str | None,
              report: MigrationReport) -> str:
    """Copies `name`; returns what happened to it: copied, already there, missing or failed."""
    try:
        opened = source.open(name)
    except NotStored:
        report.missing.append(name)
        return "missing"
    with opened.stream as stream:
        data = stream.read()
    digest = _digest(data)
    if expected is not None and digest != expected:
        report.failed.append((name, f"the source file's SHA-256 is not the one recorded at upload "
                                    f"({digest[:12]}… ≠ {expected[:12]}…)"))
        return "failed"
    present = target.head(name)
    if (present is not None and present.get("Metadata", {}).get("sha256") == digest
            and int(present.get("ContentLength", -1)) == len(data)):
        report.already_there += 1
        return "already there"
    target.write(name, data)
    with target.open(name).stream as stream:
        copied = _digest(stream.read())
    if copied != digest:
        report.failed.append((name, "the copy read back has another SHA-256"))
        return "failed"
    report.copied += 1
    report.copied_bytes += len(data)
    return "copied"


def _names_to_copy() -> Iterator[tuple[str, str | None]]:
    """(name, the SHA-256 it must have, if known): each evidence row's image and thumbnail, then
    each upload held for processing (processing.py), checked against what arrived."""
    rows = db.session.execute(
        select(Evidence.stored_name, Evidence.sha256, Evidence.thumbnail_name)
        .order_by(Evidence.id).execution_options(yield_per=500))
    for stored_name, sha256, thumbnail_name in rows:
        yield stored_name, sha256
        yield thumbnail_name, None
    yield from db.session.execute(
        select(EvidenceUpload.held_name, EvidenceUpload.received_sha256)
        .where(EvidenceUpload.held_name.is_not(None)).order_by(EvidenceUpload.id))


def migrate_evidence(source: EvidenceStore, target: S3Objects,
                     progress: Callable[[str, str], None] | None = None) -> MigrationReport:
    """Copies every file the evidence rows name from `source` to `target` (see the module
    docstring); `progress(name, outcome)` after each. Raises StorageUnavailable if either store
    fails, after which a rerun carries on where this one stopped."""
    target.ensure_bucket()
    report = MigrationReport()
    problem_names: dict[str, None] = {}
    for name, expected in _names_to_copy():
        outcome = _copy_one(source, target, name, expected, report)
        if outcome in ("missing", "failed"):
            problem_names[name] = None
        if progress is not None:
            progress(name, outcome)
    problems = list(problem_names)  # in the rows' order
    record_event("evidence.migrated", details={
        "to": str(target.location),
        "copied": report.copied,
        "copied_bytes": report.copied_bytes,
        "already_there": report.already_there,
        "missing": len(report.missing),
        "failed": len(report.failed),
        "problem_names": problems[:MAX_NAMES_IN_EVENT],
        "problem_names_truncated": len(problems) > MAX_NAMES_IN_EVENT,
    })
    return report
