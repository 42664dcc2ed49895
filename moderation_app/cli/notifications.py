"""`flask --app wsgi notifications send [--once]`: deliver the outbox by SMTP.

The round itself is services/notifications/delivery.deliver_round (each message its own commit;
on PostgreSQL FOR UPDATE SKIP LOCKED, so several senders share the work; on SQLite one sender).
This loop adds the pause between rounds, its own backoff when the database fails, and a clean
stop on SIGTERM or Ctrl-C after the message in flight."""

from __future__ import annotations

import sys
import threading

import click
from flask import current_app, render_template
from flask.cli import AppGroup
from sqlalchemy.exc import DBAPIError

from moderation_app.cli.stopping import stop_on_signals
from moderation_app.extensions import db
from moderation_app.services.notifications.delivery import ROUND_LIMIT, deliver_round
from moderation_app.settings import mail_settings, retry_policy, smtp_transport

notifications_cli = AppGroup("notifications", help="E-mail sellers about their requests.")

# The loop's own backoff when the database fails (the messages' backoff is their own).
LOOP_MAX_WAIT_SECONDS = 300


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
        if once:
            return
    else:
        click.echo(f"delivering through {transport.settings.display}", err=True)
    if once:
        click.echo(deliver_round(transport, mail, policy, render=render_template,
                                 commit=db.session.commit, stop=stop))
        return
    wait = poll
    while not stop.is_set():
        if transport is not None:
            try:
                report = deliver_round(transport, mail, policy, render=render_template,
                                       commit=db.session.commit, stop=stop)
                # A full round means more are due: go on at once.
                wait = 0 if report.sent + report.failed >= ROUND_LIMIT else poll
                if report.sent or report.failed:
                    click.echo(report)
            except DBAPIError as error:
                db.session.rollback()
                wait = min(wait * 2, LOOP_MAX_WAIT_SECONDS)
                click.echo(f"database error, next try in {wait:.0f} s: {error.orig}", err=True)
        stop.wait(wait)
    click.echo("stopped", err=True)
    sys.stdout.flush()
