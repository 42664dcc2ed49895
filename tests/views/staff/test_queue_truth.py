"""What the queue says is true: ages count from when a request last changed hands (filing, the
seller's answer, the agent's question), answered requests are marked, closed tabs name who closed a
request and list newest closing first, every tab carries its count, and an empty state never
contradicts the page; through the HTTP stack."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from moderation_app.extensions import db
from moderation_app.models.requests import DeletionRequest, Reason, RequestStatus
from moderation_app.models.users import Role
from tests.helpers.accounts import make_user
from tests.helpers.clients import page_text, signed_in
from tests.helpers.marketplace import add_review
from tests.helpers.queue import queued_request
from tests.helpers.requests import answer, file_request
from tests.views.staff.test_queue import next_link, overdue_ids, queue_html, row_html, shown_ids


def tab_count(body: str, status: RequestStatus) -> int:
    match = re.search(rf'data-status="{status.value}">[^<]*<span class="tab-count">(\d+)</span>', body)
    assert match, f"no count on the {status.value} tab"
    return int(match.group(1))


def age_cell(row: str) -> str:
    start = row.index('class="nowrap queue-age"')
    return row[start:row.index("</td>", start)]


def set_waiting_since(app, request_id: int, moment: datetime) -> None:
    with app.app_context():
        db.session.get(DeletionRequest, request_id).waiting_since = moment
        db.session.commit()


# --- ages and the response target ----------------------------------------------------------------

def test_an_answered_request_waits_from_the_answer_not_from_filing(app, agent_client, seller_id):
    now = datetime.now(UTC)
    answered = queued_request(app, seller_id, now - timedelta(hours=100),
                              waiting_since=now - timedelta(hours=2))
    late = queued_request(app, seller_id, now - timedelta(hours=50))
    body = queue_html(agent_client)
    assert shown_ids(body) == [answered, late]  # still at its old place in the queue
    assert overdue_ids(body) == [late]
    assert "Over 48 h" not in row_html(body, answered)
    assert "100" not in age_cell(row_html(body, answered)).split("title=")[0]


def test_an_answer_older_than_the_target_is_overdue(app, agent_client, seller_id):
    now = datetime.now(UTC)
    request_id = queued_request(app, seller_id, now - timedelta(hours=200),
                                waiting_since=now - timedelta(hours=49))
    assert overdue_ids(queue_html(agent_client)) == [request_id]


def test_needs_information_shows_the_wait_on_the_seller_and_is_never_overdue(app, agent_client, seller_id):
    now = datetime.now(UTC)
    long_ago = queued_request(app, seller_id, now - timedelta(hours=300), status=RequestStatus.NEEDS_INFO,
                              waiting_since=now - timedelta(hours=100))
    body = queue_html(agent_client, {"status": "needs_info"})
    assert shown_ids(body) == [long_ago]
    assert overdue_ids(body) == []
    assert "Over 48 h" not in body
    assert "Waiting on the seller" in body
    assert "Answered by the seller" not in body


# --- the seller's answer, through the real forms -------------------------------------------------

def test_the_sellers_answer_restarts_the_clock_and_marks_the_request(app, seller, seller_client, agent,
                                                                     agent_client):
    request_id = file_request(seller_client, add_review(app, seller))
    assert "Answered by the seller" not in row_html(queue_html(agent_client), request_id)
    assert agent_client.post_form(f"/requests/{request_id}/claim").status_code in (302, 303)
    response = agent_client.post_form(f"/requests/{request_id}/decision",
                                      {"decision": "request_info", "note": "Show the chat, please."})
    assert response.status_code in (302, 303)
    with app.app_context():
        asked = db.session.get(DeletionRequest, request_id)
        assert asked.waiting_since > asked.submitted_at
        asked_at = asked.waiting_since
    # Twelve days pass before the seller answers: the request is back at its old place, not late.
    with app.app_context():
        db.session.get(DeletionRequest, request_id).submitted_at -= timedelta(days=12)
        db.session.commit()
    assert answer(seller_client, request_id, "Here is the chat you asked for.").status_code in (302, 303)
    with app.app_context():
        answered = db.session.get(DeletionRequest, request_id)
        assert answered.status is RequestStatus.SUBMITTED and answered.waiting_since > asked_at
    body = queue_html(agent_client)
    row = row_html(body, request_id)
    assert "Answered by the seller" in row
    assert overdue_ids(body) == []


# --- closed tabs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [RequestStatus.APPROVED, RequestStatus.REJECTED])
def test_decided_tabs_name_the_decider_and_list_newest_decision_first(app, agent_client, seller_id, status):
    decider = make_user(app, "decider@example.com", Role.AGENT)
    now = datetime.now(UTC)
    # Filed in one order, decided in the other.
    first_filed = queued_request(app, seller_id, now - timedelta(days=9), status=status,
                                 decided_at=now - timedelta(hours=1), decided_by_id=decider.id)
    last_filed = queued_request(app, seller_id, now - timedelta(days=2), status=status,
                                decided_at=now - timedelta(days=1), decided_by_id=decider.id)
    body = queue_html(agent_client, {"status": status.value})
    assert shown_ids(body) == [first_filed, last_filed]
    row = row_html(body, first_filed)
    assert "decider@example.com" in row and "Unassigned" not in row
    assert (now - timedelta(hours=1)).strftime("%Y-%m-%d") in row
    assert "Closed by" in body and "Held by</th>" not in body


def test_decided_tabs_page_by_decision_time(app, agent_client, seller_id):
    app.config["PAGE_SIZE"] = 2
    now = datetime.now(UTC)
    ids = [queued_request(app, seller_id, now - timedelta(days=10 - hours), status=RequestStatus.APPROVED,
                          decided_at=now - timedelta(hours=hours))
           for hours in (5, 1, 4, 2, 3)]
    expected = [ids[1], ids[3], ids[4], ids[2], ids[0]]
    seen, body = [], queue_html(agent_client, {"status": "approved"})
    while True:
        seen += shown_ids(body)
        link = next_link(body)
        if link is None:
            break
        assert "status=approved" in link
        body = agent_client.get(link).get_data(as_text=True)
    assert seen == expected


def test_withdrawn_tab_names_the_seller_and_lists_newest_withdrawal_first(app, agent_client, seller_id):
    now = datetime.now(UTC)
    early = queued_request(app, seller_id, now - timedelta(days=1), status=RequestStatus.WITHDRAWN,
                           updated_at=now - timedelta(hours=20))
    late = queued_request(app, seller_id, now - timedelta(days=3), status=RequestStatus.WITHDRAWN,
                          updated_at=now - timedelta(hours=2))
    body = queue_html(agent_client, {"status": "withdrawn"})
    assert shown_ids(body) == [late, early]
    assert "shop@example.com" in row_html(body, late) and "Unassigned" not in body


def test_a_decision_through_the_form_shows_its_agent_on_the_approved_tab(app, seller, seller_client, agent,
                                                                        agent_client):
    request_id = file_request(seller_client, add_review(app, seller))
    agent_client.post_form(f"/requests/{request_id}/claim")
    agent_client.post_form(f"/requests/{request_id}/decision", {"decision": "approve", "note": "Fits."})
    row = row_html(queue_html(agent_client, {"status": "approved"}), request_id)
    assert re.search(r'class="queue-holder"[^>]*>\s*You\b', row)


# --- counts --------------------------------------------------------------------------------------

def test_every_tab_shows_its_count_following_the_other_filters(app, agent_client, seller_id):
    now = datetime.now(UTC)
    for status, number in ((RequestStatus.SUBMITTED, 3), (RequestStatus.NEEDS_INFO, 2),
                           (RequestStatus.APPROVED, 1), (RequestStatus.WITHDRAWN, 4)):
        for hours in range(number):
            queued_request(app, seller_id, now - timedelta(hours=hours + 1), status=status)
    queued_request(app, seller_id, now - timedelta(hours=1), status=RequestStatus.NEEDS_INFO,
                   reason=Reason.WRONG_OFFER)
    body = queue_html(agent_client, {"status": "approved"})
    assert {status: tab_count(body, status) for status in RequestStatus} == {
        RequestStatus.SUBMITTED: 3, RequestStatus.NEEDS_INFO: 3, RequestStatus.APPROVED: 1,
        RequestStatus.REJECTED: 0, RequestStatus.WITHDRAWN: 4, RequestStatus.APPEALED: 0}
    narrowed = queue_html(agent_client, {"reason": Reason.WRONG_OFFER.value})
    assert [tab_count(narrowed, status) for status in RequestStatus] == [0, 1, 0, 0, 0, 0]


# --- empty states --------------------------------------------------------------------------------

def test_filters_that_match_nothing_say_so_with_a_link_that_keeps_the_tab(app, agent_client, seller_id):
    queued_request(app, seller_id, datetime.now(UTC) - timedelta(hours=1), status=RequestStatus.NEEDS_INFO)
    body = queue_html(agent_client, {"status": "needs_info", "seller": "nobody"})
    assert "No requests match these filters" in body and "The queue is empty" not in body
    assert '<a href="/queue?status=needs_info">Clear the filters</a>' in body


def test_an_empty_closed_tab_is_not_called_an_empty_queue(app, agent_client, seller_id):
    queued_request(app, seller_id, datetime.now(UTC) - timedelta(hours=1))
    body = queue_html(agent_client, {"status": "rejected"})
    assert "No rejected requests" in body
    assert "The queue is empty" not in body and "match these filters" not in body


def test_take_next_when_others_hold_everything_does_not_call_the_queue_empty(app, agent_client, seller_id):
    colleague = make_user(app, "colleague@example.com", Role.AGENT)
    now = datetime.now(UTC)
    for hours in (2, 1):
        queued_request(app, seller_id, now - timedelta(hours=hours), assignee_id=colleague.id,
                       lease_expires_at=now + timedelta(minutes=20))
    response = agent_client.post_form("/queue/next", follow_redirects=True)
    text = page_text(response)
    assert response.request.path == "/queue"
    assert "Well done" not in text and "The queue is empty" not in text
    assert "Nothing for you to take right now: 2 waiting requests are held by other agents." in text
    assert len(shown_ids(response.get_data(as_text=True))) == 2


def test_take_next_on_an_empty_queue_still_says_well_done(app, agent_client):
    text = page_text(agent_client.post_form("/queue/next", follow_redirects=True))
    assert "The queue is empty: no open request is waiting. Well done." in text


def test_a_second_agent_page_with_no_rows_left_says_nothing_more(app, seller_id, agent):
    app.config["PAGE_SIZE"] = 1
    now = datetime.now(UTC)
    queued_request(app, seller_id, now - timedelta(hours=2))
    queued_request(app, seller_id, now - timedelta(hours=1))
    client = signed_in(app, agent)
    link = next_link(queue_html(client))
    with app.app_context():  # the second request is closed before the next page is opened
        db.session.query(DeletionRequest).filter(DeletionRequest.submitted_at > now - timedelta(
            hours=1, minutes=1)).update({"status": RequestStatus.REJECTED, "decided_at": now})
        db.session.commit()
    body = client.get(link).get_data(as_text=True)
    assert "Nothing more here" in body and "The queue is empty" not in body
