"""A user's own settings: for now, the time zone their pages show times in."""

from moderation_app.account.routes import bp

__all__ = ["bp"]
