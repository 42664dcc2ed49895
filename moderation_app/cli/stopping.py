"""What the long-running senders (`notifications send`, `webhooks send`) share: stopping on a
signal, and the loop around their delivery rounds."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from typing import Protocol

import click
from sqlalchemy.exc import DBAPIError

from moderation_app.extensions import db

# The loop's own backoff when the database fails (each row's backoff is its own).
LOOP_MAX_WAIT_SECONDS = 300


class Round(Protocol):
    """A delivery round's report: how many rows it tried; printed when it tried any."""

    @property
    def tried(self) -> int: ...


def stop_on_signals() -> threading.Event:
    """Set on SIGTERM or SIGINT: the sender finishes the delivery in flight, then stops."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def run_sender(deliver: Callable[[threading.Event], Round] | None, *, once: bool,
               stop: threading.Event, poll: float, round_limit: int) -> None:
    """`deliver(stop)` once (--once), or round after round until `stop`: at once again after a
    full round (more are due), after `poll` seconds otherwise, backing off (doubling, at most
    LOOP_MAX_WAIT_SECONDS) while the database fails. None (nothing configured to send through):
    --once does nothing; the loop idles until stopped, so a supervisor does not restart it."""
    if once:
        if deliver is not None:
            click.echo(deliver(stop))
        return
    wait = poll
    while not stop.is_set():
        if deliver is not None:
            try:
                report = deliver(stop)
                wait = 0 if report.tried >= round_limit else poll
                if report.tried:
                    click.echo(report)
            except DBAPIError as error:
                db.session.rollback()
                wait = min(max(wait, poll) * 2, LOOP_MAX_WAIT_SECONDS)
                click.echo(f"database error, next try in {wait:.0f} s: {error.orig}", err=True)
        stop.wait(wait)
    click.echo("stopped", err=True)
    sys.stdout.flush()
