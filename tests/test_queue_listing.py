"""The staff queue list: order, filters, counts per reason, holders and leases, keyset pages and
their cursors, the response-target highlight, evidence counts, escaping, and a fixed number of
queries per page. Through the HTTP stack and through the service directly."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from itertools import count
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask, url_for
from sqlalchemy import event

from conftest import login, make_user
from moderation_app.extensions import db
from moderation_app.models.evidence import Evidence
from moderation_app.models.marketplace import Buyer, Offer, Order, OrderStatus, Review
from moderation_app.models.requests import DeletionRequest, Reason, RequestStatus
from moderation_app.models.users import Role, User
from moderation_app.services.accounts import create_user
from moderation_app.services.queue.listing import (
    QueueFilters, decode_cursor, encode_cursor, parse_filters, queue_page,
)

_serial = count(1)
ROW_ID = re.compile(r'<tr class="([^"]*)" data-request-id="(\d+)">')
NEXT_LINK = re.compile(r'<a href="([^"]+)" rel="next">Next page')
NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


# --- data --------------------------------------------------------------------------------------

def add_seller(app: Flask, email: str) -> int:
    with app.app_context():
        user = create_user(email, Role.SELLER)
        db.session.commit()
        return user.id


def add_request(app: Flask, seller_id: int, submitted_at: datetime, *,
                reason: Reason = Reason.BLACKMAIL, status: RequestStatus = RequestStatus.SUBMITTED,
                text: str = "Terrible seller, never again", stars: tuple[int, int, int] = (1, 2, 3),
                assignee_id: int | None = None, lease_expires_at: datetime | None = None,
                evidence: int = 1, decided_at: datetime | None = None,
                updated_at: datetime | None = None) -> int:
    """A request on a fresh review of the seller's, with `evidence` screenshot rows."""
    serial = next(_serial)
    with app.app_context():
        buyer = Buyer(username=f"buyer-{serial}")
        offer = Offer(external_id=f"F-{serial}", title="Boosting", seller_id=seller_id)
        order = Order(external_id=f"O-{serial}", status=OrderStatus.FINISHED, offer=offer, buyer=buyer)
        fulfillment, start_time, communication = stars
        review = Review(external_id=f"R-{serial}", order=order, seller_id=seller_id, buyer=buyer,
                        rating_fulfillment=fulfillment, rating_start_time=start_time,
                        rating_communication=communication, text=text,
                        created_at=submitted_at - timedelta(days=1))
        request = DeletionRequest(review=review, seller_id=seller_id, reason=reason,
                                  explanation="The buyer asked for a discount in the chat.",
                                  review_snapshot={}, status=status, submitted_at=submitted_at,
                                  assignee_id=assignee_id, lease_expires_at=lease_expires_at,
                                  claimed_at=lease_expires_at and lease_expires_at - timedelta(minutes=30),
                                  decided_at=decided_at, updated_at=updated_at or submitted_at)
        db.session.add(request)
        db.session.flush()
        for number in range(evidence):
            db.session.add(Evidence(
                request_id=request.id, uploaded_by_id=seller_id, original_filename=f"chat{number}.png",
                stored_name=f"s-{serial}-{number}", thumbnail_name=f"t-{serial}-{number}", format="png",
                width=10, height=10, byte_size=100, sha256=f"{serial:032x}{number:032x}",
                perceptual_hash=f"{serial:08x}{number:08x}"))
        db.session.commit()
        return request.id


@pytest.fixture
def seller_id(app: Flask) -> int:
    return add_seller(app, "shop@example.com")


# --- reading pages -----------------------------------------------------------------------------

def queue_html(client, query: dict[str, str] | str | None = None) -> str:
    response = client.get("/queue", query_string=query)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def shown_ids(body: str) -> list[int]:
    return [int(request_id) for _, request_id in ROW_ID.findall(body)]


def overdue_ids(body: str) -> list[int]:
    return [int(request_id) for classes, request_id in ROW_ID.findall(body) if "queue-overdue" in classes]


def row_html(body: str, request_id: int) -> str:
    start = body.index(f'data-request-id="{request_id}"')
    return body[start:body.index("</tr>", start)]


