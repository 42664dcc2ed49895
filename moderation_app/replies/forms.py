"""The reply template form (title, decision, reason, body) and a bare CSRF form for the buttons."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from moderation_app.forms import NoNullCharacter
from moderation_app.models.requests import Decision, Reason
from moderation_app.services.replies import BODY_MAX_LENGTH, TITLE_MAX_LENGTH, TemplateText

DECISION_MESSAGE = "Choose approve, reject or ask for more information."
REASON_MESSAGE = "Choose one of the four reasons, or any reason."
ANY_REASON = SelectChoice("", "Any reason")


class ChoiceOf(SelectField):
    """A select whose value must be one of `allowed` (`message` otherwise, not WTForms' generic
    "Not a valid choice"); an empty value is allowed only when a choice offers it."""

    def __init__(self, label: str, choices: list[SelectChoice], message: str, **kwargs) -> None:
        super().__init__(label, choices=choices, **kwargs)
        self.allowed = {choice.value for choice in choices}
        self.message = message

    def pre_validate(self, form: FlaskForm) -> None:
        if self.data not in self.allowed:
            raise ValidationError(self.message)


class TemplateForm(FlaskForm):
    title = StringField("Title", validators=[
        DataRequired("Give the template a title."), NoNullCharacter(),
        Length(max=TITLE_MAX_LENGTH, message=f"Keep the title to {TITLE_MAX_LENGTH} characters.")])
    decision = ChoiceOf("Decision", [SelectChoice(d.value, d.label) for d in Decision],
                        DECISION_MESSAGE)
    reason = ChoiceOf("Reason", [ANY_REASON, *(SelectChoice(r.value, r.label) for r in Reason)],
                      REASON_MESSAGE, default="")
    body = TextAreaField("Note to the seller", validators=[
        DataRequired("Write the note the template fills in."), NoNullCharacter(),
        Length(max=BODY_MAX_LENGTH,
               message=f"Keep the note to {BODY_MAX_LENGTH} characters, the limit of a decision's note.")])

    def text(self) -> TemplateText:
        return TemplateText(self.title.data or "", Decision(self.decision.data),
                            Reason(self.reason.data) if self.reason.data else None,
                            self.body.data or "")


class ActionForm(FlaskForm):
    """A button that changes state: only the CSRF token."""
