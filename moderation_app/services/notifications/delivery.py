"""One round of e-mail delivery: every message due now, each tried once, each mark its own commit.

`deliver_round` takes the transaction boundary (`commit`) and the template renderer (`render`)
from its caller, so the `notifications send` loop and a job (moderation_app/jobs) run the same
code in their own app context; it never reads settings.

Each message is its own transaction, committed right after the SMTP server accepted it, so a
crash loses at most the mark of the one message in flight (which is then sent again, with the
same Message-ID: at least once, see docs/notifications.md). On PostgreSQL the due row is claimed
with SELECT … FOR UPDATE SKIP LOCKED and stays locked until its mark commits; on SQLite it is
leased (its next_attempt_at moved past the attempt) in a commit before the sender talks to the
server, so the desk's writers never wait on SMTP. Either way several senders share the work and
never send a row twice at once (both in services/outbox_rounds.py)."""

from __future__ import annotations

import logging
import smtplib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from moderation_app.database import utcnow
from moderation_app.models.notifications import Notification, NotificationStatus
from moderation_app.services.notifications.messages import MailSettings, Render, compose
from moderation_app.services.notifications.outbox import (
    RetryPolicy,
    mark_sent,
    next_due,
    record_failure,
    still_pending,
)
from moderation_app.services.notifications.smtp import SmtpTransport
from moderation_app.services.outbox_rounds import deliver_each, lease_for

log = logging.getLogger(__name__)

# Delivered per round at most, so a huge backlog still lets the loop notice a stop signal.
ROUND_LIMIT = 200


@dataclass
class RoundReport:
    sent: int = 0
    failed: int = 0
    gave_up: list[int] = field(default_factory=list)

    @property
    def tried(self) -> int:
        return self.sent + self.failed

    def __str__(self) -> str:
        text = f"sent {self.sent}, failed {self.failed} (retried later)"
        return text + (f", gave up on {self.gave_up}" if self.gave_up else "")


def deliver_round(transport: SmtpTransport, mail: MailSettings, policy: RetryPolicy, *,
                  render: Render, commit: Callable[[], None],
                  stop: threading.Event | None = None, limit: int = ROUND_LIMIT) -> RoundReport:
    """Every message due now, each tried once."""
    report = RoundReport()

    def attempt(notification: Notification, release: Callable[[], None]) -> Exception | None:
        try:
            message = compose(notification, mail, render, utcnow())
        except Exception as composing_error:  # noqa: BLE001  (a bad row must not stop the rest)
            return composing_error
        release()
        try:
            transport.send(message)
        except (smtplib.SMTPException, OSError) as sending_error:
            return sending_error
        return None

    def mark(notification: Notification, error: Exception | None) -> None:
        # Right after the server's answer, committed at once by the round.
        if error is None:
            mark_sent(notification, utcnow())
            report.sent += 1
            return
        record_failure(notification, error, utcnow(), policy)
        report.failed += 1
        if notification.status is NotificationStatus.FAILED:
            report.gave_up.append(notification.id)
        log.warning("notification %s not delivered: %s", notification.id, notification.last_error)

    deliver_each(next_due, still_pending, attempt, mark, commit=commit, clock=utcnow, stop=stop,
                 limit=limit, lease=lease_for(transport.timeout))
    return report