def reason_count(body: str, reason: Reason) -> int:
    match = re.search(rf'data-reason="{reason.value}">\s*<span class="queue-reason-count">(\d+)</span>', body)
    assert match, f"no count for {reason.value}"
    return int(match.group(1))


def next_link(body: str) -> str | None:
    match = NEXT_LINK.search(body)
    return unescape(match.group(1)) if match else None


def service_page(app: Flask, viewer_id: int, filters: QueueFilters = QueueFilters(),
                 cursor: str | None = None, page_size: int = 25, now: datetime = NOW):
    with app.app_context():
        viewer = db.session.get(User, viewer_id)
        return queue_page(filters, viewer, cursor, page_size, now)


def ids_of(page) -> list[int]:
    return [row.request.id for row in page.rows]


@dataclass
class QueryLog:
    statements: list[str]


@contextmanager
def counted_queries() -> Iterator[QueryLog]:
    log = QueryLog([])

    def record(conn, cursor, statement, parameters, context, executemany):
        log.statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield log
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


# --- who may look ------------------------------------------------------------------------------

def test_seller_cannot_open_the_queue(seller_client):
    assert seller_client.get("/queue").status_code == 403


def test_manager_sees_the_queue(app, manager_client, seller_id):
    request_id = add_request(app, seller_id, datetime.now(UTC) - timedelta(hours=1))
    assert shown_ids(queue_html(manager_client)) == [request_id]


# --- order and columns -------------------------------------------------------------------------

def test_open_requests_are_listed_oldest_first(app, agent_client, seller_id):
    now = datetime.now(UTC)
    middle = add_request(app, seller_id, now - timedelta(hours=5))
    oldest = add_request(app, seller_id, now - timedelta(hours=9))
    newest = add_request(app, seller_id, now - timedelta(hours=1))
    add_request(app, seller_id, now - timedelta(hours=20), status=RequestStatus.NEEDS_INFO)
    add_request(app, seller_id, now - timedelta(hours=30), status=RequestStatus.APPROVED, decided_at=now)
    assert shown_ids(queue_html(agent_client)) == [oldest, middle, newest]


@pytest.mark.parametrize("status", [RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.WITHDRAWN])
def test_closed_requests_are_listed_newest_first(app, agent_client, seller_id, status):
    now = datetime.now(UTC)
    older = add_request(app, seller_id, now - timedelta(days=3), status=status, decided_at=now)
    newer = add_request(app, seller_id, now - timedelta(days=1), status=status, decided_at=now)
    add_request(app, seller_id, now - timedelta(days=2))
    body = queue_html(agent_client, {"status": status.value})
    assert shown_ids(body) == [newer, older]
    assert f"status-pill status-{status.value}" in row_html(body, newer)


def test_row_shows_reason_seller_stars_text_and_evidence(app, agent_client, seller_id):
    request_id = add_request(app, seller_id, datetime.now(UTC) - timedelta(hours=2),
                             reason=Reason.WRONG_OFFER, stars=(2, 4, 5), evidence=3,
                             text="Wrong item entirely. " + "blah " * 100)
    row = row_html(queue_html(agent_client), request_id)
    assert Reason.WRONG_OFFER.label in row
    assert '<td class="queue-seller">shop<wbr>@example.com</td>' in row
    assert re.findall(r'aria-label="(\d) of 5 stars"', row) == ["2", "4", "5"]
    excerpt = re.search(r'<p class="review-text queue-excerpt">(.*?)</p>', row, re.DOTALL).group(1)
    assert excerpt.startswith("Wrong item entirely.") and excerpt.endswith("...")
    assert len(excerpt) <= 120
    assert re.search(r'<td class="queue-evidence">3 ', row)
    assert "2 h 0 min" in row or "2 h 1 min" in row


def test_evidence_is_counted_per_request(app, seller_id):
    agent_id = make_user(app, "agent@example.com", Role.AGENT).id
    three = add_request(app, seller_id, NOW - timedelta(hours=3), evidence=3)
    none = add_request(app, seller_id, NOW - timedelta(hours=2), evidence=0)
    one = add_request(app, seller_id, NOW - timedelta(hours=1), evidence=1)
    page = service_page(app, agent_id)
    assert {row.request.id: row.evidence_count for row in page.rows} == {three: 3, none: 0, one: 1}


