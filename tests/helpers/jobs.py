"""The machine's real Redis for the job tests: a queue of its own per test (so parallel runs never
take each other's jobs), and a real RQ worker run in burst mode in this process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from redis import Redis
from rq import Queue

from moderation_app.jobs import work

REDIS_URL = "redis://127.0.0.1:6379/0"
# Nothing listens on port 1: an enqueue fails at once, as with Redis stopped.
UNREACHABLE_REDIS_URL = "redis://127.0.0.1:1/0"


@contextmanager
def job_queue(app: Flask, url: str = REDIS_URL) -> Iterator[Queue]:
    """Jobs of `app` go to a fresh RQ queue in Redis for the block; its jobs are deleted after."""
    name = f"test-jobs-{uuid.uuid4().hex}"
    app.config.update(REDIS_URL=url, JOBS_QUEUE=name)
    queue = Queue(name, connection=Redis.from_url(REDIS_URL))
    try:
        yield queue
    finally:
        for job_id in queue.failed_job_registry.get_job_ids():
            queue.failed_job_registry.remove(job_id, delete_job=True)
        queue.delete(delete_jobs=True)
        app.config.update(REDIS_URL=None)


def run_worker(app: Flask) -> bool:
    """A real RQ worker (moderation_app.jobs.DeskWorker) works the app's queue until it is empty;
    True if it ran any job."""
    return work(app, burst=True)
