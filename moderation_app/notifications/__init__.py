"""Managers' view of the e-mail outbox: what has not reached sellers, and why."""

from moderation_app.notifications.routes import bp

__all__ = ["bp"]
