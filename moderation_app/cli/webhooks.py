"""`flask --app wsgi webhooks send [--once]`: deliver the marketplace's webhook events.

The round itself is services/webhooks/delivery.deliver_due (each attempt its own commit; on
PostgreSQL FOR UPDATE SKIP LOCKED, so several senders share the work; on SQLite one sender).
This loop adds the pause between rounds, its own backoff when the database fails, and a clean
stop on SIGTERM or Ctrl-C after the event in flight."""

from __future__ import annotations

import sys
import threading

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import DBAPIError

from moderation_app.cli.stopping import stop_on_signals
from moderation_app.extensions import db
from moderation_app.services.webhooks.delivery import ROUND_LIMIT, deliver_due
from moderation_app.settings import webhook_retry_policy, webhook_transport

webhooks_cli = AppGroup("webhooks", help="Send decisions to the marketplace as webhooks.")

# The loop's own backoff when the database fails (the events' backoff is their own).
LOOP_MAX_WAIT_SECONDS = 300


@webhooks_cli.command("send")
@click.option("--once", is_flag=True,
              help="Deliver what is due now and exit (for cron); without it, keep delivering.")
def send(once: bool) -> None:
    """Deliver due events to MARKETPLACE_WEBHOOK_URL. Without it nothing is sent: the events
    wait, and managers see them on /webhooks."""
    stop = threading.Event() if once else stop_on_signals()
    transport = webhook_transport()
    policy = webhook_retry_policy()
    poll = float(current_app.config["WEBHOOK_POLL_SECONDS"])
    if transport is None:
        click.echo("MARKETPLACE_WEBHOOK_URL is not set: nothing is sent; events wait on /webhooks.",
                   err=True)
        if once:
            return
    else:
        click.echo(f"delivering to {transport.display}", err=True)
    if once:
        click.echo(deliver_due(transport, policy, commit=db.session.commit, stop=stop))
        return
    wait = poll
    while not stop.is_set():
        if transport is not None:
            try:
                report = deliver_due(transport, policy, commit=db.session.commit, stop=stop)
                # A full round means more are due: go on at once.
                wait = 0 if report.tried >= ROUND_LIMIT else poll
                if report.tried:
                    click.echo(report)
            except DBAPIError as error:
                db.session.rollback()
                wait = min(max(wait, poll) * 2, LOOP_MAX_WAIT_SECONDS)
                click.echo(f"database error, next try in {wait:.0f} s: {error.orig}", err=True)
        stop.wait(wait)
    click.echo("stopped", err=True)
    sys.stdout.flush()
