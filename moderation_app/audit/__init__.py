"""The audit log for managers: the viewer and the exports."""

from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/audit")

from moderation_app.audit import routes  # noqa: E402,F401  (registers the views on bp)