def test_review_text_and_seller_search_are_escaped(app, agent_client, seller_id):
    request_id = add_request(app, seller_id, datetime.now(UTC) - timedelta(hours=1),
                             text='<script>alert("x")</script> & <b>bold</b>')
    body = queue_html(agent_client)
    assert "<script>alert" not in body and "<b>bold</b>" not in body
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"
    assert escaped in row_html(body, request_id)
    searched = queue_html(agent_client, {"seller": '"><script>alert(1)</script>'})
    assert "<script>alert(1)" not in searched
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in searched


# --- the response target -----------------------------------------------------------------------

def test_requests_past_the_response_target_are_highlighted(app, agent_client, seller_id):
    now = datetime.now(UTC)
    late = add_request(app, seller_id, now - timedelta(hours=49))
    on_time = add_request(app, seller_id, now - timedelta(hours=47))
    body = queue_html(agent_client)
    assert shown_ids(body) == [late, on_time]
    assert overdue_ids(body) == [late]
    assert "Over 48 h" in row_html(body, late)
    assert "Over 48 h" not in row_html(body, on_time)


def test_response_target_comes_from_config(app, agent_client, seller_id):
    app.config["RESPONSE_TARGET_HOURS"] = 4
    now = datetime.now(UTC)
    late = add_request(app, seller_id, now - timedelta(hours=5))
    add_request(app, seller_id, now - timedelta(hours=3))
    body = queue_html(agent_client)
    assert overdue_ids(body) == [late]
    assert "Over 4 h" in row_html(body, late)


def test_closed_request_age_is_the_time_it_took(app, seller_id):
    agent_id = make_user(app, "agent@example.com", Role.AGENT).id
    slow = add_request(app, seller_id, NOW - timedelta(days=10), status=RequestStatus.REJECTED,
                       decided_at=NOW - timedelta(days=7))
    fast = add_request(app, seller_id, NOW - timedelta(days=9), status=RequestStatus.REJECTED,
                       decided_at=NOW - timedelta(days=9) + timedelta(hours=5))
    page = service_page(app, agent_id, QueueFilters(status=RequestStatus.REJECTED))
    rows = {row.request.id: row for row in page.rows}
    assert rows[slow].age == timedelta(days=3) and rows[slow].overdue
    assert rows[fast].age == timedelta(hours=5) and not rows[fast].overdue


def test_withdrawn_request_age_runs_to_its_last_change(app, seller_id):
    # A withdrawal records no decided_at; the request's last change is when it closed.
    agent_id = make_user(app, "agent@example.com", Role.AGENT).id
    request_id = add_request(app, seller_id, NOW - timedelta(days=5), status=RequestStatus.WITHDRAWN,
                             updated_at=NOW - timedelta(days=5) + timedelta(hours=50))
    page = service_page(app, agent_id, QueueFilters(status=RequestStatus.WITHDRAWN))
    assert ids_of(page) == [request_id]
    assert page.rows[0].age == timedelta(hours=50) and page.rows[0].overdue


# --- filters -----------------------------------------------------------------------------------

@pytest.mark.parametrize("reason", list(Reason))
def test_reason_filter_shows_only_that_reason(app, agent_client, seller_id, reason):
    now = datetime.now(UTC)
    ids = {other: add_request(app, seller_id, now - timedelta(hours=number + 1), reason=other)
           for number, other in enumerate(Reason)}
    body = queue_html(agent_client, {"reason": reason.value})
    assert shown_ids(body) == [ids[reason]]


def test_needs_info_filter_shows_requests_waiting_on_the_seller(app, agent_client, seller_id):
    now = datetime.now(UTC)
    waiting = add_request(app, seller_id, now - timedelta(hours=3), status=RequestStatus.NEEDS_INFO)
    add_request(app, seller_id, now - timedelta(hours=4))
    body = queue_html(agent_client, {"status": "needs_info"})
    assert shown_ids(body) == [waiting]
    assert '<a href="/queue?status=needs_info" aria-current="page">Needs information</a>' in body


