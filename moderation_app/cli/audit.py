"""`flask --app wsgi audit verify|export`."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from moderation_app.extensions import db
from moderation_app.services.audit import record_event

audit_cli = AppGroup("audit", help="Check and export the audit log.")


@audit_cli.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain over every event; exit 1 at the first that does not match."""
    from moderation_app.services.audit import verify_chain

    result = verify_chain()
    if not result.ok:
        click.echo(f"audit log BROKEN at event {result.broken_at}: {result.reason} "
                   f"({result.count} events before it verified)", err=True)
        sys.exit(1)
    click.echo(f"audit log ok: {result.count} events, head {result.head_hash}")


@audit_cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), required=True)
@click.option("--since", help="First day (YYYY-MM-DD, UTC), inclusive.")
@click.option("--until", help="Last day (YYYY-MM-DD, UTC), inclusive.")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8", lazy=True), default="-",
              help="File to write (default: standard output).")
def audit_export(fmt: str, since: str | None, until: str | None, output) -> None:
    """Export the audit log as CSV (spreadsheet-safe) or JSON Lines (raw values)."""
    from moderation_app.services.audit_export import export_lines, parse_filters

    filters, errors = parse_filters({"since": since or "", "until": until or ""})
    if errors:
        raise click.UsageError("--since and --until take dates as YYYY-MM-DD.")
    rows = [0]
    for chunk in export_lines(filters, fmt, rows):
        output.write(chunk)
    output.flush()
    record_event("audit.exported", details={"format": fmt, "filters": filters.describe(),
                                             "rows": rows[0], "completed": True, "via": "cli"})
    db.session.commit()
    click.echo(f"exported {rows[0]} events", err=True)
