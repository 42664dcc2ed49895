"""`flask --app wsgi notifications send [--once]`: deliver the outbox by SMTP.

The round itself is services/notifications/delivery.deliver_round (each message its own commit;
on PostgreSQL FOR UPDATE SKIP LOCKED, on SQLite a lease on the row, so several senders share the work).
The loop around it (pauses, backoff when the database fails, a clean stop on SIGTERM or Ctrl-C
after the message in flight) is cli/stopping.run_sender, shared with `webhooks send`."""

from __future__ import annotations

import threading

import click
from flask import current_app, render_template
from flask.cli import AppGroup

from moderation_app.cli.stopping import run_sender, stop_on_signals
from moderation_app.extensions import db
from moderation_app.services.notifications.delivery import ROUND_LIMIT, deliver_round
from moderation_app.settings import mail_settings, retry_policy, smtp_transport

notifications_cli = AppGroup("notifications", help="E-mail sellers about their requests.")


@notifications_cli.command("send")
@click.option("--once", is_flag=True,
              help="Deliver what is due now and exit (for cron); without it, keep delivering.")
def send(once: bool) -> None:
    """Deliver due e-mails through SMTP_URL. Without SMTP_URL nothing is sent: the messages
    wait, and managers see them on /notifications."""
    # Before the first line of output, so whoever reads it may signal us from then on.
    stop = threading.Event() if once else stop_on_signals()
    transport = smtp_transport()
    mail, policy = mail_settings(), retry_policy()
    poll = float(current_app.config["NOTIFICATION_POLL_SECONDS"])
    if transport is None:
        click.echo("SMTP_URL is not set: nothing is sent; messages wait on /notifications.",
                   err=True)
    else:
        click.echo(f"delivering through {transport.settings.display}", err=True)
    deliver = None if transport is None else (
        lambda stop: deliver_round(transport, mail, policy, render=render_template,
                                   commit=db.session.commit, stop=stop))
    run_sender(deliver, once=once, stop=stop, poll=poll, round_limit=ROUND_LIMIT)