def test_counts_per_reason_follow_status_and_other_filters_but_not_reason(app, agent_client, seller_id):
    other_seller = add_seller(app, "elsewhere@example.com")
    now = datetime.now(UTC)
    for hours, reason in enumerate([Reason.BLACKMAIL, Reason.BLACKMAIL, Reason.WRONG_OFFER], start=1):
        add_request(app, seller_id, now - timedelta(hours=hours), reason=reason)
    add_request(app, other_seller, now - timedelta(hours=5), reason=Reason.COMPETITOR_ATTACK)
    add_request(app, seller_id, now - timedelta(hours=6), reason=Reason.BLACKMAIL,
                status=RequestStatus.REJECTED, decided_at=now)

    body = queue_html(agent_client)
    assert [reason_count(body, reason) for reason in Reason] == [1, 1, 2, 0]

    # A reason filter narrows the rows, not the counts, so the other reasons stay one click away.
    filtered = queue_html(agent_client, {"reason": "blackmail"})
    assert len(shown_ids(filtered)) == 2
    assert [reason_count(filtered, reason) for reason in Reason] == [1, 1, 2, 0]

    by_seller = queue_html(agent_client, {"seller": "shop@"})
    assert [reason_count(by_seller, reason) for reason in Reason] == [0, 1, 2, 0]
    rejected = queue_html(agent_client, {"status": "rejected"})
    assert [reason_count(rejected, reason) for reason in Reason] == [0, 0, 1, 0]


def test_reason_counts_link_to_the_reason_filter_keeping_the_others(app, agent_client, seller_id):
    add_request(app, seller_id, datetime.now(UTC) - timedelta(hours=1))
    body = queue_html(agent_client, {"seller": "shop", "status": "submitted", "reason": "wrong_offer"})
    link = re.search(r'<a class="queue-reason" href="([^"]+)"[^>]*data-reason="blackmail"', body).group(1)
    assert parse_qs(urlsplit(unescape(link)).query) == {"reason": ["blackmail"], "seller": ["shop"]}
    everything = re.search(r'<a class="queue-reason" href="([^"]+)"', body).group(1)
    assert parse_qs(urlsplit(unescape(everything)).query) == {"seller": ["shop"]}


@pytest.fixture
def leases(app: Flask, seller_id: int, agent: User) -> dict[str, int]:
    """Requests held by the signed-in agent, by a colleague, by nobody, and one whose lease lapsed."""
    colleague = make_user(app, "colleague@example.com", Role.AGENT)
    now = datetime.now(UTC)
    live, lapsed = now + timedelta(minutes=20), now - timedelta(minutes=1)
    return {
        "mine": add_request(app, seller_id, now - timedelta(hours=5), assignee_id=agent.id,
                            lease_expires_at=live),
        "lapsed": add_request(app, seller_id, now - timedelta(hours=4), assignee_id=agent.id,
                              lease_expires_at=lapsed, reason=Reason.WRONG_OFFER),
        "colleague": add_request(app, seller_id, now - timedelta(hours=3), assignee_id=colleague.id,
                                 lease_expires_at=live),
        "nobody": add_request(app, seller_id, now - timedelta(hours=2)),
    }


@pytest.mark.parametrize(("assignee", "expected"), [
    ("me", ["mine"]),
    ("unassigned", ["lapsed", "nobody"]),
    ("any", ["mine", "lapsed", "colleague", "nobody"]),
])
def test_assignee_filter_treats_a_lapsed_lease_as_unassigned(agent_client, leases, assignee, expected):
    body = queue_html(agent_client, {"assignee": assignee})
    assert shown_ids(body) == [leases[name] for name in expected]
    assert reason_count(body, Reason.WRONG_OFFER) == (1 if "lapsed" in expected else 0)


def test_holder_column_shows_live_leases_only(agent_client, leases):
    body = queue_html(agent_client)
    assert re.search(r'<td class="queue-holder">\s*You\s*</td>', row_html(body, leases["mine"]))
    assert "colleague@example.com" in row_html(body, leases["colleague"])
    for name in ("lapsed", "nobody"):
        assert '<span class="muted">Unassigned</span>' in row_html(body, leases[name])


