"""The retry button's form: CSRF and an explicit confirmation (a retry sends to the marketplace)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms.validators import DataRequired


class RetryForm(FlaskForm):
    confirm = BooleanField(
        "I have checked that the marketplace can take it now: send this event again, and after it "
        "the review's later events.",
        validators=[DataRequired("Tick the box to confirm the retry.")])
