"""Customer-service agents and managers: the queue, one request, the dashboard."""

from flask import Blueprint

bp = Blueprint("staff", __name__)

from moderation_app.staff import request_views, routes  # noqa: E402,F401  (register views on bp)
