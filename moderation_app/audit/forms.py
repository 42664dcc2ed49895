"""The form that asks for a prepared export: CSRF and the format; the filters are read like the
viewer's query parameters (filters.audit_filters_from), from the same field names."""

from flask_wtf import FlaskForm

from moderation_app.forms import EnumRadioField
from moderation_app.models.exports import ExportFormat


class ExportForm(FlaskForm):
    format = EnumRadioField("Format", ExportFormat, "Choose CSV or JSON Lines.")
