"""Enqueueing a job by its import path, and the worker that runs them.

A job is a plain function of plain arguments (ids), named by import path, so the worker imports
it itself and nothing but the path and the arguments crosses Redis. Without REDIS_URL, `enqueue`
calls it inline in a fresh app context: the embedded default needs no Redis and no worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from flask import Flask, current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker

log = logging.getLogger(__name__)

# An enqueue gives up this soon when Redis does not answer: the request that enqueues waits on it.
CONNECT_TIMEOUT_SECONDS = 1
ENQUEUE_TIMEOUT_SECONDS = 2
# RQ keeps a failed job (its traceback) this long for `rq info` and the like; a finished one not
# at all: the outcome is in the database (an export's row, an event's attempts).
FAILURE_TTL = timedelta(days=7)

_connections: dict[tuple[str, bool], Redis] = {}


class JobsUnavailable(RuntimeError):
    """The job queue (Redis) could not take the job: nothing was enqueued."""


def has_queue(app: Flask | None = None) -> bool:
    """Whether jobs go to RQ (REDIS_URL set) rather than run inline."""
    return bool((app or current_app).config.get("REDIS_URL"))


def _redis(url: str, *, worker: bool = False) -> Redis:
    """One connection pool per URL and process. The worker's has no read timeout: it blocks on
    Redis for new jobs for minutes at a time."""
    key = (url, worker)
    connection = _connections.get(key)
    if connection is None:
        connection = Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
                                    socket_timeout=None if worker else ENQUEUE_TIMEOUT_SECONDS)
        _connections[key] = connection
    return connection


def job_path(function: Callable[..., object]) -> str:
    return f"{function.__module__}.{function.__qualname__}"


def enqueue(function: Callable[..., object], *args: int | str) -> None:
    """Runs `function(*args)` as a job: on RQ with REDIS_URL (JobsUnavailable when Redis cannot
    take it), inline otherwise (a failure there is logged, not raised: the job records its own
    outcome, as it does in the worker)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    config = app.config
    if not has_queue(app):
        run_inline(app, function, *args)
        return
    try:
        Queue(config["JOBS_QUEUE"], connection=_redis(config["REDIS_URL"])).enqueue(
            job_path(function), *args, job_timeout=int(config["JOBS_TIMEOUT_SECONDS"]),
            result_ttl=0, failure_ttl=int(FAILURE_TTL.total_seconds()))
    except RedisError as error:
        raise JobsUnavailable(f"the job queue could not be reached ({type(error).__name__})") \
            from error


def nudge(function: Callable[..., object], *args: int | str) -> bool:
    """For work a polling command also does (`webhooks send`, `notifications send`): enqueued
    when there is a queue, so it happens within seconds; without a queue, or with Redis down,
    nothing — the poller does it on its next round. True when enqueued."""
    if not has_queue():
        return False
    try:
        enqueue(function, *args)
    except JobsUnavailable as error:
        log.warning("%s not enqueued: %s; the polling sender will do it", job_path(function), error)
        return False
    return True


def run_inline(app: Flask, function: Callable[..., object], *args: int | str) -> None:
    # A context of its own, as in the worker: its own session, its own commits, whatever the
    # caller's session holds.
    with app.app_context():
        try:
            function(*args)
        except Exception:  # noqa: BLE001  (the job recorded its failure; the caller goes on)
            log.exception("job %s failed", job_path(function))


class DeskWorker(SimpleWorker):
    """Runs each job in this process (no fork: the database pool, the S3 client and the Redis
    connection are not safe to share with a forked child), one at a time, each inside an app
    context of its own. RQ's timeout (SIGALRM) still stops a job that runs too long."""

    def __init__(self, *args, app: Flask, **kwargs) -> None:
        self.app = app
        super().__init__(*args, **kwargs)

    def perform_job(self, job, queue, execution) -> bool:
        with self.app.app_context():
            return super().perform_job(job, queue, execution)


def work(app: Flask, *, burst: bool = False, name: str | None = None) -> bool:
    """Works the app's queue until stopped (SIGTERM or Ctrl-C: after the job in flight), or
    until it is empty with `burst`. True if any job ran. JobsUnavailable when Redis does not
    answer at start-up."""
    config = app.config
    connection = _redis(config["REDIS_URL"], worker=True)
    queue = Queue(config["JOBS_QUEUE"], connection=connection)
    try:
        # RQ retries a Redis lost while it waits for jobs, but not one missing at start-up: that
        # is a traceback from deep inside redis-py. Say it in one line (the error names host and
        # port, never the URL's password); a supervisor restarting the worker tries again.
        worker = DeskWorker([queue], connection=connection, name=name, app=app)
    except RedisError as error:
        raise JobsUnavailable(f"the job queue could not be reached ({type(error).__name__}: "
                              f"{error})") from error
    return worker.work(burst=burst, logging_level="INFO")
