"""Seller forms: a deletion request, an answer to customer service, a withdrawal."""

from flask_wtf import FlaskForm
from wtforms import MultipleFileField, RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from moderation_app.models.requests import Reason
from moderation_app.services.deletion_requests import (
    EXPLANATION_MAX_LENGTH, EXPLANATION_MIN_LENGTH, MESSAGE_MAX_LENGTH,
)


class ReasonField(RadioField):
    def pre_validate(self, form: FlaskForm) -> None:
        if self.data not in {reason.value for reason in Reason}:
            raise ValidationError("Choose one of the four reasons.")


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class DeletionRequestForm(FlaskForm):
    reason = ReasonField(
        "Why should the review be deleted?",
        choices=[SelectChoice(reason.value, reason.label) for reason in Reason],
        validators=[InputRequired("Choose one of the four reasons.")],
    )
    explanation = TextAreaField(
        "Explain what the screenshots show",
        # Bounds apply to what is stored, which is stripped: padding must not pass for content.
        filters=[_strip],
        validators=[
            DataRequired("Explain why the review fits the reason."),
            Length(min=EXPLANATION_MIN_LENGTH, max=EXPLANATION_MAX_LENGTH,
                   message=f"Write between {EXPLANATION_MIN_LENGTH} and {EXPLANATION_MAX_LENGTH} "
                           "characters."),
        ],
    )
    # Files are checked by the evidence pipeline (content, size, pixels), not by WTForms.
    evidence = MultipleFileField("Screenshots")


class AnswerForm(FlaskForm):
    message = TextAreaField(
        "Your answer",
        validators=[
            DataRequired("Write an answer to the question."),
            Length(max=MESSAGE_MAX_LENGTH, message=f"Write at most {MESSAGE_MAX_LENGTH} characters."),
        ],
    )
    evidence = MultipleFileField("More screenshots (optional)")


class WithdrawForm(FlaskForm):
    reason = TextAreaField(
        "Why are you withdrawing it? (optional)",
        validators=[Length(max=MESSAGE_MAX_LENGTH, message=f"Write at most {MESSAGE_MAX_LENGTH} characters.")],
    )
