"""Team forms: a new account, a new role, and bare CSRF forms for the buttons."""

from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from moderation_app.forms import NoNullCharacter
from moderation_app.models.users import Role

ROLE_CHOICES = [SelectChoice(role.value, role.value.capitalize()) for role in Role]
ROLE_MESSAGE = "Choose seller, agent or manager."


class RoleField(SelectField):
    """One of the desk's roles; anything else gets ROLE_MESSAGE rather than WTForms' generic
    "Not a valid choice"."""

    def __init__(self, label: str, **kwargs) -> None:
        super().__init__(label, choices=ROLE_CHOICES, validators=[DataRequired(ROLE_MESSAGE)],
                         **kwargs)

    def pre_validate(self, form: FlaskForm) -> None:
        if self.data not in {role.value for role in Role}:
            raise ValidationError(ROLE_MESSAGE)


class CreateAccountForm(FlaskForm):
    # The address itself is checked by the service (accounts.normalize_email), the one judge of
    # what an account's email may be.
    email = EmailField("Email", validators=[DataRequired("Enter the person's email address."),
                                            NoNullCharacter(), Length(max=254)])
    role = RoleField("Role")


class RoleForm(FlaskForm):
    role = RoleField("Role")


class ActionForm(FlaskForm):
    """A button that changes state: only the CSRF token."""
