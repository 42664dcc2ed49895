"""The account settings form: the time zone, or the browser's."""

from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from moderation_app.services.accounts import is_time_zone, time_zone_names

# The value of "Use my browser's time zone": stored as NULL (see models.users.User.timezone).
BROWSER_ZONE = ""
ZONE_MESSAGE = "Choose a time zone from the list, or “Use my browser's time zone”."


def zone_choices() -> list[SelectChoice]:
    # The IANA name is the value; the label reads "America/New York", as people write it.
    return [SelectChoice(BROWSER_ZONE, "Use my browser's time zone"),
            *(SelectChoice(name, name.replace("_", " ")) for name in time_zone_names())]


class TimeZoneField(SelectField):
    """One of the desk's zones or BROWSER_ZONE; anything else (a tampered form, a zone this server's
    tz database lacks) gets ZONE_MESSAGE rather than WTForms' "Not a valid choice"."""

    def __init__(self, label: str, **kwargs) -> None:
        # No default: a post without the field is refused, not read as "the browser's".
        super().__init__(label, choices=zone_choices, **kwargs)

    def pre_validate(self, form: FlaskForm) -> None:
        if self.data != BROWSER_ZONE and not is_time_zone(self.data):
            raise ValidationError(ZONE_MESSAGE)


class SettingsForm(FlaskForm):
    timezone = TimeZoneField("Time zone")
