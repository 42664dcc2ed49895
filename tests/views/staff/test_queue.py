"""The staff queue list: order, filters, counts per reason, holders and leases, keyset pages and
their cursors, the response-target highlight, escaping, and the links to each request and to the
next one; through the HTTP stack. queue_page() itself is tested in tests/services/queue/test_listing.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask

from moderation_app.models.requests import Reason, RequestStatus
from moderation_app.models.users import Role, User
from moderation_app.services.queue.listing import (
    QueueFilters,
)
from moderation_app.staff.queue_filters import queue_filters_from
from tests.helpers.accounts import make_user
from tests.helpers.clients import signed_in
from tests.helpers.queue import BAD_CURSORS, add_seller, queued_request

ROW_ID = re.compile(r'<tr class="([^"]*)" data-request-id="(\d+)">')
NEXT_LINK = re.compile(r'<a href="([^"]+)" rel="next">Next page')


# --- data --------------------------------------------------------------------------------------


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


# --- who may look ------------------------------------------------------------------------------

def test_seller_cannot_open_the_queue(seller_client):
    assert seller_client.get("/queue").status_code == 403


def test_manager_sees_the_queue(app, manager_client, seller_id):
    request_id = queued_request(app, seller_id, datetime.now(UTC) - timedelta(hours=1))
    assert shown_ids(queue_html(manager_client)) == [request_id]


# --- order and columns -------------------------------------------------------------------------

def test_open_requests_are_listed_oldest_first(app, agent_client, seller_id):
    now = datetime.now(UTC)
    middle = queued_request(app, seller_id, now - timedelta(hours=5))
    oldest = queued_request(app, seller_id, now - timedelta(hours=9))
    newest = queued_request(app, seller_id, now - timedelta(hours=1))
    queued_request(app, seller_id, now - timedelta(hours=20), status=RequestStatus.NEEDS_INFO)
    queued_request(app, seller_id, now - timedelta(hours=30), status=RequestStatus.APPROVED, decided_at=now)
    assert shown_ids(queue_html(agent_client)) == [oldest, middle, newest]


@pytest.mark.parametrize("status", [RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.WITHDRAWN])
def test_closed_requests_are_listed_newest_first(app, agent_client, seller_id, status):
    now = datetime.now(UTC)
    older = queued_request(app, seller_id, now - timedelta(days=3), status=status, decided_at=now)
    newer = queued_request(app, seller_id, now - timedelta(days=1), status=status, decided_at=now)
    queued_request(app, seller_id, now - timedelta(days=2))
    body = queue_html(agent_client, {"status": status.value})
    assert shown_ids(body) == [newer, older]
    assert f"status-pill status-{status.value}" in row_html(body, newer)


def test_row_shows_reason_seller_stars_text_and_evidence(app, agent_client, seller_id):
    request_id = queued_request(app, seller_id, datetime.now(UTC) - timedelta(hours=2),
                                reason=Reason.WRONG_OFFER, stars=(2, 4, 5), evidence=3,
                                text="Wrong item entirely. " + "blah " * 100)
    row = row_html(queue_html(agent_client), request_id)
    assert Reason.WRONG_OFFER.label in row
    assert re.search(r'<td class="queue-seller"[^>]*>shop<wbr>@example.com</td>', row)
    assert re.findall(r'aria-label="(\d) of 5 stars"', row) == ["2", "4", "5"]
    excerpt = re.search(r'<p class="review-text queue-excerpt">(.*?)</p>', row, re.DOTALL).group(1)
    assert excerpt.startswith("Wrong item entirely.") and excerpt.endswith("...")
    assert len(excerpt) <= 120
    assert re.search(r'<td class="queue-evidence"[^>]*>3 ', row)
    assert "2 h 0 min" in row or "2 h 1 min" in row


def test_review_text_and_seller_search_are_escaped(app, agent_client, seller_id):
    request_id = queued_request(app, seller_id, datetime.now(UTC) - timedelta(hours=1),
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
    late = queued_request(app, seller_id, now - timedelta(hours=49))
    on_time = queued_request(app, seller_id, now - timedelta(hours=47))
    body = queue_html(agent_client)
    assert shown_ids(body) == [late, on_time]
    assert overdue_ids(body) == [late]
    assert "Over 48 h" in row_html(body, late)
    assert "Over 48 h" not in row_html(body, on_time)


def test_response_target_comes_from_config(app, agent_client, seller_id):
    app.config["RESPONSE_TARGET_HOURS"] = 4
    now = datetime.now(UTC)
    late = queued_request(app, seller_id, now - timedelta(hours=5))
    queued_request(app, seller_id, now - timedelta(hours=3))
    body = queue_html(agent_client)
    assert overdue_ids(body) == [late]
    assert "Over 4 h" in row_html(body, late)


# --- filters -----------------------------------------------------------------------------------

@pytest.mark.parametrize("reason", list(Reason))
def test_reason_filter_shows_only_that_reason(app, agent_client, seller_id, reason):
    now = datetime.now(UTC)
    ids = {other: queued_request(app, seller_id, now - timedelta(hours=number + 1), reason=other)
           for number, other in enumerate(Reason)}
    body = queue_html(agent_client, {"reason": reason.value})
    assert shown_ids(body) == [ids[reason]]


def test_needs_info_filter_shows_requests_waiting_on_the_seller(app, agent_client, seller_id):
    now = datetime.now(UTC)
    waiting = queued_request(app, seller_id, now - timedelta(hours=3), status=RequestStatus.NEEDS_INFO)
    queued_request(app, seller_id, now - timedelta(hours=4))
    body = queue_html(agent_client, {"status": "needs_info"})
    assert shown_ids(body) == [waiting]
    assert re.search(r'<a href="/queue\?status=needs_info" aria-current="page"[^>]*>Needs information ', body)


def test_counts_per_reason_follow_status_and_other_filters_but_not_reason(app, agent_client, seller_id):
    other_seller = add_seller(app, "elsewhere@example.com")
    now = datetime.now(UTC)
    for hours, reason in enumerate([Reason.BLACKMAIL, Reason.BLACKMAIL, Reason.WRONG_OFFER], start=1):
        queued_request(app, seller_id, now - timedelta(hours=hours), reason=reason)
    queued_request(app, other_seller, now - timedelta(hours=5), reason=Reason.COMPETITOR_ATTACK)
    queued_request(app, seller_id, now - timedelta(hours=6), reason=Reason.BLACKMAIL,
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
    queued_request(app, seller_id, datetime.now(UTC) - timedelta(hours=1))
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
        "mine": queued_request(app, seller_id, now - timedelta(hours=5), assignee_id=agent.id,
                               lease_expires_at=live),
        "lapsed": queued_request(app, seller_id, now - timedelta(hours=4), assignee_id=agent.id,
                                 lease_expires_at=lapsed, reason=Reason.WRONG_OFFER),
        "colleague": queued_request(app, seller_id, now - timedelta(hours=3), assignee_id=colleague.id,
                                    lease_expires_at=live),
        "nobody": queued_request(app, seller_id, now - timedelta(hours=2)),
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
    assert re.search(r'<td class="queue-holder"[^>]*>\s*You\s*</td>', row_html(body, leases["mine"]))
    assert "colleague@example.com" in row_html(body, leases["colleague"])
    for name in ("lapsed", "nobody"):
        assert '<span class="muted">Unassigned</span>' in row_html(body, leases[name])


def test_seller_search_is_a_case_insensitive_substring(app, agent_client, seller_id):
    now = datetime.now(UTC)
    alice = add_seller(app, "Alice.Shop@Example.com")
    underscore = add_seller(app, "a_b@example.com")
    plain = add_seller(app, "axb@example.com")
    owners = [("shop", seller_id), ("alice", alice), ("underscore", underscore), ("plain", plain)]
    ids = {name: queued_request(app, owner, now - timedelta(hours=hours))
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
    expected = [queued_request(app, seller_id, now - timedelta(hours=2), reason=Reason.BLACKMAIL),
                queued_request(app, seller_id, now - timedelta(hours=1), reason=Reason.WRONG_OFFER)]
    queued_request(app, seller_id, now - timedelta(hours=3), status=RequestStatus.APPROVED, decided_at=now)
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
def test_queue_filters_from_query_parameters(args, expected):
    assert queue_filters_from(args) == expected


def test_empty_queue_says_so(agent_client):
    body = queue_html(agent_client)
    assert "The queue is empty" in body
    assert "Nothing matches" not in body
    assert "Next page" not in body


def test_no_match_offers_a_reset(app, agent_client, seller_id):
    queued_request(app, seller_id, datetime.now(UTC) - timedelta(hours=1))
    body = queue_html(agent_client, {"seller": "nobody-like-this"})
    assert shown_ids(body) == []
    assert "No requests match these filters" in body and "The queue is empty" not in body
    assert '<a href="/queue">Clear the filters</a>' in body


# --- pages -------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", BAD_CURSORS + [None])
def test_tampered_cursor_shows_the_first_page(app, agent_client, seller_id, raw):
    app.config["PAGE_SIZE"] = 2
    now = datetime.now(UTC)
    ids = [queued_request(app, seller_id, now - timedelta(hours=hours)) for hours in (3, 2, 1)]
    body = queue_html(agent_client, {"after": raw} if raw is not None else None)
    assert shown_ids(body) == ids[:2]
    assert next_link(body) is not None


def test_next_page_link_appears_only_when_there_are_more(app, agent_client, seller_id):
    app.config["PAGE_SIZE"] = 2
    now = datetime.now(UTC)
    queued_request(app, seller_id, now - timedelta(hours=2))
    queued_request(app, seller_id, now - timedelta(hours=1))
    body = queue_html(agent_client)
    assert len(shown_ids(body)) == 2
    assert next_link(body) is None and "Back to the start" not in body
    queued_request(app, seller_id, now - timedelta(minutes=1))
    assert next_link(queue_html(agent_client)) is not None


def test_following_next_pages_shows_every_row_once_keeping_filters(app, agent_client, seller_id):
    app.config["PAGE_SIZE"] = 2
    now = datetime.now(UTC).replace(microsecond=0)
    same_moment = now - timedelta(hours=6)
    expected = [queued_request(app, seller_id, now - timedelta(hours=8))]
    # Several requests filed in the same instant: the id breaks the tie, across page boundaries too.
    expected += [queued_request(app, seller_id, same_moment) for _ in range(4)]
    expected += [queued_request(app, seller_id, now - timedelta(hours=hours)) for hours in (2, 1)]
    queued_request(app, seller_id, now - timedelta(hours=7), reason=Reason.WRONG_OFFER)

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


def test_queue_rows_link_to_their_request_pages(app, agent_client, seller_id):
    request_id = queued_request(app, seller_id, datetime.now(UTC) - timedelta(hours=1))

    row = row_html(queue_html(agent_client), request_id)

    assert f'<a href="/requests/{request_id}">#{request_id}</a>' in row
    detail = agent_client.get(f"/requests/{request_id}")
    assert detail.status_code == 200
    assert f"#{request_id}" in detail.get_data(as_text=True)


def test_queue_page_offers_the_take_the_next_request_form(app, agent, agent_client, seller_id):
    request_id = queued_request(app, seller_id, datetime.now(UTC) - timedelta(hours=1))
    body = queue_html(agent_client)

    form = re.search(r'<form method="post" action="/queue/next"[^>]*>\s*'
                     r'<input type="hidden" name="csrf_token" value="([^"]+)">\s*'
                     r'<button type="submit"[^>]*>Take the next request</button>', body)

    assert form, "no take-the-next-request form posting to /queue/next"
    # The form works as the page renders it: its own token, no other field.
    taken = agent_client.post("/queue/next", data={"csrf_token": form.group(1)})
    assert taken.status_code == 303
    assert taken.location.endswith(f"/requests/{request_id}")


def test_signed_out_visitor_is_sent_to_sign_in(client):
    response = client.get("/queue?reason=blackmail")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_queue_works_for_a_second_agent_session(app, seller_id, agent):
    # The "me" filter belongs to whoever looks, not to the first agent.
    colleague = make_user(app, "colleague@example.com", Role.AGENT)
    mine = queued_request(app, seller_id, datetime.now(UTC) - timedelta(hours=2), assignee_id=colleague.id,
                          lease_expires_at=datetime.now(UTC) + timedelta(minutes=10))
    assert shown_ids(queue_html(signed_in(app, colleague), {"assignee": "me"})) == [mine]
