"""Serving evidence files to the people allowed to see them, and nobody else."""

from moderation_app.evidence.routes import bp

__all__ = ["bp"]
