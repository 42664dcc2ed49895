"""`flask audit export`: the log written to a file from the shell, with the same columns as the
download and itself audited; a bad date is refused."""

from __future__ import annotations

import csv
import io

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
