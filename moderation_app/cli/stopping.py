"""What the long-running senders (`notifications send`, `webhooks send`) share."""

from __future__ import annotations

import signal
import threading


def stop_on_signals() -> threading.Event:
    """Set on SIGTERM or SIGINT: the sender finishes the delivery in flight, then stops."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop
