"""Command-line tools: `flask --app wsgi users …`, `import-marketplace`, `seed-demo`."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from moderation_app.extensions import db
from moderation_app.models.users import Role
from moderation_app.services import DomainError
from moderation_app.services.accounts import create_user, find_user, set_password
from moderation_app.services.audit import record_event

users_cli = AppGroup("users", help="Manage desk accounts.")


def _read_password() -> str:
    # One line from stdin, so `printf '%s\n' "$PW" | flask users …` keeps it out of argv and history.
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise click.ClickException("No password on standard input.")
    return password


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice([role.value for role in Role]), required=True)
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input; without it the account cannot sign in yet.")
def users_create(email: str, role: str, password_stdin: bool) -> None:
    """Create an account."""
    password = _read_password() if password_stdin else None
    try:
        user = create_user(email, Role(role), password)
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"created {user.role.value} {user.email}" + ("" if password else " (no password yet)"))


@users_cli.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the new password from standard input.")
def users_set_password(email: str, password_stdin: bool) -> None:
    """Set or replace an account's password; its open sessions end."""
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"No user with email {email.strip().lower()}.")
    try:
        set_password(user, _read_password())
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"password set for {user.email}")


@users_cli.command("deactivate")
@click.argument("email")
def users_deactivate(email: str) -> None:
    """Stop an account from signing in and end its sessions at once."""
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"No user with email {email.strip().lower()}.")
    user.active = False
    user.rotate_session_token()
    record_event("user.deactivated", details={"user_id": user.id, "email": user.email})
    db.session.commit()
    click.echo(f"deactivated {user.email}")


@click.command("import-marketplace")
@with_appcontext
@click.argument("file", type=click.File("rb"))
def import_marketplace(file) -> None:
    """Import reviews from a JSON Lines FILE ('-' for standard input)."""
    from moderation_app.services.marketplace_import import (
        ImportStats, apply_batch, parsed_batches, read_lines,
    )

    stats = ImportStats()

    def reject(line_number: int, reason: str) -> None:
        click.echo(f"line {line_number}: {reason}", err=True)

    def record_run(**extra: object) -> None:
        record_event("marketplace.imported", details={
            "file": getattr(file, "name", "-"), "imported": stats.imported,
            "updated": stats.updated, "unchanged": stats.unchanged, "rejected": stats.rejected,
            "sellers_created": stats.sellers_created, **extra,
        })
        db.session.commit()

    try:
        for batch in parsed_batches(read_lines(file), stats, reject):
            apply_batch(batch, stats, reject)
            db.session.commit()
            db.session.expunge_all()  # keep memory flat over a million lines
    except Exception as error:
        # Earlier batches stay committed: say so in the log, then fail loudly.
        db.session.rollback()
        record_run(aborted=type(error).__name__)
        raise
    record_run()
    click.echo(stats.summary())
    if stats.rejected:
        sys.exit(1)


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Load demo accounts, offers and reviews (idempotent) and print the demo logins."""
    from moderation_app.services.deletion_requests import evidence_store
    from moderation_app.services.demo import DEMO_LOGINS, seed_demo

    with evidence_store().transaction() as staged:
        created = seed_demo(staged)
        db.session.commit()
    click.echo("demo data: " + ("loaded" if created else "already present"))
    click.echo("demo logins (development only):")
    for email, role, password in DEMO_LOGINS:
        click.echo(f"  {role:<8} {email:<32} {password}")


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


def register(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(import_marketplace)
    app.cli.add_command(seed_demo_command)
