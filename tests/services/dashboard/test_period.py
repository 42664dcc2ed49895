"""The dashboard's period: defaults, inclusive UTC days, and clear refusals for anything else."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from moderation_app.services.dashboard.period import BadPeriod, Period, period_from

TODAY = date(2026, 5, 31)


def test_without_dates_the_period_is_the_last_30_days_today_included():
    period = period_from(None, "", TODAY)

    assert period == Period(date(2026, 5, 2), TODAY)
    assert period.length == 30
    assert period.days()[0] == date(2026, 5, 2) and period.days()[-1] == TODAY


def test_the_period_runs_from_since_at_midnight_utc_to_the_midnight_after_until():
    period = period_from("2026-05-01", "2026-05-03", TODAY)

    assert period.start == datetime(2026, 5, 1, tzinfo=UTC)
    assert period.end == datetime(2026, 5, 4, tzinfo=UTC)
    assert period.days() == [date(2026, 5, 1), date(2026, 5, 2), date(2026, 5, 3)]


def test_one_date_alone_fixes_one_end_of_the_period():
    assert period_from("2026-05-20", None, TODAY) == Period(date(2026, 5, 20), TODAY)
    assert period_from(None, "2026-04-30", TODAY) == Period(date(2026, 4, 1), date(2026, 4, 30))


def test_a_single_day_and_a_whole_leap_year_are_periods():
    assert period_from("2026-05-05", "2026-05-05", TODAY).length == 1
    assert period_from("2024-01-01", "2024-12-31", TODAY).length == 366


@pytest.mark.parametrize(("since", "until", "message"), [
    ("yesterday", "", "YYYY-MM-DD"),
    ("20260501", "", "YYYY-MM-DD"),
    ("2026-W18-5", "", "YYYY-MM-DD"),
    ("2026-5-1", "", "YYYY-MM-DD"),
    ("２０２６-05-01", "", "YYYY-MM-DD"),
    ("2026-05-01\x00", "", "YYYY-MM-DD"),
    ("2026-02-30", "", "not a date of the calendar"),
    ("2026-13-01", "", "not a date of the calendar"),
    ("", "9999-12-31", "between"),
    ("9999-12-31", "", "between"),
    ("0001-01-01", "0001-01-02", "between"),
    ("2026-05-10", "2026-05-09", "begins (2026-05-10) after it ends (2026-05-09)"),
    ("2025-01-01", "2026-01-02", "at most 366 days"),
    ("2020-01-01", "", "at most 366 days"),
])
def test_a_bad_period_is_refused_with_a_message_that_says_why(since, until, message):
    with pytest.raises(BadPeriod, match=message.replace("(", r"\(").replace(")", r"\)")):
        period_from(since, until, TODAY)
