"""Managers' view of the marketplace's webhook outbox: what has not been delivered, and why."""

from moderation_app.webhooks.routes import bp

__all__ = ["bp"]
