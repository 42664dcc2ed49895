"""Work off the request path (docs/jobs.md): with REDIS_URL a job is enqueued on RQ and a worker
(`flask --app wsgi jobs worker`) runs it; without it, it runs inline, at once, in the calling
process. Either way a job runs in an app context of its own and commits its own transactions.

`queue` holds the mechanics (enqueue, nudge, the worker), `tasks` the jobs themselves."""

from moderation_app.jobs.queue import (
    JobsUnavailable,
    enqueue,
    has_queue,
    nudge,
    run_inline,
    work,
)

__all__ = ["JobsUnavailable", "enqueue", "has_queue", "nudge", "run_inline", "work"]
