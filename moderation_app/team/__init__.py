"""The team for managers: accounts, their roles, set-password links, deactivation."""

from moderation_app.team.routes import bp

__all__ = ["bp"]
