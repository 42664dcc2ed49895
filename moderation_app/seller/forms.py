"""Seller forms: a deletion request, an answer to customer service, a withdrawal, an appeal."""

from flask_wtf import FlaskForm
from wtforms import Field, MultipleFileField, TextAreaField
from wtforms.validators import DataRequired, Length

from moderation_app.forms import EnumRadioField, NoNullCharacter
from moderation_app.models.requests import Reason
from moderation_app.services.requests.appeals import APPEAL_MAX_LENGTH, APPEAL_MIN_LENGTH
from moderation_app.services.requests.filing import (
    EXPLANATION_MAX_LENGTH,
    EXPLANATION_MIN_LENGTH,
    MESSAGE_MAX_LENGTH,
)


def length_bounds(field: Field) -> tuple[int | None, int | None]:
    """The bounds of a field's Length validator, for the hint and the counter to show."""
    for validator in field.validators:
        if isinstance(validator, Length):
            return (validator.min if validator.min >= 0 else None,
                    validator.max if validator.max >= 0 else None)
    return None, None


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class DeletionRequestForm(FlaskForm):
    reason = EnumRadioField("Why should the review be deleted?", Reason,
                            "Choose one of the four reasons.")
    explanation = TextAreaField(
        "Explain what the screenshots show",
        # Bounds apply to what is stored, which is stripped: padding must not pass for content.
        filters=[_strip],
        validators=[
            DataRequired("Explain why the review fits the reason."),
            NoNullCharacter(),
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
            NoNullCharacter(),
            Length(max=MESSAGE_MAX_LENGTH, message=f"Write at most {MESSAGE_MAX_LENGTH} characters."),
        ],
    )
    evidence = MultipleFileField("More screenshots (optional)")


class WithdrawForm(FlaskForm):
    reason = TextAreaField(
        "Why are you withdrawing it? (optional)",
        validators=[NoNullCharacter(),
                    Length(max=MESSAGE_MAX_LENGTH,
                           message=f"Write at most {MESSAGE_MAX_LENGTH} characters.")],
    )


class AppealForm(FlaskForm):
    message = TextAreaField(
        "Why should the decision change?",
        filters=[_strip],
        validators=[
            DataRequired("Explain why the decision should change."),
            NoNullCharacter(),
            Length(min=APPEAL_MIN_LENGTH, max=APPEAL_MAX_LENGTH,
                   message=f"Write between {APPEAL_MIN_LENGTH} and {APPEAL_MAX_LENGTH} characters."),
        ],
    )
    # The request's pipeline and rules (seller/uploads.py); optional here, as on an answer.
    evidence = MultipleFileField("More screenshots (optional)")
