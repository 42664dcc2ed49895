"""`flask --app wsgi import-marketplace FILE` and `seed-demo`."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from moderation_app.demo.seed import DEMO_LOGINS, seed_demo
from moderation_app.extensions import db
from moderation_app.services.audit.log import record_event
from moderation_app.services.marketplace.importer import (
    ImportStats,
    apply_batch,
    parsed_batches,
    read_lines,
)
from moderation_app.settings import evidence_store


@click.command("import-marketplace")
@with_appcontext
@click.argument("file", type=click.File("rb"))
def import_marketplace(file) -> None:
    """Import reviews from a JSON Lines FILE ('-' for standard input)."""
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
    with evidence_store().transaction() as staged:
        created = seed_demo(staged)
        db.session.commit()
    click.echo("demo data: " + ("loaded" if created else "already present"))
    click.echo("demo logins (development only):")
    for email, role, password in DEMO_LOGINS:
        click.echo(f"  {role:<8} {email:<32} {password}")
