"""Managers read and export the audit log; exports are filtered, streamed, spreadsheet-safe and audited,
HEAD on them is refused, and one that cannot start gets the error page before any byte."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from moderation_app.extensions import db
from moderation_app.models.audit import AuditEvent
from moderation_app.services.audit import export as export_module
from moderation_app.services.audit.export import FORMULA_PREFIXES
from moderation_app.services.audit.log import record_event
from moderation_app.web import CONTENT_SECURITY_POLICY
from tests.helpers.stored import audit_details

ERROR_ID = re.compile(r"Error id: <code>([0-9a-f]+)</code>")


def add_events(app, *specs: tuple[str, dict]) -> None:
    with app.app_context():
        for action, details in specs:
            record_event(action, actor_email="script@example.com", actor_role="system",
                         request_id=details.pop("request_id", None), details=details)
        db.session.commit()


def read_csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


@pytest.mark.parametrize("client_fixture", ["seller_client", "agent_client"])
@pytest.mark.parametrize("path", ["/audit", "/audit/export.csv", "/audit/export.jsonl"])
def test_only_managers_see_the_audit_log(request, client_fixture, path):
    assert request.getfixturevalue(client_fixture).get(path).status_code == 403


def test_viewer_lists_newest_first_with_links_to_requests(app, manager_client):
    add_events(app, ("request.decided", {"request_id": 7, "decision": "approve", "note": "ok"}))

    page = manager_client.get("/audit").get_data(as_text=True).split("<tbody>")[1]

    assert page.index("request.decided") < page.index("auth.login")
    assert 'href="/requests/7"' in page


def test_viewer_filters_and_pages_by_keyset(app, manager_client):
    add_events(app, *[("marketplace.imported", {"n": n}) for n in range(60)])

    first = manager_client.get("/audit?action=marketplace.imported").get_data(as_text=True)
    assert first.count("<code>marketplace.imported</code>") == 50
    assert "auth.login</code>" not in first
    older = first.split('href="/audit?before=')[1].split('"')[0].replace("&amp;", "&")
    second = manager_client.get(f"/audit?before={older}").get_data(as_text=True)
    assert second.count("<code>marketplace.imported</code>") == 10


def test_bad_filter_values_are_reported_not_a_500(manager_client):
    response = manager_client.get("/audit?since=yesterday&request=abc")

    assert response.status_code == 200
    assert "is not a date" in response.get_data(as_text=True)


def test_csv_export_has_the_columns_and_a_dated_file_name(app, manager, manager_client):
    add_events(app, ("request.decided", {"request_id": 3, "decision": "reject", "note": "No proof."}))

    response = manager_client.get("/audit/export.csv?since=2026-01-01&until=2099-12-31")

    assert response.mimetype == "text/csv"
    assert 'filename="audit-2026-01-01-to-2099-12-31.csv"' in response.headers["Content-Disposition"]
    rows = read_csv(response)
    assert list(rows[0]) == ["id", "occurred_at", "actor_email", "actor_role", "action", "request_id",
                             "review_id", "decision", "note", "details", "prev_hash", "hash"]
    decided = next(row for row in rows if row["action"] == "request.decided")
    assert (decided["decision"], decided["note"], decided["request_id"]) == ("reject", "No proof.", "3")
    assert decided["occurred_at"].endswith("Z")


def test_exports_match_the_filters(app, manager_client):
    add_events(app, ("request.decided", {"request_id": 5, "decision": "approve"}),
               ("request.decided", {"request_id": 6, "decision": "reject"}))

    rows = read_csv(manager_client.get("/audit/export.csv?request=5"))
    assert [row["request_id"] for row in rows] == ["5"]
    today = datetime.now(UTC).date()
    assert read_csv(manager_client.get(f"/audit/export.csv?until={today.replace(year=2000)}")) == []


@pytest.mark.parametrize("prefix", FORMULA_PREFIXES)
def test_csv_neutralizes_every_formula_prefix_and_jsonl_keeps_raw_values(app, manager_client, prefix):
    payload = f"{prefix}HYPERLINK(\"http://evil.example\")"
    add_events(app, ("request.decided", {"request_id": 9, "decision": "approve", "note": payload}))

    row = next(row for row in read_csv(manager_client.get("/audit/export.csv?request=9")))
    assert row["note"] == "'" + payload
    lines = manager_client.get("/audit/export.jsonl?request=9").get_data(as_text=True).splitlines()
    assert json.loads(lines[0])["note"] == payload


def test_every_export_is_itself_audited_with_filters_and_row_count(app, manager, manager_client):
    add_events(app, ("request.decided", {"request_id": 4, "decision": "approve"}))

    manager_client.get("/audit/export.jsonl?request=4").get_data()

    (event,) = audit_details(app, "audit.exported")
    assert event == {"format": "jsonl", "filters": {"request_id": 4}, "rows": 1, "completed": True}


# --- filters the log cannot hold, exports that cannot start, HEAD, headers ----------------------

OUT_OF_RANGE_DAYS = [
    pytest.param("until", "9999-12-31", id="until-the-last-date-python-has"),
    pytest.param("since", "9999-12-31", id="since-the-last-date-python-has"),
    pytest.param("since", "0001-01-01", id="since-the-first-date-python-has"),
    pytest.param("until", "1999-12-31", id="until-before-the-desk"),
]
EXPORTS = ["csv", "jsonl"]


@pytest.mark.parametrize("name, day", OUT_OF_RANGE_DAYS)
def test_filter_dates_the_log_cannot_hold_are_reported_and_ignored(app, manager_client, name, day):
    add_events(app, ("request.decided", {"request_id": 3, "decision": "approve"}))

    response = manager_client.get(f"/audit?{name}={day}")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f"“{day}” is outside the days the log can hold (2000-01-01 to 9999-12-30); " \
           f"{name} is ignored." in page
    assert "<code>request.decided</code>" in page


def test_the_last_day_the_log_can_hold_is_a_filter_like_any_other(app, manager_client):
    add_events(app, ("request.decided", {"request_id": 3, "decision": "approve"}))

    page = manager_client.get("/audit?since=2000-01-01&until=9999-12-30").get_data(as_text=True)

    assert "is ignored" not in page
    assert "<code>request.decided</code>" in page


@pytest.mark.parametrize("fmt", EXPORTS)
@pytest.mark.parametrize("name, day", OUT_OF_RANGE_DAYS)
def test_an_export_ignores_a_date_the_log_cannot_hold_instead_of_failing(app, manager_client,
                                                                          fmt, name, day):
    add_events(app, ("request.decided", {"request_id": 3, "decision": "approve"}))

    response = manager_client.get(f"/audit/export.{fmt}?{name}={day}&request=3")
    body = response.get_data(as_text=True)

    assert response.status_code == 200
    assert "request.decided" in body
    today = datetime.now(UTC).date()
    assert f'filename="audit-start-to-{today}.{fmt}"' in response.headers["Content-Disposition"]
    (event,) = audit_details(app, "audit.exported")
    assert event == {"format": fmt, "filters": {"request_id": 3}, "rows": 1, "completed": True}


def _failing_query(filters):
    # A query the database refuses when it runs, as a broken database or a bug would.
    return select(AuditEvent).where(text("no_such_column = 1"))


@pytest.mark.parametrize("fmt", EXPORTS)
def test_an_export_that_cannot_start_gets_the_error_page_with_its_headers_and_an_error_id(
        app, manager_client, monkeypatch, caplog, fmt):
    monkeypatch.setattr(export_module, "filtered_query", _failing_query)

    with caplog.at_level(logging.ERROR):
        response = manager_client.get(f"/audit/export.{fmt}")
    body = response.get_data(as_text=True)

    assert response.status_code == 500
    assert response.mimetype == "text/html"
    assert "Content-Disposition" not in response.headers
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    error_id = ERROR_ID.search(body).group(1)
    assert any(error_id in record.getMessage() for record in caplog.records)
    # Nothing left the desk, so there is no export to record.
    assert audit_details(app, "audit.exported") == []


def _failing_after_the_first_row(monkeypatch, fmt):
    # Every row's details are read by _parse_details, whichever database writes the rest.
    real_parse = export_module._parse_details
    calls = []

    def parse_then_fail(details):
        calls.append(details)
        if len(calls) == 2:
            raise DBAPIError("FETCH", {}, RuntimeError("the read failed under way"))
        return real_parse(details)

    monkeypatch.setattr(export_module, "_parse_details", parse_then_fail)


@pytest.mark.parametrize("fmt", EXPORTS)
def test_an_export_that_breaks_off_midway_is_still_recorded_as_incomplete(app, manager_client,
                                                                           monkeypatch, fmt):
    add_events(app, ("request.decided", {"request_id": 3}), ("request.decided", {"request_id": 4}))
    _failing_after_the_first_row(monkeypatch, fmt)

    response = manager_client.get(f"/audit/export.{fmt}")
    assert response.status_code == 200  # the first bytes had left
    with pytest.raises(DBAPIError):
        response.get_data()

    (event,) = audit_details(app, "audit.exported")
    assert event["completed"] is False
    assert event["rows"] == 2


@pytest.mark.parametrize("fmt", EXPORTS)
def test_head_on_an_export_is_refused_with_405_and_records_nothing(app, manager_client, fmt):
    response = manager_client.head(f"/audit/export.{fmt}")

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert "Content-Disposition" not in response.headers
    assert response.mimetype == "text/html"
    assert audit_details(app, "audit.exported") == []


@pytest.mark.parametrize("fmt, content_type", [("csv", "text/csv; charset=utf-8"),
                                               ("jsonl", "application/x-ndjson; charset=utf-8")])
def test_an_export_names_its_type_and_charset_once(manager_client, fmt, content_type):
    response = manager_client.get(f"/audit/export.{fmt}")

    assert response.headers.getlist("Content-Type") == [content_type]