def test_holder_email_is_set_only_while_the_lease_runs(app, seller_id, agent):
    add_request(app, seller_id, NOW - timedelta(hours=2), assignee_id=agent.id,
                lease_expires_at=NOW + timedelta(seconds=1))
    add_request(app, seller_id, NOW - timedelta(hours=1), assignee_id=agent.id, lease_expires_at=NOW)
    page = service_page(app, agent.id)
    assert [row.holder_email for row in page.rows] == ["agent@example.com", None]


def test_a_lease_ending_this_instant_is_no_longer_held(app, seller_id, agent):
    request_id = add_request(app, seller_id, NOW - timedelta(hours=1), assignee_id=agent.id,
                             lease_expires_at=NOW)
    assert ids_of(service_page(app, agent.id, QueueFilters(assignee="unassigned"))) == [request_id]
    assert ids_of(service_page(app, agent.id, QueueFilters(assignee="me"))) == []
    later = service_page(app, agent.id, QueueFilters(assignee="me"), now=NOW - timedelta(microseconds=1))
    assert ids_of(later) == [request_id]


def test_seller_search_is_a_case_insensitive_substring(app, agent_client, seller_id):
    now = datetime.now(UTC)
    alice = add_seller(app, "Alice.Shop@Example.com")
    underscore = add_seller(app, "a_b@example.com")
    plain = add_seller(app, "axb@example.com")
    owners = [("shop", seller_id), ("alice", alice), ("underscore", underscore), ("plain", plain)]
    ids = {name: add_request(app, owner, now - timedelta(hours=hours))
           for hours, (name, owner) in enumerate(owners, 1)}
    assert shown_ids(queue_html(agent_client, {"seller": "ALICE.s"})) == [ids["alice"]]
    assert shown_ids(queue_html(agent_client, {"seller": "  shop@  "})) == [ids["alice"], ids["shop"]]
    # LIKE wildcards in the search are plain characters.
    assert shown_ids(queue_html(agent_client, {"seller": "a_b"})) == [ids["underscore"]]
    assert shown_ids(queue_html(agent_client, {"seller": "%"})) == []


@pytest.mark.parametrize("query", [
    {"reason": "spam"},
    {"reason": "BLACKMAIL"},
    {"status": "pending"},
    {"status": ""},
    {"assignee": "someone@example.com"},
    {"assignee": "ME "},
    {"seller": "\x00\x01"},
    {"seller": "\u0000"},
    {"after": "not-a-cursor", "status": "nope", "reason": "nope", "assignee": "nope"},
    "reason=blackmail&reason=spam&status=&assignee[]=me",
])
def test_invalid_filter_values_fall_back_to_the_defaults(app, agent_client, seller_id, query):
    now = datetime.now(UTC)
    expected = [add_request(app, seller_id, now - timedelta(hours=2), reason=Reason.BLACKMAIL),
                add_request(app, seller_id, now - timedelta(hours=1), reason=Reason.WRONG_OFFER)]
    add_request(app, seller_id, now - timedelta(hours=3), status=RequestStatus.APPROVED, decided_at=now)
    shown = shown_ids(queue_html(agent_client, query))
    if query == "reason=blackmail&reason=spam&status=&assignee[]=me":
        expected = expected[:1]  # the first value of a repeated parameter counts
    assert shown == expected


@pytest.mark.parametrize(("args", "expected"), [
    ({}, QueueFilters()),
    ({"reason": "blackmail", "status": "rejected", "assignee": "me", "seller": " Shop "},
     QueueFilters(Reason.BLACKMAIL, RequestStatus.REJECTED, "me", "shop")),
    ({"reason": "x", "status": "x", "assignee": "x", "seller": "a\x00b\nc"},
     QueueFilters(seller="abc")),
    ({"seller": "x" * 1000}, QueueFilters(seller="x" * 254)),
])
def test_parse_filters(args, expected):
    assert parse_filters(args) == expected


def test_empty_queue_says_so(agent_client):
    body = queue_html(agent_client)
    assert "The queue is empty" in body
    assert "Nothing matches" not in body
    assert "Next page" not in body


