"""Signing in and out."""

from moderation_app.auth.routes import bp

__all__ = ["bp"]
