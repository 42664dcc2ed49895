"""The seller's side of the desk."""

from moderation_app.seller.nav import nav_helpers
from moderation_app.seller.routes import bp

bp.app_context_processor(nav_helpers)

__all__ = ["bp"]
