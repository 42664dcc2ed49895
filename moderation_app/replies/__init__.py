"""Reply templates for managers (`/reply-templates`), and the picker's list for the decision form."""

from moderation_app.replies.routes import bp

__all__ = ["bp"]
