"""One round over an outbox (the sellers' e-mails, the marketplace's webhooks): every row due
now, each tried once, each outcome its own commit. The outboxes supply what differs: which row is
due, how one is tried, how its outcome is marked.

On PostgreSQL the due row is claimed with SELECT … FOR UPDATE SKIP LOCKED and stays locked until
its mark commits, so any number of senders share the work and never try a row twice at once. On
SQLite the read is committed before the attempt talks to the outside (the attempt calls
`release`), so the desk's writers never wait on a mail server or the marketplace, and the mark
re-reads the row first: run one sender there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Protocol, TypeVar

from moderation_app.extensions import db

Row = TypeVar("Row")
Outcome = TypeVar("Outcome")


class NextDue(Protocol[Row]):
    def __call__(self, now: datetime, *, skip_locked: bool,
                 exclude: Collection[int] = ()) -> Row | None: ...


def deliver_each(next_due: NextDue[Row], still_pending: Callable[[int], Row | None],
                 attempt: Callable[[Row, Callable[[], None]], Outcome],
                 mark: Callable[[Row, Outcome], None], *, commit: Callable[[], None],
                 clock: Callable[[], datetime], stop: threading.Event | None,
                 limit: int) -> None:
    """`attempt(row, release)` tries one due row (calling `release()` before it talks to the
    outside; read what it needs from the row first) and returns its outcome; `mark(row,
    outcome)` records it on the row as it stands then, unless another sender marked it."""
    skip_locked = db.session.get_bind().dialect.name == "postgresql"
    release = (lambda: None) if skip_locked else commit
    tried: set[int] = set()
    while len(tried) < limit and not (stop and stop.is_set()):
        row = next_due(clock(), skip_locked=skip_locked, exclude=tried)
        if row is None:
            break
        row_id = row.id  # type: ignore[attr-defined]
        tried.add(row_id)
        outcome = attempt(row, release)
        current = row if skip_locked else still_pending(row_id)
        if current is not None:
            mark(current, outcome)
        commit()
    commit()  # end the last read, so an idle loop holds no transaction
