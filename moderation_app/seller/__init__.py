"""The seller's side of the desk."""

from flask import Blueprint

bp = Blueprint("seller", __name__, url_prefix="/seller")

from moderation_app.seller import routes  # noqa: E402,F401  (registers the views on bp)
