"""`flask --app wsgi evidence gc`."""

from __future__ import annotations

import sys
from datetime import timedelta

import click
from flask.cli import AppGroup

from moderation_app.extensions import db
from moderation_app.services.evidence.gc import DEFAULT_MIN_AGE, collect_garbage
from moderation_app.settings import evidence_store

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
