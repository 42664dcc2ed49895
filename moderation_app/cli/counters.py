"""`flask --app wsgi counters rebuild|check`: the request counters the queue reads, the sellers'
rating totals and the dashboard's day rollups."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from moderation_app.extensions import db
from moderation_app.services.counters import Drift, drift, rebuild

counters_cli = AppGroup("counters", help="Look after the request counters the queue's tabs read.")


def _report(found: Drift) -> None:
    for label, rows in (("desk", found.desk), ("seller", found.sellers), ("rating", found.ratings),
                        ("seller day", found.seller_days), ("agent day", found.agent_days)):
        for key, (kept, counted) in sorted(rows.items(), key=lambda item: tuple(map(str, item[0]))):
            click.echo(f"{label} {'/'.join(map(str, key))}: kept {kept}, counted {counted}")


@counters_cli.command("rebuild")
def counters_rebuild() -> None:
    """Recount every counter from the requests (writers wait meanwhile on PostgreSQL); audited."""
    found = rebuild()
    db.session.commit()
    _report(found)
    click.echo("counters were exact; rebuilt" if found.exact else
               f"corrected {len(found.desk)} desk and {len(found.sellers)} seller counters, "
               f"{len(found.ratings)} seller ratings, "
               f"{len(found.seller_days) + len(found.agent_days)} dashboard day rows")


@counters_cli.command("check")
def counters_check() -> None:
    """Compare every counter with a fresh count; exits 1 if any differs. Changes nothing."""
    found = drift()
    db.session.rollback()
    _report(found)
    if not found.exact:
        click.echo("counters differ from the requests: run `flask --app wsgi counters rebuild`",
                   err=True)
        sys.exit(1)
    click.echo("counters exact")
