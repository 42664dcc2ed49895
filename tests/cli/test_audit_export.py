"""`flask audit export`: the log written to a file from the shell, with the same columns as the
download and itself audited; a bad date, or one the log cannot hold, is refused."""

from __future__ import annotations

import csv
import io

import pytest

from moderation_app.models import Role
from tests.helpers.accounts import make_user
from tests.helpers.stored import audit_details


def test_cli_export_writes_a_file_and_is_audited(app, runner, tmp_path):
    make_user(app, "someone@example.com", Role.SELLER)
    target = tmp_path / "audit.csv"

    result = runner.invoke(args=["audit", "export", "--format", "csv", "--since", "2026-01-01",
                                 "-o", str(target)])

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [row["action"] for row in rows] == ["user.created"]
    assert audit_details(app, "audit.exported")[0]["via"] == "cli"


def test_cli_export_refuses_a_bad_date(runner):
    result = runner.invoke(args=["audit", "export", "--format", "csv", "--since", "soon"])

    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output


@pytest.mark.parametrize("option, day", [("--until", "9999-12-31"), ("--since", "9999-12-31"),
                                         ("--since", "0001-01-01"), ("--until", "1999-12-31")])
def test_cli_export_refuses_a_day_the_log_cannot_hold_and_records_nothing(app, runner, option, day):
    result = runner.invoke(args=["audit", "export", "--format", "jsonl", option, day])

    assert result.exit_code == 2
    assert f"{day} is outside the days the log can hold (2000-01-01 to 9999-12-30)" in result.output
    assert audit_details(app, "audit.exported") == []


def test_cli_export_takes_the_first_and_last_days_the_log_can_hold(app, runner):
    make_user(app, "someone@example.com", Role.SELLER)

    result = runner.invoke(args=["audit", "export", "--format", "jsonl", "--since", "2000-01-01",
                                 "--until", "9999-12-30"])

    assert result.exit_code == 0, result.output
    assert '"action":"user.created"' in result.stdout
    assert audit_details(app, "audit.exported")[0]["filters"] == {"since": "2000-01-01",
                                                                  "until": "9999-12-30"}
