"""Staff forms: decide a request, add an internal note, and bare CSRF forms for claim/release."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from moderation_app.forms import EnumRadioField, NoNullCharacter
from moderation_app.services.requests.decisions import NOTE_MAX_LENGTH, Decision

_TOO_LONG = f"Write at most {NOTE_MAX_LENGTH} characters."


class ActionForm(FlaskForm):
    """A button that changes state: only the CSRF token."""


class DecisionForm(FlaskForm):
    decision = EnumRadioField("Decision", Decision,
                              "Choose approve, reject or ask for more information.")
    note = TextAreaField(
        "Note to the seller",
        validators=[DataRequired("Write the note the seller will see: the reason, or your question."),
                    NoNullCharacter(), Length(max=NOTE_MAX_LENGTH, message=_TOO_LONG)],
    )
    internal_note = TextAreaField("Internal note (staff only, optional)",
                                  validators=[NoNullCharacter(),
                                              Length(max=NOTE_MAX_LENGTH, message=_TOO_LONG)])
    # The reply template the note started from, set by static/js/reply_templates.js; checked by
    # services.replies.template_used, which ignores anything that is not a fitting template's id.
    reply_template = HiddenField()
    # How many screenshots the page showed (rendered from the page's evidence, never echoed back):
    # services.requests.decisions refuses approve and reject when more were stored since.
    evidence_shown = HiddenField()
    submit = SubmitField("Record decision")
    submit_and_next = SubmitField("Record and take the next")


class NoteForm(FlaskForm):
    note = TextAreaField("Internal note",
                         validators=[DataRequired("Write a note first."), NoNullCharacter(),
                                     Length(max=NOTE_MAX_LENGTH, message=_TOO_LONG)])
