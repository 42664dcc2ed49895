"""Login and password-confirmation forms."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Length

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
