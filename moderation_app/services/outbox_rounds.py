"""One round over an outbox (the sellers' e-mails, the marketplace's webhooks): every row due
now, each tried once, each outcome its own commit. The outboxes supply what differs: which row is
due, how one is tried, how its outcome is marked.

On PostgreSQL the due row is claimed with SELECT … FOR UPDATE SKIP LOCKED and stays locked until
its mark commits, so any number of senders share the work and never try a row twice at once. On
SQLite the read is committed before the attempt talks to the outside (the attempt calls
`release`), so the desk's writers never wait on a mail server or the marketplace. That commit
carries a lease: the row's next_attempt_at moves to now + `lease_for(the transport's timeout)`,
so no other sender (a job, the polling sender) finds it due while it is tried. The read and the
lease are one SQLite transaction, and SQLite's are serializable, so two senders cannot both take
the row. The mark re-reads the row and sets the real outcome (delivered, or the backoff's next
time); a sender killed mid-attempt leaves the row due again when the lease ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from moderation_app.extensions import db

# The transport's timeout bounds each wait on the other side (connect, a read, an SMTP reply), not
# the attempt: twice it covers an attempt's few slow steps, and a minute at least keeps a short
# timeout from letting another sender in while a live attempt is still being answered.
MIN_LEASE = timedelta(seconds=60)

Row = TypeVar("Row")
Outcome = TypeVar("Outcome")


class NextDue(Protocol[Row]):
    def __call__(self, now: datetime, *, skip_locked: bool,
                 exclude: Collection[int] = ()) -> Row | None: ...


def lease_for(timeout_seconds: float) -> timedelta:
    """How long a SQLite sender keeps a row from the other senders while it tries it."""
    return max(MIN_LEASE, timedelta(seconds=2 * timeout_seconds))


def deliver_each(next_due: NextDue[Row], still_pending: Callable[[int], Row | None],
                 attempt: Callable[[Row, Callable[[], None]], Outcome],
                 mark: Callable[[Row, Outcome], None], *, commit: Callable[[], None],
                 clock: Callable[[], datetime], stop: threading.Event | None,
                 limit: int, lease: timedelta) -> None:
    """`attempt(row, release)` tries one due row (calling `release()` before it talks to the
    outside; read what it needs from the row first) and returns its outcome; `mark(row,
    outcome)` records it on the row as it stands then, unless another sender marked it.
    `lease`: how long the row is kept from other senders on SQLite (`lease_for`)."""
    skip_locked = db.session.get_bind().dialect.name == "postgresql"

    def leased(row: Row) -> Callable[[], None]:
        def release() -> None:
            row.next_attempt_at = clock() + lease  # type: ignore[attr-defined]
            commit()
        return release

    tried: set[int] = set()
    while len(tried) < limit and not (stop and stop.is_set()):
        row = next_due(clock(), skip_locked=skip_locked, exclude=tried)
        if row is None:
            break
        row_id = row.id  # type: ignore[attr-defined]
        tried.add(row_id)
        outcome = attempt(row, (lambda: None) if skip_locked else leased(row))
        current = row if skip_locked else still_pending(row_id)
        if current is not None:
            mark(current, outcome)
        commit()
    commit()  # end the last read, so an idle loop holds no transaction
