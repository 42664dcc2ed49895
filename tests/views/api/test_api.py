"""The marketplace's JSON API through the real HTTP stack: bearer tokens only (no cookie, no CSRF),
the importer's rules record by record, keyset pages of changed requests, limits and JSON errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models.api_tokens import ApiToken
from moderation_app.models.marketplace import Review
from moderation_app.models.requests import RequestStatus
from moderation_app.models.users import Role
from tests.helpers.import_lines import REJECTED_LINES, record
from tests.helpers.accounts import make_user
from tests.helpers.api import audit_events, bearer, get_requests, issue_token, post_reviews
from tests.helpers.clients import signed_in
from tests.helpers.marketplace import add_review
from tests.helpers.queue import queued_request
from tests.helpers.requests import file_request

SINCE = "2026-01-01T00:00:00Z"


@pytest.fixture
def token(app):
    app.config["API_CHANGES_SETTLE_SECONDS"] = 0
    return issue_token(app)


def review_ids(app) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(select(Review.external_id)))


# --- authentication ----------------------------------------------------------------------------

@pytest.mark.parametrize("headers, invalid", [
    ({}, False),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, False),
    ({"Authorization": "Bearer mdk_" + "A" * 43}, True),
    ({"Authorization": "Bearer not-even-ours"}, True),
], ids=["none", "basic", "unknown", "malformed"])
def test_missing_or_bad_token_gets_401_json_with_a_bearer_challenge(app, client, token, headers,
                                                                   invalid):
    for response in (client.get(f"/api/v1/requests?updated_since={SINCE}", headers=headers),
                     client.post("/api/v1/reviews", json=[record()], headers=headers)):
        assert response.status_code == 401
        assert response.is_json and response.json["error"] == "unauthorized"
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer ") and ('error="invalid_token"' in challenge) == invalid
    assert review_ids(app) == set()


def test_revoked_token_gets_401(app, client, token, runner):
    runner.invoke(args=["api-tokens", "revoke", "marketplace"])

    response = post_reviews(client, token, [record()])

    assert response.status_code == 401 and response.is_json
    assert review_ids(app) == set()


def test_a_request_with_the_desks_session_cookie_is_refused_even_with_a_good_token(app, token):
    manager = signed_in(app, make_user(app, "manager@example.com", Role.MANAGER))

    for response in (post_reviews(manager, token, [record()]),
                     get_requests(manager, token, updated_since=SINCE),
                     manager.get("/api/v1/nowhere", headers=bearer(token))):
        assert response.status_code == 403
        assert response.is_json and "session cookie" in response.json["message"]
    assert review_ids(app) == set()


def test_a_signed_in_session_alone_grants_nothing(app):
    seller = signed_in(app, make_user(app, "seller@example.com", Role.SELLER))

    response = seller.get(f"/api/v1/requests?updated_since={SINCE}")

    assert response.status_code == 403 and response.is_json


def test_a_token_post_needs_no_csrf_token(app, client, token):
    assert app.config.get("WTF_CSRF_ENABLED", True)  # CSRF is on for forms in these tests

    response = post_reviews(client, token, [record()])

    assert response.status_code == 200, response.json
    assert review_ids(app) == {"R-1001"}


def test_use_sets_last_used_at_and_a_post_is_audited_once_with_its_counts(app, client, token):
    response = post_reviews(client, token, [record(1001), record(1002, order_status="paid")])
    get_requests(client, token, updated_since=SINCE)

    assert response.status_code == 200
    [event] = audit_events(app, "api.reviews_received")
    assert (event.actor_email, event.actor_role) == ("api-token:marketplace", "api")
    with app.app_context():
        row = db.session.scalars(select(ApiToken)).one()
        assert row.last_used_at is not None
        assert json.loads(event.details) == {
            "token_id": row.id, "records": 2, "created": 1, "updated": 0, "unchanged": 0,
            "rejected": 1, "sellers_created": 1}
    assert token not in event.details


def test_calls_past_the_tokens_rate_limit_get_429_with_retry_after(app, client, token):
    app.config["API_RATE_LIMIT"] = "3 per minute"
    other = issue_token(app, "other")
    for _ in range(3):
        assert get_requests(client, token, updated_since=SINCE).status_code == 200

    response = get_requests(client, token, updated_since=SINCE)

    assert response.status_code == 429 and response.is_json
    assert 1 <= int(response.headers["Retry-After"]) <= 61
    assert get_requests(client, other, updated_since=SINCE).status_code == 200  # per token


def test_refused_tokens_from_one_address_lock_it_out_for_a_while_and_no_other(app, token):
    app.config["API_FAILED_AUTH_PER_ADDRESS"] = "3 per 15 minutes"
    guesser, elsewhere = app.test_client(), app.test_client()
    guesser.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.4"
    for guess in ("mdk_guess1", "mdk_guess2", None):
        assert get_requests(guesser, guess, updated_since=SINCE).status_code == 401

    locked = get_requests(guesser, token, updated_since=SINCE)

    assert locked.status_code == 429 and locked.is_json
    assert "Too many refused API tokens from this address" in locked.json["message"]
    assert int(locked.headers["Retry-After"]) >= 1
    assert get_requests(elsewhere, token, updated_since=SINCE).status_code == 200


# --- POST /api/v1/reviews ----------------------------------------------------------------------

def test_each_record_is_answered_and_the_valid_ones_imported(app, client, token):
    response = post_reviews(client, token, [
        record(1001), record(1002, ratings={"fulfillment": 6, "start_time": 1, "communication": 1}),
        record(1001), record(1003)])

    assert response.status_code == 200
    assert response.json == {
        "results": [
            {"index": 0, "status": "created", "errors": []},
            {"index": 1, "status": "rejected", "errors": ["ratings.fulfillment is 6, outside 1-5"]},
            {"index": 2, "status": "unchanged", "errors": []},
            {"index": 3, "status": "created", "errors": []},
        ],
        "counts": {"created": 2, "updated": 0, "unchanged": 1, "rejected": 1, "sellers_created": 1},
    }
    assert review_ids(app) == {"R-1001", "R-1003"}
    again = post_reviews(client, token, [record(1001, text="Edited."), record(1003)])
    assert [result["status"] for result in again.json["results"]] == ["updated", "unchanged"]


def _json_value(raw: bytes):
    try:
        return json.loads(raw.decode("utf-8"))
    except ValueError:
        return None


# Every bad line of the importer's tests that is valid JSON is a record the API can be sent.
@pytest.mark.parametrize("bad_line, reason", [
    line for line in REJECTED_LINES
    if _json_value(line.values[0]) is not None or line.values[0] == b"null"])
def test_a_record_is_rejected_by_the_api_exactly_as_the_importer_rejects_its_line(
        app, client, runner, tmp_path, token, bad_line, reason):
    path = tmp_path / "one.jsonl"
    path.write_bytes(bad_line + b"\n")
    cli = runner.invoke(args=["import-marketplace", str(path)])

    response = post_reviews(client, token, [json.loads(bad_line.decode("utf-8"))])

    assert cli.stderr.startswith(f"line 1: {reason}")
    assert response.json["results"] == [
        {"index": 0, "status": "rejected", "errors": [cli.stderr.strip().removeprefix("line 1: ")]}]


def scenario(prefix: str) -> list[list[dict]]:
    """Two rounds of records whose ids all carry `prefix`, so the importer and the API can each
    play it on one database; what differs between the rounds is what the rules look at."""
    def rec(number: int, **fields):
        fields.setdefault("offer_id", f"{prefix}-OF-9")
        fields.setdefault("seller_email", f"{prefix.lower()}@example.com")
        fields.setdefault("buyer", f"{prefix}-buyer")
        return record(number, review_id=f"{prefix}-R-{number}", order_id=f"{prefix}-O-{number}",
                      **fields)
    return [
        [rec(1), rec(2, order_status="refund"), rec(3, order_status="paid"),
         rec(4, seller_email="agent@example.com", offer_id=f"{prefix}-OF-staff"),
         rec(5, offer_id=f"{prefix}-OF-9", seller_email=f"other-{prefix.lower()}@example.com"),
         rec(1)],
        [rec(1), rec(2, text="Changed my mind."), rec(6, buyer=f"{prefix}-buyer"),
         {**rec(1), "order_id": f"{prefix}-O-2"}, {**rec(7), "order_id": f"{prefix}-O-1"},
         rec(8, created_at="2026-10-01T12:00:00")],
    ]


def test_the_same_records_get_the_same_outcome_through_the_importer_and_the_api(
        app, client, runner, tmp_path, token):
    make_user(app, "agent@example.com", Role.AGENT)
    through_cli, through_api = [], []
    for number, lines in enumerate(scenario("CLI")):
        path = tmp_path / f"round{number}.jsonl"
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        result = runner.invoke(args=["import-marketplace", str(path)])
        # The importer reports a line's own faults before its conflicts; compare in line order.
        through_cli.append((result.stdout.splitlines()[-1],
                            sorted(result.stderr.replace("CLI", "X").splitlines())))
    for lines in scenario("API"):
        answer = post_reviews(client, token, lines).json
        counts = answer["counts"]
        through_api.append((
            f"imported {counts['created']}, updated {counts['updated']}, "
            f"unchanged {counts['unchanged']}, rejected {counts['rejected']}",
            sorted(f"line {result['index'] + 1}: {result['errors'][0]}".replace("API", "X")
                   for result in answer["results"] if result["status"] == "rejected")))

    assert through_api == through_cli
    assert through_cli[0][0] == "imported 2, updated 0, unchanged 1, rejected 3"
    assert through_cli[1][1][0] == "line 4: review X-R-1 belongs to another order"


def test_more_than_1000_records_are_refused_whole(app, client, token):
    response = post_reviews(client, token, [record(n) for n in range(1, 1002)])

    assert response.status_code == 400 and response.is_json
    assert "At most 1000 records" in response.json["message"]
    assert review_ids(app) == set() and audit_events(app, "api.reviews_received") == []
    assert post_reviews(client, token, [record(n) for n in range(1, 1001)]).json["counts"][
        "created"] == 1000


@pytest.mark.parametrize("body, content_type, status", [
    (b"[]", "text/plain", 415),
    (b"[]", "application/x-www-form-urlencoded", 415),
    (b"[]", "application/json; charset=latin-1", 415),
    (b"[", "application/json", 400),
    (b'{"review_id": "R-1"}', "application/json", 400),
    (b'["caf\xe9"]', "application/json", 400),
    (b"[" * 100_000 + b"]" * 100_000, "application/json", 400),  # was a RecursionError: 500
    (b'[{"review_id": "R-1", "ratings": {"fulfillment": NaN}}]', "application/json", 400),
    (b"[Infinity]", "application/json", 400),
])
def test_a_body_that_is_not_a_json_array_is_refused_with_a_json_error(app, client, token, body,
                                                                     content_type, status):
    response = client.post("/api/v1/reviews", data=body, content_type=content_type,
                           headers=bearer(token))

    assert response.status_code == status
    assert response.is_json and response.json["message"]


def test_a_body_over_the_cap_gets_413_json(app, client, token):
    app.config["API_MAX_BODY_BYTES"] = 10_000

    response = post_reviews(client, token, [record(n) for n in range(1, 60)])

    assert response.status_code == 413 and response.is_json
    assert response.json == {"error": "too_large", "message": "The body is over 10000 bytes; "
                             "nothing was read or written. Send the records in smaller calls."}
    assert review_ids(app) == set()


def test_a_chunked_body_over_the_cap_gets_413_not_a_json_error_on_its_cut_part(app, client, token):
    """Without Content-Length (chunked, the server terminating the stream) Werkzeug cuts the body
    at the cap and hands over the part: it must not be parsed as if it were the whole body."""
    app.config["API_MAX_BODY_BYTES"] = 10_000
    body = json.dumps([record(1)]).encode() + b" " * 20_000
    fits = json.dumps([record(2)]).encode()

    responses = [client.post("/api/v1/reviews", data=data, content_type="application/json",
                             headers={**bearer(token), "Transfer-Encoding": "chunked"},
                             environ_overrides={"wsgi.input_terminated": True})
                 for data in (body, fits)]

    assert [response.status_code for response in responses] == [413, 200]
    assert responses[0].is_json and responses[0].json["error"] == "too_large"
    assert review_ids(app) == {record(2)["review_id"]}


def test_options_under_the_api_answers_json_not_an_empty_page(app, client, token):
    for path, allowed in (("/api/v1/reviews", "POST"), ("/api/v1/requests", "GET")):
        response = client.options(path, headers=bearer(token))

        assert response.status_code == 405 and response.is_json
        assert response.json["error"] == "method_not_allowed"
        assert allowed in response.headers["Allow"]


def test_unknown_paths_and_methods_under_the_api_answer_json(app, client, token):
    missing = client.get("/api/v1/nowhere", headers=bearer(token))
    wrong_method = client.delete("/api/v1/reviews", headers=bearer(token))

    assert (missing.status_code, wrong_method.status_code) == (404, 405)
    assert missing.is_json and wrong_method.is_json
    assert "POST" in wrong_method.headers["Allow"]


# --- GET /api/v1/requests ----------------------------------------------------------------------

def test_pages_return_every_changed_request_exactly_once_including_ties(app, client, token,
                                                                       seller_id):
    base = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    queued_request(app, seller_id, base - timedelta(days=2), updated_at=base - timedelta(days=1))
    expected = []
    for minute in (0, 0, 0, 1, 1, 2, 3, 3, 3, 3):  # ties on updated_at, split by id
        expected.append(queued_request(app, seller_id, base - timedelta(days=1),
                                       updated_at=base + timedelta(minutes=minute)))

    seen, params, pages = [], {"updated_since": base.isoformat(), "limit": 3}, 0
    while True:
        page = get_requests(client, token, **params).json
        pages += 1
        seen += [item["id"] for item in page["items"]]
        if not page["has_more"]:
            break
        params = {"cursor": page["next_cursor"], "limit": 3}

    assert seen == expected and pages == 4
    assert get_requests(client, token, cursor=page["next_cursor"]).json["items"] == []


def test_an_item_carries_the_request_and_its_decision_summary(app, client, token, seller_id):
    moment = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    request_id = queued_request(app, seller_id, moment, status=RequestStatus.APPROVED,
                                updated_at=moment + timedelta(hours=1))
    open_id = queued_request(app, seller_id, moment, updated_at=moment + timedelta(hours=2))

    items = get_requests(client, token, updated_since=SINCE).json["items"]

    approved, still_open = items
    assert approved["id"] == request_id and still_open["id"] == open_id
    assert approved["status"] == "approved" and approved["reason"] == "blackmail"
    assert approved["seller"] == "shop@example.com" and approved["review_id"].startswith("R-")
    assert approved["submitted_at"] == "2026-11-01T12:00:00Z"
    assert approved["updated_at"] == "2026-11-01T13:00:00Z"
    assert approved["decision"] == {"decision": "approve", "decided_at": "2026-11-01T13:00:00Z",
                                    "note": "", "on_appeal": False}
    assert still_open["decision"] is None


def test_a_decision_moves_the_request_to_the_end_of_the_list(app, client, token, agent_client,
                                                            seller, seller_client):
    first = file_request(seller_client, add_review(app, seller))
    second = file_request(seller_client, add_review(app, seller))
    agent_client.post_form(f"/requests/{first}/claim")
    agent_client.post_form(f"/requests/{first}/decision",
                           {"decision": "reject", "note": "The chat does not show it."})

    items = get_requests(client, token, updated_since=SINCE).json["items"]

    assert [item["id"] for item in items] == [second, first]
    assert items[1]["decision"]["decision"] == "reject"
    assert items[1]["decision"]["note"] == "The chat does not show it."


def test_recent_changes_wait_for_the_settle_margin(app, client, token, seller_id):
    queued_request(app, seller_id, datetime.now(UTC), updated_at=datetime.now(UTC))
    app.config["API_CHANGES_SETTLE_SECONDS"] = 60

    assert get_requests(client, token, updated_since=SINCE).json["items"] == []


@pytest.mark.parametrize("params, message", [
    ({}, "Give updated_since"),
    ({"updated_since": "yesterday"}, "updated_since must be an ISO 8601 time"),
    ({"updated_since": "2026-01-01T00:00:00"}, "must include a timezone"),
    ({"updated_since": SINCE, "limit": "0"}, "limit must be a whole number from 1 to 1000"),
    ({"updated_since": SINCE, "limit": "1001"}, "limit must be"),
    ({"updated_since": SINCE, "limit": "-1"}, "limit must be"),
    ({"cursor": "not-a-cursor"}, "cursor is not one this API returned"),
    ({"cursor": "x" * 500}, "cursor is not one"),
    ({"updated_since": SINCE, "limit": "\u00b2"}, "limit must be"),  # isdigit(), int() refuses: 500
    ({"updated_since": SINCE, "limit": "\u0661\u0660"}, "limit must be"),  # Arabic-Indic 10
    ({"updated_since": SINCE, "limit": "1" * 5000}, "limit must be"),  # int()'s digit limit: 500
])
def test_bad_parameters_get_400_with_a_clear_message(app, client, token, params, message):
    response = get_requests(client, token, **params)

    assert response.status_code == 400 and response.is_json
    assert message in response.json["message"]
