"""`flask --app wsgi audit verify|checkpoint|export|clean-exports`."""

from __future__ import annotations

import sys
from datetime import date

import click
from flask import current_app
from flask.cli import AppGroup

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.services.audit.checkpoint import (
    KEY_SETTING,
    MAX_FILE_CHARS,
    CheckpointError,
    compare_with_log,
    load_checkpoint,
    make_checkpoint,
)
from moderation_app.services.audit.export import (
    FIRST_DAY,
    LAST_DAY,
    AuditFilters,
    day_in_range,
    export_lines,
    record_export,
)
from moderation_app.services.audit.exports import clean_exports
from moderation_app.services.audit.log import verify_chain
from moderation_app.settings import export_files

audit_cli = AppGroup("audit", help="Check, checkpoint and export the audit log.")


@audit_cli.command("verify")
@click.option("--checkpoint", "checkpoint_file", type=click.File("r", encoding="utf-8"),
              help="Also check that the log still holds this signed checkpoint's head.")
def audit_verify(checkpoint_file) -> None:
    """Recompute the hash chain over every event; exit 1 at the first that does not match, or
    if the log no longer reaches the checkpoint's head."""
    checkpoint = None
    if checkpoint_file is not None:
        # Checked before the log is read: a file that cannot be trusted proves nothing.
        try:
            checkpoint = load_checkpoint(checkpoint_file.read(MAX_FILE_CHARS + 1),
                                         current_app.config.get(KEY_SETTING))
        except CheckpointError as error:
            raise click.ClickException(f"checkpoint {checkpoint_file.name}: {error}") from None
    result = verify_chain()
    if not result.ok:
        click.echo(f"audit log BROKEN at event {result.broken_at}: {result.reason} "
                   f"({result.count} events before it verified)", err=True)
        sys.exit(1)
    if checkpoint is not None:
        problem = compare_with_log(checkpoint, result)
        if problem:
            click.echo(f"audit log BROKEN against checkpoint {checkpoint_file.name}: {problem}",
                       err=True)
            sys.exit(1)
    click.echo(f"audit log ok: {result.count} events, head {result.head_hash}")
    if checkpoint is not None:
        click.echo(f"checkpoint ok: event {checkpoint.last_id} holds the hash signed at "
                   f"{checkpoint.created_at}; later events: {result.count - checkpoint.count}")


@audit_cli.command("checkpoint")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8", lazy=True), default="-",
              help="File to write (default: standard output). Keep it away from the database.")
def audit_checkpoint(output) -> None:
    """Sign the chain's head (count, hash, time) with AUDIT_CHECKPOINT_KEY, for `verify`."""
    try:
        checkpoint = make_checkpoint(current_app.config.get(KEY_SETTING))
    except CheckpointError as error:
        raise click.ClickException(str(error)) from None
    output.write(checkpoint.to_json())
    output.flush()
    # The audit.checkpointed event commits only once the file is written.
    db.session.commit()
    click.echo(f"checkpoint: {checkpoint.count} events, head event {checkpoint.last_id} "
               f"{checkpoint.head_hash}", err=True)


def _day(_context: click.Context, parameter: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter("take dates as YYYY-MM-DD.", param=parameter) from None
    if not day_in_range(day):
        raise click.BadParameter(f"{day} is outside the days the log can hold ({FIRST_DAY} to "
                                 f"{LAST_DAY}).", param=parameter)
    return day


@audit_cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), required=True)
@click.option("--since", callback=_day, help="First day (YYYY-MM-DD, UTC), inclusive.")
@click.option("--until", callback=_day, help="Last day (YYYY-MM-DD, UTC), inclusive.")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8", lazy=True), default="-",
              help="File to write (default: standard output).")
def audit_export(fmt: str, since: date | None, until: date | None, output) -> None:
    """Export the audit log as CSV (spreadsheet-safe) or JSON Lines (raw values)."""
    filters = AuditFilters(since=since, until=until)
    rows = [0]
    for chunk in export_lines(db.session, filters, fmt, rows):
        output.write(chunk)
    output.flush()
    record_export(None, fmt, filters, rows[0], True, via="cli")
    db.session.commit()
    click.echo(f"exported {rows[0]} events", err=True)


@audit_cli.command("clean-exports")
def audit_clean_exports() -> None:
    """Remove prepared exports' files past their expiry (AUDIT_EXPORT_KEEP_DAYS, the rows stay,
    marked expired), fail exports whose job was lost, and remove stored export files no row
    names. Run it daily. Exits 1 if a file could not be removed."""
    report = clean_exports(export_files(), utcnow())
    db.session.commit()  # the rows and the audit.exports_cleaned event; the files are gone
    for name, why in report.failed:
        click.echo(f"could not remove {name}: {why}", err=True)
    click.echo(f"expired {len(report.expired)} exports, failed {len(report.abandoned)} "
               f"unfinished ones, removed {len(report.orphans)} orphan files")
    if report.failed:
        sys.exit(1)