def test_no_match_offers_a_reset(app, agent_client, seller_id):
    add_request(app, seller_id, datetime.now(UTC) - timedelta(hours=1))
    body = queue_html(agent_client, {"seller": "nobody-like-this"})
    assert shown_ids(body) == []
    assert "Nothing matches these filters" in body and "The queue is empty" not in body
    assert '<a href="/queue">Reset the filters</a>' in body


# --- pages -------------------------------------------------------------------------------------

def test_cursor_round_trips_and_is_opaque():
    moment = datetime(2026, 5, 4, 10, 30, 15, 123456, tzinfo=UTC)
    cursor = encode_cursor(moment, 42)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor)
    assert decode_cursor(cursor) == (moment, 42)
    assert decode_cursor(encode_cursor(moment.astimezone(UTC), 7)) == (moment, 7)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


BAD_CURSORS = [
    "", "x", "!!!!", "====", "a" * 500, "%00", "\x00",
    _b64("nothing"), _b64("2026-05-04T10:00:00+00:00"), _b64("2026-05-04T10:00:00+00:00|"),
    _b64("2026-05-04T10:00:00|5"),  # naive time
    _b64("2026-05-04T10:00:00+00:00|-5"), _b64("2026-05-04T10:00:00+00:00|0"),
    _b64("2026-05-04T10:00:00+00:00|5|6"), _b64("2026-05-04T10:00:00+00:00| 5"),
    _b64("2026-05-04T10:00:00+00:00|1_000"), _b64("2026-05-04T10:00:00+00:00|99999999999999999999"),
    _b64("0001-01-01T00:00:00+05:00|5"), _b64("yesterday|5"), _b64("{\"a\": 1}"),
    base64.urlsafe_b64encode(b"\xff\xfe|5").decode(),
]


@pytest.mark.parametrize("raw", BAD_CURSORS)
def test_malformed_cursor_decodes_to_none(raw):
    assert decode_cursor(raw) is None


@pytest.mark.parametrize("raw", BAD_CURSORS + [None])
def test_tampered_cursor_shows_the_first_page(app, agent_client, seller_id, raw):
    app.config["PAGE_SIZE"] = 2
    now = datetime.now(UTC)
    ids = [add_request(app, seller_id, now - timedelta(hours=hours)) for hours in (3, 2, 1)]
    body = queue_html(agent_client, {"after": raw} if raw is not None else None)
    assert shown_ids(body) == ids[:2]
    assert next_link(body) is not None


def test_next_page_link_appears_only_when_there_are_more(app, agent_client, seller_id):
    app.config["PAGE_SIZE"] = 2
    now = datetime.now(UTC)
    add_request(app, seller_id, now - timedelta(hours=2))
    add_request(app, seller_id, now - timedelta(hours=1))
    body = queue_html(agent_client)
    assert len(shown_ids(body)) == 2
    assert next_link(body) is None and "Back to the start" not in body
    add_request(app, seller_id, now - timedelta(minutes=1))
    assert next_link(queue_html(agent_client)) is not None


def test_following_next_pages_shows_every_row_once_keeping_filters(app, agent_client, seller_id):
    app.config["PAGE_SIZE"] = 2
    now = datetime.now(UTC).replace(microsecond=0)
    same_moment = now - timedelta(hours=6)
    expected = [add_request(app, seller_id, now - timedelta(hours=8))]
    # Several requests filed in the same instant: the id breaks the tie, across page boundaries too.
    expected += [add_request(app, seller_id, same_moment) for _ in range(4)]
    expected += [add_request(app, seller_id, now - timedelta(hours=hours)) for hours in (2, 1)]
    add_request(app, seller_id, now - timedelta(hours=7), reason=Reason.WRONG_OFFER)

    seen, pages = [], 0
    body = queue_html(agent_client, {"reason": "blackmail"})
    assert "← Back to the start</span>" in body  # disabled on the first page
    while True:
        pages += 1
        seen += shown_ids(body)
        link = next_link(body)
        if link is None:
            break
        query = parse_qs(urlsplit(link).query)
        assert query["reason"] == ["blackmail"] and len(query["after"]) == 1
        body = queue_html(agent_client, link.split("?", 1)[1])
        assert '<a href="/queue?reason=blackmail">← Back to the start</a>' in body
    assert seen == expected
    assert pages == 4


