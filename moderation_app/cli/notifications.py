"""`flask --app wsgi notifications send [--once]`: deliver the outbox by SMTP.

Each message is its own transaction, committed right after the SMTP server accepted it, so a
crash loses at most the mark of the one message in flight (which is then sent again, with the
same Message-ID: at least once, see docs/notifications.md). On PostgreSQL the due row is claimed
with SELECT … FOR UPDATE SKIP LOCKED and stays locked until its mark commits, so several senders
share the work and never send a row twice; on SQLite run one sender, which commits before it talks
to the server so the desk's writers never wait on SMTP."""

from __future__ import annotations

import smtplib
import sys
import threading
from dataclasses import dataclass, field

import click
from flask import current_app, render_template
from flask.cli import AppGroup
from sqlalchemy.exc import DBAPIError

from moderation_app.database import utcnow
from moderation_app.cli.stopping import stop_on_signals
from moderation_app.extensions import db
from moderation_app.models.notifications import NotificationStatus
from moderation_app.services.notifications.messages import MailSettings, compose
from moderation_app.services.notifications.outbox import (
    RetryPolicy,
    mark_sent,
    next_due,
    record_failure,
    still_pending,
)
from moderation_app.services.notifications.smtp import SmtpTransport
from moderation_app.settings import mail_settings, retry_policy, smtp_transport

notifications_cli = AppGroup("notifications", help="E-mail sellers about their requests.")

# Delivered per round at most, so a huge backlog still lets the loop notice a stop signal.
ROUND_LIMIT = 200
# The loop's own backoff when the database fails (the messages' backoff is their own).
LOOP_MAX_WAIT_SECONDS = 300


@dataclass
class RoundReport:
    sent: int = 0
    failed: int = 0
    gave_up: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"sent {self.sent}, failed {self.failed} (retried later)"
        return text + (f", gave up on {self.gave_up}" if self.gave_up else "")


def deliver_round(transport: SmtpTransport, mail: MailSettings, policy: RetryPolicy,
                  stop: threading.Event, limit: int = ROUND_LIMIT) -> RoundReport:
    """Every message due now, each tried once."""
    report = RoundReport()
    skip_locked = db.session.get_bind().dialect.name == "postgresql"
    tried: set[int] = set()
    while len(tried) < limit and not stop.is_set():
        notification = next_due(utcnow(), skip_locked=skip_locked, exclude=tried)
        if notification is None:
            break
        notification_id = notification.id
        tried.add(notification_id)
        error: Exception | None = None
        try:
            message = compose(notification, mail, render_template, utcnow())
        except Exception as composing_error:  # noqa: BLE001  (a bad row must not stop the rest)
            error = composing_error
        if error is None:
            if not skip_locked:
                db.session.commit()  # SQLite: free the write lock while the server answers
            try:
                transport.send(message)
            except (smtplib.SMTPException, OSError) as sending_error:
                error = sending_error
        # The mark: its own commit, right after the server's answer.
        row = notification if skip_locked else still_pending(notification_id)
        if row is not None:
            if error is None:
                mark_sent(row, utcnow())
                report.sent += 1
            else:
                record_failure(row, error, utcnow(), policy)
                report.failed += 1
                if row.status is NotificationStatus.FAILED:
                    report.gave_up.append(notification_id)
                current_app.logger.warning("notification %s not delivered: %s",
                                           notification_id, row.last_error)
        db.session.commit()
    db.session.commit()  # end the last read, so an idle loop holds no transaction
    return report


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
        click.echo(deliver_round(transport, mail, policy, stop))
        return
    wait = poll
    while not stop.is_set():
        if transport is not None:
            try:
                report = deliver_round(transport, mail, policy, stop)
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
