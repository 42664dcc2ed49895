"""`flask --app wsgi webhooks send [--once]`: deliver the marketplace's webhook events.

The round itself is services/webhooks/delivery.deliver_due (each attempt its own commit; on
PostgreSQL FOR UPDATE SKIP LOCKED, on SQLite a lease on the row, so several senders share the work).
The loop around it (pauses, backoff when the database fails, a clean stop on SIGTERM or Ctrl-C
after the event in flight) is cli/stopping.run_sender, shared with `notifications send`."""

from __future__ import annotations

import threading

import click
from flask import current_app
from flask.cli import AppGroup

from moderation_app.cli.stopping import run_sender, stop_on_signals
from moderation_app.extensions import db
from moderation_app.services.webhooks.delivery import ROUND_LIMIT, deliver_due
from moderation_app.settings import webhook_retry_policy, webhook_transport

webhooks_cli = AppGroup("webhooks", help="Send decisions to the marketplace as webhooks.")


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
    else:
        click.echo(f"delivering to {transport.display}", err=True)
    deliver = None if transport is None else (
        lambda stop: deliver_due(transport, policy, commit=db.session.commit, stop=stop))
    run_sender(deliver, once=once, stop=stop, poll=poll, round_limit=ROUND_LIMIT)