@pytest.mark.parametrize("status", [RequestStatus.SUBMITTED, RequestStatus.APPROVED])
@pytest.mark.parametrize("page_size", [1, 2, 3, 7, 8])
def test_keyset_pages_cover_every_row_exactly_once(app, seller_id, status, page_size):
    agent_id = make_user(app, "agent@example.com", Role.AGENT).id
    tie = NOW - timedelta(days=1)
    decided_at = None if status is RequestStatus.SUBMITTED else NOW
    created = [add_request(app, seller_id, tie - timedelta(hours=hours), status=status, decided_at=decided_at)
               for hours in (30, 20, 0, 0, 0, 0, 10, 5)]  # four rows share one submitted_at
    filters = QueueFilters(status=status)
    seen, cursor, pages = [], None, 0
    while True:
        page = service_page(app, agent_id, filters, cursor, page_size)
        pages += 1
        assert len(page.rows) <= page_size
        seen += ids_of(page)
        cursor = page.next_cursor
        if cursor is None:
            break
        assert pages < 20
    with app.app_context():
        by_time = sorted(created, key=lambda request_id: (
            db.session.get(DeletionRequest, request_id).submitted_at, request_id))
    assert seen == (by_time[::-1] if status == RequestStatus.APPROVED else by_time)
    assert len(set(seen)) == len(created)
    assert pages == -(-len(created) // page_size)


def test_a_page_costs_three_queries_whatever_its_size(app, seller_id, agent):
    colleague = make_user(app, "colleague@example.com", Role.AGENT)
    for number in range(12):
        add_request(app, seller_id, NOW - timedelta(hours=number + 1), evidence=number % 3,
                    assignee_id=colleague.id if number % 2 else None,
                    lease_expires_at=NOW + timedelta(minutes=5) if number % 2 else None)
    costs = {}
    with app.app_context():
        viewer = db.session.get(User, agent.id)
        for size in (2, 12):
            db.session.expire_all()
            _ = viewer.id  # reloaded here, not counted below
            with counted_queries() as log:
                page = queue_page(QueueFilters(), viewer, None, size, NOW)
                for row in page.rows:  # what the template touches
                    _ = (row.request.review.text, row.request.review.ratings, row.request.seller.email,
                         row.request.reason.label, row.holder_email, row.evidence_count)
            costs[size] = len(log.statements)
            assert not any(re.search(r"\bOFFSET\s+[1-9]", statement) for statement in log.statements)
        assert len(page.rows) == 12
    assert costs == {2: 3, 12: 3}


def test_queue_page_shows_claim_and_detail_links_only_when_they_exist(app, agent_client, seller_id):
    request_id = add_request(app, seller_id, datetime.now(UTC) - timedelta(hours=1))
    body = queue_html(agent_client)
    row = row_html(body, request_id)
    has_claim_next = "staff.claim_next" in app.view_functions
    has_detail = "staff.request_detail" in app.view_functions
    assert ("Take the next request" in body) == has_claim_next
    if has_claim_next:
        with app.test_request_context():
            action = url_for("staff.claim_next")
        assert re.search(rf'<form method="post" action="{re.escape(action)}"[^>]*>\s*'
                         r'<input type="hidden" name="csrf_token" value="[^"]+">', body)
    if has_detail:
        with app.test_request_context():
            href = url_for("staff.request_detail", request_id=request_id)
        assert f'<a href="{href}">#{request_id}</a>' in row
    else:
        assert f"#{request_id}" in row and "<a " not in row.split("</td>")[0]


def test_signed_out_visitor_is_sent_to_sign_in(client):
    response = client.get("/queue?reason=blackmail")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_queue_works_for_a_second_agent_session(app, seller_id, agent):
    # The "me" filter belongs to whoever looks, not to the first agent.
    colleague = make_user(app, "colleague@example.com", Role.AGENT)
    mine = add_request(app, seller_id, datetime.now(UTC) - timedelta(hours=2), assignee_id=colleague.id,
                       lease_expires_at=datetime.now(UTC) + timedelta(minutes=10))
    client = app.test_client()
    login(client, colleague.email)
    assert shown_ids(queue_html(client, {"assignee": "me"})) == [mine]
