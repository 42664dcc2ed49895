"""gunicorn reads this file from the working directory whatever the command line says.

Several workers must share their limits (the sign-in throttle, the upload quota's refusals, the
API's per-token limit) in Redis: on memory:// each worker would count alone, and N workers would
let an attacker try N times the limit. So gunicorn refuses to start them; one worker with threads
(`make run`) is fine. See docs/deployment.md.
"""

import os


def on_starting(server) -> None:
    storage = (os.environ.get("FLASK_RATELIMIT_STORAGE_URI") or os.environ.get("REDIS_URL")
               or "memory://")
    if server.cfg.workers > 1 and storage.startswith("memory://"):
        raise SystemExit(
            f"Refusing to start {server.cfg.workers} workers with the limits in memory://: each "
            "worker would count sign-in attempts alone. Set REDIS_URL=redis://host:6379/0 (or "
            "FLASK_RATELIMIT_STORAGE_URI), or run one worker with threads.")
