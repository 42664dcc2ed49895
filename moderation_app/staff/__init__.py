"""Customer-service agents and managers: the queue and one request."""

from moderation_app.staff import decision_views, request_views  # noqa: F401  (their views join bp)
from moderation_app.staff.routes import bp

__all__ = ["bp"]
