"""`flask --app wsgi evidence gc`, `evidence migrate --to s3://…` and `evidence process`."""

from __future__ import annotations

import sys
from datetime import timedelta

import click
from flask.cli import AppGroup

from moderation_app.extensions import db
from moderation_app.jobs.tasks import process_held_upload
from moderation_app.services.evidence.backends import S3Objects, StorageUnavailable, parse_s3_location
from moderation_app.services.evidence.gc import DEFAULT_MIN_AGE, collect_garbage
from moderation_app.services.evidence.migrate import migrate_evidence
from moderation_app.services.evidence.processing import (
    SWEEP_AFTER,
    pending_uploads,
    recent_uploads_count,
)
from moderation_app.settings import evidence_limits, evidence_store, s3_settings

evidence_cli = AppGroup("evidence", help="Look after the stored evidence files.")


def _size(n: int) -> str:
    return f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} bytes"


def _age(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


@evidence_cli.command("gc")
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@click.option("--min-age-minutes", type=click.IntRange(min=0), show_default=True,
              default=int(DEFAULT_MIN_AGE.total_seconds() // 60),
              help="Leave younger files alone: an upload in flight has written its files before "
                   "its rows commit. Use 0 only while the app is stopped.")
def evidence_gc(dry_run: bool, min_age_minutes: int) -> None:
    """Remove stored files (images, thumbnails) that no evidence row points to, and report rows
    whose file is missing. Exits 1 if a row lacks its file or a file could not be removed."""
    report = collect_garbage(evidence_store(), timedelta(minutes=min_age_minutes),
                             dry_run=dry_run)
    db.session.commit()  # the evidence.gc event; the files are already gone
    removed = {item.name for item in report.removed}
    for item in report.orphans:
        verb = "would remove" if dry_run else "removed" if item.name in removed else "kept"
        click.echo(f"{verb} orphan {item.name} ({_size(item.size)}, {_age(item.age)} old)")
    for item, error in report.failed:
        click.echo(f"could not remove {item.name}: {error}", err=True)
    for missing in report.missing:
        click.echo(f"missing file {missing.name} of evidence {missing.evidence_id} "
                   f"(request {missing.request_id})", err=True)
    done = (f"{len(report.orphans)} orphan files, nothing removed (dry run)" if dry_run else
            f"removed {len(report.removed)} orphan files ({_size(report.removed_bytes)})")
    click.echo(f"{done}; {len(report.too_young)} younger than {min_age_minutes} min left alone; "
               f"{len(report.missing)} missing files")
    if report.failed or report.missing:
        sys.exit(1)


def _s3_location(_context, _parameter, value: str) -> str:
    try:
        return str(parse_s3_location(value))
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@evidence_cli.command("migrate")
@click.option("--to", "location", required=True, callback=_s3_location,
              help="The S3 location to copy to, s3://bucket/prefix (S3_ENDPOINT_URL and the "
                   "AWS_* variables say where and as whom).")
@click.option("--verbose", is_flag=True, help="One line per file.")
def evidence_migrate(location: str, verbose: bool) -> None:
    """Copy every evidence file the desk's rows name from the current store into S3, checking
    each SHA-256 before and after. Safe to rerun: files already copied are skipped. Then set
    EVIDENCE_STORAGE to the same location and restart the desk. Exits 1 if a file is missing
    or a copy failed its check."""
    source = evidence_store()
    if source.backend.description == location:
        raise click.UsageError(f"{location} is already the desk's evidence store.")
    done = 0

    def progress(name: str, outcome: str) -> None:
        nonlocal done
        done += 1
        if verbose:
            click.echo(f"{outcome}: {name}")
        elif done % 1000 == 0:
            click.echo(f"{done} files looked at")

    try:
        report = migrate_evidence(source, S3Objects(s3_settings(location)), progress)
    except StorageUnavailable as error:
        db.session.rollback()
        raise click.ClickException(f"{error}. Nothing is lost: run the same command again to "
                                   "carry on.") from None
    db.session.commit()  # the evidence.migrated event
    for name in report.missing:
        click.echo(f"missing from {source.backend.description}: {name}", err=True)
    for name, why in report.failed:
        click.echo(f"not copied: {name}: {why}", err=True)
    click.echo(f"copied {report.copied} files ({_size(report.copied_bytes)}) to {location}; "
               f"{report.already_there} already there; {len(report.missing)} missing; "
               f"{len(report.failed)} failed")
    if not report.ok:
        sys.exit(1)


@evidence_cli.command("process")
@click.option("--older-than-seconds", type=click.IntRange(min=0), show_default=True,
              default=int(SWEEP_AFTER.total_seconds()),
              help="Only uploads held at least this long: younger ones are normally still with "
                   "their job.")
def evidence_process(older_than_seconds: int) -> None:
    """Decode large uploads still waiting for processing: those whose job was lost (Redis
    restarted, a worker stopped, S3 down at the time). Safe beside running workers. Exits 1 if
    any could not be processed now (the store unreachable, a database error); those are tried
    again on the next run."""
    ids = pending_uploads(timedelta(seconds=older_than_seconds))
    recent = recent_uploads_count(timedelta(seconds=older_than_seconds))
    db.session.rollback()
    counts = {"stored": 0, "failed": 0, "gone": 0, "left": 0}
    store, limits = evidence_store(), evidence_limits()
    for upload_id in ids:
        try:
            done = process_held_upload(upload_id, store, limits)
        except Exception as error:  # noqa: BLE001  (one upload's trouble must not stop the rest)
            db.session.rollback()
            counts["left"] += 1
            click.echo(f"upload {upload_id}: left processing ({type(error).__name__}: {error})",
                       err=True)
            continue
        counts[done.outcome] += 1
        click.echo(f"upload {upload_id}: {done.outcome}")
    click.echo(f"{counts['stored']} stored, {counts['failed']} could not be decoded, "
               f"{counts['gone']} already done elsewhere, {counts['left']} left processing"
               + (f"; {recent} younger than {older_than_seconds} s left to their job" if recent
                  else ""))
    if counts["left"]:
        sys.exit(1)
