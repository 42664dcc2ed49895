"""One round of delivery: every event due now, each tried once, each attempt its own commit.

`deliver_due` takes the transaction boundary from its caller (`commit`), so the CLI loop and a
job runner (RQ, later) run the same code inside their own app context; it never reads settings.

On PostgreSQL the due row is claimed with SELECT … FOR UPDATE SKIP LOCKED and stays locked until
its attempt is recorded and committed, so any number of senders share the work and never POST the
same row at once. On SQLite the read is committed before the POST, so the desk's writers never
wait on the marketplace, and the mark re-reads the row first: run one sender there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models.webhooks import WebhookStatus
from moderation_app.services.webhooks.outbox import RetryPolicy, next_due, record_attempt, still_pending
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
    skip_locked = db.session.get_bind().dialect.name == "postgresql"
    tried: set[int] = set()
    while len(tried) < limit and not (stop and stop.is_set()):
        event = next_due(clock(), skip_locked=skip_locked, exclude=tried)
        if event is None:
            break
        event_id, webhook_id, body = event.id, event.webhook_id, event.payload
        tried.add(event_id)
        if not skip_locked:
            commit()  # SQLite: free the write lock while the marketplace answers
        result = transport.post(webhook_id, body)
        row = event if skip_locked else still_pending(event_id)
        if row is not None:
            record_attempt(row, result, clock(), policy)
            if result.succeeded:
                report.delivered += 1
            else:
                report.failed += 1
                if row.status is WebhookStatus.FAILED:
                    report.gave_up.append(event_id)
                log.warning("webhook event %s not delivered: %s", event_id, row.last_error)
        commit()
    commit()  # end the last read, so an idle loop holds no transaction
    return report
