"""The audit viewer reads as words: the actor filter finds part of an address in any case, actions
carry labels (every action the code records has one), details are an escaped key/value list with long
values folded; and both exports carry the marketplace's review id. Through the HTTP stack."""

from __future__ import annotations

import ast
import csv
import io
import json
import re
from pathlib import Path

import pytest

import moderation_app
from moderation_app.extensions import db
from moderation_app.services.audit.actions import ACTION_LABELS
from moderation_app.services.audit.log import record_event
from tests.helpers.marketplace import add_review
from tests.helpers.requests import file_request

PACKAGE = Path(moderation_app.__file__).parent


def add_event(app, action: str, actor_email: str = "script@example.com", **columns) -> None:
    with app.app_context():
        record_event(action, actor_email=actor_email, actor_role="agent", **columns)
        db.session.commit()


def table_body(manager_client, query: str = "") -> str:
    response = manager_client.get(f"/audit{query}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    return page.split("<tbody>")[1].split("</tbody>")[0] if "<tbody>" in page else ""


def recorded_actions() -> set[str]:
    """Every action string a record_event(...) call in the package can pass."""
    found: set[str] = set()

    def strings(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.IfExp):
            return strings(node.body) + strings(node.orelse)
        raise AssertionError(f"record_event with an action that is not a literal: {ast.dump(node)}")

    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None))
                    == "record_event" and node.args):
                found.update(strings(node.args[0]))
    return found


# --- the actor filter ----------------------------------------------------------------------------

@pytest.mark.parametrize("search", ["ana", "ANA.Agent", "@example.com", "  ana  "])
def test_actor_filter_matches_part_of_an_address_in_any_case(app, manager_client, search):
    add_event(app, "request.claimed", "ana.agent@example.com")
    add_event(app, "request.released", "bob@elsewhere.test")
    body = table_body(manager_client, f"?actor={search}")
    assert "ana.agent@example.com" in body
    assert "bob@elsewhere.test" not in body


def test_actor_filter_treats_wildcards_as_text(app, manager_client):
    add_event(app, "request.claimed", "ana.agent@example.com")
    assert "ana.agent@example.com" not in table_body(manager_client, "?actor=a%25a")
    assert "ana.agent@example.com" not in table_body(manager_client, "?actor=_na")


def test_actor_filter_is_limited_in_length_and_says_how_it_matches(app, manager_client):
    page = manager_client.get("/audit?actor=" + "a" * 5000)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'maxlength="254"' in text
    assert "Any part of the address, in any case" in text and "up to 254 characters" in text
    assert 'value="' + "a" * 254 + '"' in text and "a" * 255 not in text


# --- actions -------------------------------------------------------------------------------------

def test_every_action_the_code_records_has_a_label_and_every_label_an_action():
    recorded = recorded_actions()
    assert "request.claimed" in recorded and "auth.reauthentication_failed" in recorded
    assert recorded == set(ACTION_LABELS)


def test_actions_show_their_label_with_the_code_beside_it(app, manager_client):
    add_event(app, "request.claimed", request_id=4)
    body = table_body(manager_client, "?action=request.claimed")
    assert re.search(r'<span class="audit-action-label">Request claimed</span>.*'
                     r'<code>request\.claimed</code>', body, re.S)


def test_the_action_filter_offers_labels_and_filters_by_code(app, manager_client):
    add_event(app, "request.claimed")
    page = manager_client.get("/audit").get_data(as_text=True)
    assert '<option value="request.claimed" >Request claimed</option>' in page
    assert "request.claimed" in table_body(manager_client, "?action=request.claimed")


def test_an_action_without_a_label_shows_its_code(app, manager_client):
    add_event(app, "legacy.thing")
    assert '<span class="audit-action-label">legacy.thing</span>' in table_body(manager_client)


# --- details -------------------------------------------------------------------------------------

def test_details_are_a_key_value_list_with_long_values_folded(app, manager_client):
    long_note = "The buyer asked for a discount. " * 10
    add_event(app, "request.decided", request_id=8, details={
        "decision": "approve", "note": long_note, "rating_before": 4.5, "nested": {"a": [1, 2]}})
    body = table_body(manager_client, "?request=8")
    assert "<dt>decision</dt>" in body and "<dd>approve</dd>" in body
    assert "<dt>rating_before</dt>" in body and "<dd>4.5</dd>" in body
    assert '<dd>{"a": [1, 2]}</dd>'.replace('"', "&#34;") in body
    folded = re.search(r"<dt>note</dt>\s*<dd><details><summary>(.*?)</summary>(.*?)</details></dd>",
                       body, re.S)
    assert folded, body
    assert "show all" in folded.group(1) and long_note.strip() in folded.group(2)
    assert "{&#34;decision&#34;" not in body  # no raw JSON


def test_details_are_escaped(app, manager_client):
    add_event(app, "request.note_added", request_id=9,
              details={"note": "<script>alert(1)</script>", "<b>key</b>": "x"})
    body = table_body(manager_client, "?request=9")
    assert "<script>alert(1)</script>" not in body and "<b>key</b>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "&lt;b&gt;key&lt;/b&gt;" in body


# --- exports carry the marketplace's review id ---------------------------------------------------

def test_both_exports_carry_the_marketplace_review_id(app, seller, seller_client, manager_client):
    review_id = add_review(app, seller)
    request_id = file_request(seller_client, review_id)

    rows = list(csv.DictReader(io.StringIO(
        manager_client.get(f"/audit/export.csv?request={request_id}").get_data(as_text=True))))
    assert [(row["action"], row["review_id"]) for row in rows] == [("request.submitted", review_id)]
    assert not review_id.isdigit()  # the marketplace's id, not the desk's number

    (line,) = manager_client.get(f"/audit/export.jsonl?request={request_id}").get_data(
        as_text=True).splitlines()
    assert json.loads(line)["review_id"] == review_id


def test_an_event_whose_review_is_gone_exports_an_empty_review_id(app, manager_client):
    add_event(app, "request.note_added", request_id=77, review_id=987654)
    (row,) = csv.DictReader(io.StringIO(
        manager_client.get("/audit/export.csv?request=77").get_data(as_text=True)))
    assert row["review_id"] == ""
    (line,) = manager_client.get("/audit/export.jsonl?request=77").get_data(as_text=True).splitlines()
    assert json.loads(line)["review_id"] is None


def test_the_cli_export_carries_the_marketplace_review_id_too(app, seller, seller_client, runner, tmp_path):
    review_id = add_review(app, seller)
    file_request(seller_client, review_id)
    target = tmp_path / "audit.jsonl"
    result = runner.invoke(args=["audit", "export", "--format", "jsonl", "-o", str(target)])
    assert result.exit_code == 0, result.output
    submitted = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()
                 if json.loads(line)["action"] == "request.submitted"]
    assert [event["review_id"] for event in submitted] == [review_id]
