"""The dashboard: the desk's figures for managers, an agent's own for agents, as a page, JSON and
CSV."""

from moderation_app.dashboard.routes import bp

__all__ = ["bp"]
