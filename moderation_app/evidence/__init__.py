"""Serving evidence files to the people allowed to see them, and nobody else."""

from flask import Blueprint

bp = Blueprint("evidence", __name__, url_prefix="/evidence")

from moderation_app.evidence import routes  # noqa: E402,F401  (registers the views on bp)
