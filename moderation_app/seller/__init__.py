"""The seller's side of the desk."""

from moderation_app.seller.routes import bp

__all__ = ["bp"]
