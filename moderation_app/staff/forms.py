"""Staff forms: decide a request, add an internal note, and bare CSRF forms for claim/release."""

from flask_wtf import FlaskForm
from wtforms import RadioField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from moderation_app.services.decisions import NOTE_MAX_LENGTH, Decision

_TOO_LONG = f"Write at most {NOTE_MAX_LENGTH} characters."


class ActionForm(FlaskForm):
    """A button that changes state: only the CSRF token."""


class DecisionField(RadioField):
    def pre_validate(self, form: FlaskForm) -> None:
        if self.data not in {decision.value for decision in Decision}:
            raise ValidationError("Choose approve, reject or ask for more information.")


class DecisionForm(FlaskForm):
    decision = DecisionField(
        "Decision",
        choices=[SelectChoice(decision.value, decision.label) for decision in Decision],
        validators=[InputRequired("Choose approve, reject or ask for more information.")],
    )
    note = TextAreaField(
        "Note to the seller",
        validators=[DataRequired("Write the note the seller will see: the reason, or your question."),
                    Length(max=NOTE_MAX_LENGTH, message=_TOO_LONG)],
    )
    internal_note = TextAreaField("Internal note (staff only, optional)",
                                  validators=[Length(max=NOTE_MAX_LENGTH, message=_TOO_LONG)])
    submit = SubmitField("Record decision")
    submit_and_next = SubmitField("Record and take the next")


class NoteForm(FlaskForm):
    note = TextAreaField("Internal note",
                         validators=[DataRequired("Write a note first."),
                                     Length(max=NOTE_MAX_LENGTH, message=_TOO_LONG)])
