"""Customer-service agents and managers: the queue and one request."""

from moderation_app.staff import request_views  # noqa: F401  (its views join bp)
from moderation_app.staff.routes import bp

__all__ = ["bp"]
