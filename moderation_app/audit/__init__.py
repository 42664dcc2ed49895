"""The audit log for managers: the viewer, the streamed exports and the prepared ones."""

from moderation_app.audit import prepared  # noqa: F401  (its views join bp)
from moderation_app.audit.routes import bp

__all__ = ["bp"]
