"""The audit log for managers: the viewer and the exports."""

from moderation_app.audit.routes import bp

__all__ = ["bp"]
