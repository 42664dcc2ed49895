"""Start pages for customer-service agents and managers."""

from flask import Blueprint

bp = Blueprint("staff", __name__)

from moderation_app.staff import routes  # noqa: E402,F401  (registers the views on bp)
