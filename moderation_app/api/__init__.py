"""The marketplace's JSON API under /api/v1 (docs/api.md): bearer tokens only, no cookies, no CSRF."""

from moderation_app.api.routes import bp

__all__ = ["bp"]
