"""Login, password-confirmation and set-password forms."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from moderation_app.forms import NoNullCharacter
from moderation_app.models.users import MAX_PASSWORD_LENGTH


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), NoNullCharacter(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])
    submit = SubmitField("Sign in")


class ConfirmPasswordForm(FlaskForm):
    """Asked before a sensitive action when the password was entered too long ago."""
    password = PasswordField("Password",
                             validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])
    submit = SubmitField("Confirm")


class SetPasswordForm(FlaskForm):
    """A new account's (or a reset one's) password, chosen through a one-time link. The length
    rules are the service's (accounts.check_password_policy); here only what a form can say."""
    password = PasswordField("New password",
                             validators=[DataRequired("Choose a password."),
                                         Length(max=MAX_PASSWORD_LENGTH)])
    password_confirm = PasswordField(
        "The same password again",
        validators=[DataRequired("Type the password a second time."),
                    EqualTo("password", message="The two passwords are not the same.")])
    submit = SubmitField("Set my password")
