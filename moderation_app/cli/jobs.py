"""`flask --app wsgi jobs worker [--burst]`: run the desk's jobs from Redis (docs/jobs.md)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from moderation_app.jobs import JobsUnavailable, has_queue, work

jobs_cli = AppGroup("jobs", help="Run the desk's background jobs (RQ on REDIS_URL).")


@jobs_cli.command("worker")
@click.option("--burst", is_flag=True, help="Run the jobs waiting now, then exit.")
@click.option("--name", help="The worker's name in RQ (default: RQ's own, unique).")
def worker(burst: bool, name: str | None) -> None:
    """Run jobs from the JOBS_QUEUE queue in REDIS_URL's Redis, each in an app context of its
    own, one at a time; run several for more at once. SIGTERM or Ctrl-C stops it after the job
    in flight."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not has_queue(app):
        raise click.ClickException("REDIS_URL is not set: jobs run inline in the desk's own "
                                   "processes, and there is nothing for a worker to do.")
    try:
        work(app, burst=burst, name=name)
    except JobsUnavailable as error:
        raise click.ClickException(f"cannot start: {error}. Start Redis or correct REDIS_URL; "
                                   "a worker that loses Redis later waits for it.") from None
