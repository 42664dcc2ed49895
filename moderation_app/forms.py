"""Form and request-input pieces shared by the blueprints."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date

from flask_wtf import FlaskForm
from wtforms import RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, ValidationError


class NoNullCharacter:
    """Refuses text holding NUL (as Django's forms do): no keyboard types it, and PostgreSQL cannot
    store it (psycopg raises DataError), which would turn a bad form into a 500."""

    MESSAGE = ("The text contains an invisible null character, which cannot be saved. Retype it or "
               "paste it as plain text.")

    def __init__(self, message: str = MESSAGE) -> None:
        self.message = message

    def __call__(self, form: FlaskForm, field) -> None:
        if isinstance(field.data, str) and "\x00" in field.data:
            raise ValidationError(self.message)


class EnumRadioField(RadioField):
    """Radio buttons for the members of a StrEnum with a `label`; anything else gets `message`,
    not WTForms' generic "Not a valid choice"."""

    def __init__(self, label: str, enum_cls: type[enum.StrEnum], message: str, **kwargs) -> None:
        self.allowed = {member.value for member in enum_cls}
        self.message = message
        super().__init__(label,
                         choices=[SelectChoice(member.value, member.label) for member in enum_cls],
                         validators=[InputRequired(message)], **kwargs)

    def pre_validate(self, form: FlaskForm) -> None:
        if self.data not in self.allowed:
            raise ValidationError(self.message)


def query_day(args: Mapping[str, str], name: str, first: date, last: date, errors: list[str], *,
              ignored: str, span: str = "") -> date | None:
    """The day a query parameter names (YYYY-MM-DD) if it is one from `first` to `last`; else
    None, with a message in `errors` that ends "`ignored` is ignored." Far outside the range, the
    instants of a day overflow datetime, which would be a 500 for a typed link."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        parsed = date.fromisoformat(raw)
    except ValueError:
        errors.append(f"“{raw[:40]}” is not a date (use YYYY-MM-DD); {ignored} is ignored.")
        return None
    if not first <= parsed <= last:
        errors.append(f"“{raw[:40]}” is outside {span or f'{first} to {last}'}; {ignored} is ignored.")
        return None
    return parsed
