"""The dashboard's period: whole UTC days, `since` to `until` inclusive, read from the query string's
text with clear refusals."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from moderation_app.services.errors import DomainError

DEFAULT_DAYS = 30
MAX_DAYS = 366
# Nothing the desk holds is older; and the day after the last day must still be a date Python
# can make (9999-12-31 + 1 day overflows).
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date.max - timedelta(days=1)
# date.fromisoformat also takes "20260501" and "2026-W18-5"; the form promises YYYY-MM-DD only.
DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class BadPeriod(DomainError):
    """The period asked for cannot be shown; the message says why."""


@dataclass(frozen=True)
class Period:
    since: date
    until: date

    @property
    def start(self) -> datetime:
        """The first moment of the period: `since` at 00:00 UTC."""
        return datetime.combine(self.since, time(), UTC)

    @property
    def end(self) -> datetime:
        """The first moment after it: the day after `until`, 00:00 UTC (exclusive)."""
        return datetime.combine(self.until + timedelta(days=1), time(), UTC)

    @property
    def length(self) -> int:
        return (self.until - self.since).days + 1

    def days(self) -> list[date]:
        """Every day of the period, in order."""
        return [self.since + timedelta(days=offset) for offset in range(self.length)]


def default_period(today: date, days: int = DEFAULT_DAYS) -> Period:
    """The last `days` days, today included."""
    return Period(today - timedelta(days=days - 1), today)


def _day(name: str, text: str) -> date:
    if not DATE_TEXT.fullmatch(text):
        raise BadPeriod(f"“{name}” must be a date written YYYY-MM-DD, e.g. 2026-05-01.")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise BadPeriod(f"“{name}” is not a date of the calendar: {text}.") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadPeriod(f"“{name}” must lie between {FIRST_DAY} and {LAST_DAY}.")
    return day


def period_from(since_text: str | None, until_text: str | None, today: date) -> Period:
    """The period `since`..`until` (texts as the query string gives them; empty or None for the
    default). With neither: the last 30 days. With only `since`: up to today. With only `until`:
    the 30 days ending then."""
    since_text, until_text = (since_text or "").strip(), (until_text or "").strip()
    until = _day("until", until_text) if until_text else None
    since = _day("since", since_text) if since_text else None
    if until is None:
        until = max(today, since) if since is not None else today
    if since is None:
        since = max(until - timedelta(days=DEFAULT_DAYS - 1), FIRST_DAY)
    if since > until:
        raise BadPeriod(f"The period begins ({since}) after it ends ({until}).")
    period = Period(since, until)
    if period.length > MAX_DAYS:
        raise BadPeriod(f"A period can be at most {MAX_DAYS} days long; this one has "
                        f"{period.length}.")
    return period
