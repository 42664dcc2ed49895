"""Managers read and export the audit log; exports are filtered, streamed, spreadsheet-safe, audited."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from moderation_app.extensions import db
from moderation_app.services.audit.log import record_event
from moderation_app.services.audit.export import FORMULA_PREFIXES
from tests.helpers.stored import audit_details


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
