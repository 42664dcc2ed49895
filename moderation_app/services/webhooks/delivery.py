"""One round of delivery: every event due now, each tried once, each attempt its own commit
(services/outbox_rounds.py: SKIP LOCKED on PostgreSQL; on SQLite the write lock freed during the
POST, the event leased meanwhile so no other sender posts it).

`deliver_due` takes the transaction boundary from its caller (`commit`), so the CLI loop and a
job (moderation_app/jobs) run the same code inside their own app context; it never reads settings.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from moderation_app.database import utcnow
from moderation_app.models.webhooks import WebhookEvent, WebhookStatus
from moderation_app.services.outbox_rounds import deliver_each, lease_for
from moderation_app.services.webhooks.outbox import (
    AttemptResult,
    RetryPolicy,
    next_due,
    record_attempt,
    still_pending,
)
from moderation_app.services.webhooks.transport import WebhookTransport

log = logging.getLogger(__name__)

# Events per round at most, so a huge backlog still lets a loop notice a stop signal.
ROUND_LIMIT = 200


@dataclass
class RoundReport:
    delivered: int = 0
    failed: int = 0
    gave_up: list[int] = field(default_factory=list)

    @property
    def tried(self) -> int:
        return self.delivered + self.failed

    def __str__(self) -> str:
        text = f"delivered {self.delivered}, failed {self.failed} (retried later)"
        return text + (f", gave up on {self.gave_up}" if self.gave_up else "")


def deliver_due(transport: WebhookTransport, policy: RetryPolicy, *, commit: Callable[[], None],
                stop: threading.Event | None = None, limit: int = ROUND_LIMIT,
                clock: Callable[[], datetime] = utcnow) -> RoundReport:
    """Every event due now, in order per review, each POSTed once."""
    report = RoundReport()

    def attempt(event: WebhookEvent, release: Callable[[], None]) -> AttemptResult:
        webhook_id, body = event.webhook_id, event.payload
        release()
        return transport.post(webhook_id, body)

    def mark(event: WebhookEvent, result: AttemptResult) -> None:
        record_attempt(event, result, clock(), policy)
        if result.succeeded:
            report.delivered += 1
            return
        report.failed += 1
        if event.status is WebhookStatus.FAILED:
            report.gave_up.append(event.id)
        log.warning("webhook event %s not delivered: %s", event.id, event.last_error)

    deliver_each(next_due, still_pending, attempt, mark, commit=commit, clock=clock, stop=stop,
                 limit=limit, lease=lease_for(transport.timeout))
    return report
