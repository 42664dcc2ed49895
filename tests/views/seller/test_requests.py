"""A seller's deletion requests through HTTP: filing one and every refusal, the list and its filter,
and the request page (snapshot, timeline). Answering, withdrawing and the audit trail are in
test_request_followup.py beside this file; evidence storage and serving in
tests/views/evidence/test_evidence.py."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from markupsafe import escape

from moderation_app.extensions import db
from moderation_app.models import (
    DeletionRequest,
    MessageKind,
    OrderStatus,
    Reason,
    RequestMessage,
    RequestStatus,
)
from tests.helpers.clients import page_text, page_without_csrf_tokens
from tests.helpers.images import image_bytes, noisy_png
from tests.helpers.marketplace import add_review, hide_review, import_reviews, review_line, set_order_status
from tests.helpers.pages import pager_links
from tests.helpers.requests import (
    CLOSED,
    EXPLANATION,
    OPEN,
    REQUEST_LINK,
    add_request,
    answer,
    ask_for_information,
    file_request,
    submit,
)
from tests.helpers.stored import evidence_rows, load, nothing_stored, request_state, row_counts, stored_files

# --- filing a request ----------------------------------------------------------------------------

def test_each_review_offers_a_request_deletion_action_opening_the_form(app, seller, seller_client):
    review_id = add_review(app, seller)

    body = page_text(seller_client.get("/seller/reviews"))

    assert f'href="/seller/reviews/{review_id}/deletion-request"' in body
    assert "Request deletion" in body
    assert seller_client.get(f"/seller/reviews/{review_id}/deletion-request").status_code == 200


def test_form_shows_the_four_reasons_in_plain_words_with_guidance_and_a_multiple_file_input(
        app, seller, seller_client):
    review_id = add_review(app, seller, text="You never delivered the logo")

    body = page_text(seller_client.get(f"/seller/reviews/{review_id}/deletion-request"))

    for reason in Reason:
        assert f'value="{reason.value}"' in body
        assert str(escape(reason.label)) in body
        assert str(escape(reason.guidance)) in body
    assert body.count('name="reason"') == 4
    assert 'name="explanation"' in body
    assert re.search(r'<input[^>]*\bmultiple\b[^>]*name="evidence"[^>]*type="file"', body)
    assert "You never delivered the logo" in body


def test_valid_request_redirects_to_its_page_in_status_submitted(app, seller, seller_client):
    review_id = add_review(app, seller, text="Worst seller ever")

    response = submit(seller_client, review_id, reason="blackmail", explanation=f"  {EXPLANATION}  ",
                      files=[(image_bytes("PNG", seed=1), "chat.png"),
                             (image_bytes("JPEG", seed=2), "order.jpg")])

    assert response.status_code in (302, 303)
    request_id = int(response.location.rsplit("/", 1)[1])
    assert response.location == f"/seller/requests/{request_id}"
    with app.app_context():
        deletion_request = db.session.get(DeletionRequest, request_id)
        assert deletion_request.status is RequestStatus.SUBMITTED
        assert deletion_request.reason is Reason.BLACKMAIL
        assert deletion_request.explanation == EXPLANATION
        assert deletion_request.seller_id == seller.id
        assert deletion_request.review.external_id == review_id
        assert deletion_request.review_snapshot["text"] == "Worst seller ever"
    assert [item.original_filename for item in evidence_rows(app)] == ["chat.png", "order.jpg"]
    page = page_text(seller_client.get(response.location))
    assert "Your request was submitted" in page


@pytest.mark.parametrize("status", [OrderStatus.FINISHED, OrderStatus.REFUND, OrderStatus.CANCELED])
def test_reviews_on_finished_refunded_or_canceled_orders_can_be_challenged(app, seller, seller_client,
                                                                             status):
    review_id = add_review(app, seller, order_status=status.value)

    file_request(seller_client, review_id)

    assert row_counts(app)["requests"] == 1


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_another_sellers_review_answers_404_like_a_missing_one_and_stores_nothing(
        app, seller, other_seller, seller_client, method):
    theirs = add_review(app, other_seller)

    def call(review_id: str):
        if method == "GET":
            return seller_client.get(f"/seller/reviews/{review_id}/deletion-request")
        return submit(seller_client, review_id)

    foreign, missing = call(theirs), call("R-does-not-exist")

    assert foreign.status_code == missing.status_code == 404
    assert page_without_csrf_tokens(foreign) == page_without_csrf_tokens(missing)
    assert "Ask customer service" not in page_text(foreign)
    assert nothing_stored(app)


def test_hidden_review_is_refused_with_a_message_and_nothing_is_stored(app, seller, seller_client):
    review_id = add_review(app, seller)
    hide_review(app, review_id)

    form_page = page_text(seller_client.get(f"/seller/reviews/{review_id}/deletion-request"))
    response = submit(seller_client, review_id)

    assert "already hidden" in form_page
    assert "Submit request" not in form_page
    assert response.status_code == 422
    assert "already hidden" in page_text(response)
    assert nothing_stored(app)


@pytest.mark.parametrize("status", [OrderStatus.DISPUTED, OrderStatus.IN_PROGRESS, OrderStatus.PAID])
def test_review_on_an_order_not_finished_refunded_or_canceled_is_refused(app, seller, seller_client,
                                                                       status):
    review_id = add_review(app, seller)
    set_order_status(app, review_id, status)

    response = submit(seller_client, review_id)

    assert response.status_code == 422
    body = page_text(response)
    assert f"The order&#39;s status is {status.label.lower()}" in body
    assert "finished, refunded or canceled" in body
    assert nothing_stored(app)


@pytest.mark.parametrize("status", OPEN)
def test_review_with_an_open_request_is_refused(app, seller, seller_client, status):
    review_id = add_review(app, seller)
    request_id = add_request(app, seller, review_id, status=status)
    before = row_counts(app)

    form_page = page_text(seller_client.get(f"/seller/reviews/{review_id}/deletion-request"))
    response = submit(seller_client, review_id)

    assert "already has an open deletion request" in form_page
    assert response.status_code == 422
    assert "already has an open deletion request" in page_text(response)
    assert row_counts(app) == before
    assert stored_files(app) == []
    assert request_state(app, request_id)["status"] is status


@pytest.mark.parametrize("status", [RequestStatus.REJECTED, RequestStatus.WITHDRAWN])
def test_review_whose_earlier_request_is_closed_can_be_challenged_again(app, seller, seller_client,
                                                                        status):
    review_id = add_review(app, seller)
    add_request(app, seller, review_id, status=status)

    file_request(seller_client, review_id)

    assert row_counts(app)["requests"] == 2


@pytest.mark.parametrize("reason", [None, "", "other", "approved", "Wrong_offer", "wrong_offer "])
def test_reason_outside_the_four_is_refused(app, seller, seller_client, reason):
    review_id = add_review(app, seller)

    response = submit(seller_client, review_id, reason=reason)

    assert response.status_code == 422
    assert "Choose one of the four reasons." in page_text(response)
    assert nothing_stored(app)


@pytest.mark.parametrize("explanation, message", [
    (None, "Explain why the review fits the reason."),
    ("", "Explain why the review fits the reason."),
    ("   \n\t  ", "Explain why the review fits the reason."),
    ("x" * 19, "Write between 20 and 5000 characters."),
    ("x" * 5001, "Write between 20 and 5000 characters."),
    # Padding must not carry a too-short explanation past the lower bound.
    (" " * 10 + "Too short." + " " * 10, "Write between 20 and 5000 characters."),
])
def test_missing_or_out_of_bounds_explanation_is_refused(app, seller, seller_client, explanation,
                                                         message):
    review_id = add_review(app, seller)

    response = submit(seller_client, review_id, explanation=explanation)

    assert response.status_code == 422
    assert message in page_text(response)
    assert nothing_stored(app)


@pytest.mark.parametrize("length", [20, 5000])
def test_explanation_at_the_length_bounds_is_accepted(app, seller, seller_client, length):
    review_id = add_review(app, seller)

    request_id = file_request(seller_client, review_id, explanation="y" * length)

    assert load(app, DeletionRequest, request_id).explanation == "y" * length


@pytest.mark.parametrize("files", [[], [(b"", "")]], ids=["no file part", "empty file input"])
def test_request_without_evidence_is_refused(app, seller, seller_client, files):
    review_id = add_review(app, seller)

    response = submit(seller_client, review_id, files=files)

    assert response.status_code == 422
    assert "Attach at least one screenshot." in page_text(response)
    assert nothing_stored(app)


def test_fields_not_in_the_form_change_nothing(app, seller, other_seller, seller_client):
    review_id = add_review(app, seller)
    other_review = add_review(app, other_seller)

    request_id = file_request(seller_client, review_id, status="approved", seller_id=str(other_seller.id),
                              review_id=other_review, version="7", decided_by_id=str(other_seller.id))

    with app.app_context():
        deletion_request = db.session.get(DeletionRequest, request_id)
        assert deletion_request.status is RequestStatus.SUBMITTED
        assert deletion_request.seller_id == seller.id
        assert deletion_request.review.external_id == review_id
        assert deletion_request.decided_by_id is None
        assert deletion_request.version == 1


def test_request_without_csrf_token_is_refused_with_400_and_nothing_stored(app, seller, seller_client):
    review_id = add_review(app, seller)

    response = seller_client.post(
        f"/seller/reviews/{review_id}/deletion-request", content_type="multipart/form-data",
        data={"reason": "wrong_offer", "explanation": EXPLANATION,
              "evidence": [(io.BytesIO(image_bytes()), "chat.png")]})

    assert response.status_code == 400
    assert "Reload the page and try again" in page_text(response)
    assert nothing_stored(app)


def test_oversized_body_is_refused_with_413_and_a_readable_page(app, seller, seller_client):
    review_id = add_review(app, seller)
    token = seller_client.csrf_token()
    app.config["MAX_CONTENT_LENGTH"] = 20_000

    response = submit(seller_client, review_id, csrf_token=token, files=[(noisy_png(), "big.png")])

    assert response.status_code == 413
    body = page_text(response)
    assert response.mimetype == "text/html"
    assert "Too large" in body and "Send smaller or fewer files" in body
    assert nothing_stored(app)


# --- the list of requests ------------------------------------------------------------------------

def test_requests_list_shows_review_reason_status_and_dates_newest_first(app, seller, seller_client):
    first, second, third = import_reviews(app, [review_line(seller, text=f"review {n}") for n in range(3)])
    monday = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    old = add_request(app, seller, first, submitted_at=monday, reason=Reason.BLACKMAIL,
                      status=RequestStatus.REJECTED)
    new = add_request(app, seller, second, submitted_at=monday + timedelta(days=2),
                      reason=Reason.COMPETITOR_ATTACK)
    middle = add_request(app, seller, third, submitted_at=monday + timedelta(days=1),
                         status=RequestStatus.NEEDS_INFO)

    body = page_text(seller_client.get("/seller/requests"))

    assert [int(found) for found in REQUEST_LINK.findall(body)] == [new, middle, old]
    for review_id in (first, second, third):
        assert review_id in body
    for label in (Reason.BLACKMAIL.label, Reason.COMPETITOR_ATTACK.label, Reason.WRONG_OFFER.label):
        assert str(escape(label)) in body
    for status in ("Rejected", "Submitted", "Needs information"):
        assert status in body
    assert "2026-03-02 09:30 UTC" in body and "2026-03-04 09:30 UTC" in body


def test_requests_list_never_shows_another_sellers_requests(app, seller, other_seller, seller_client,
                                                            other_seller_client):
    mine, theirs = add_review(app, seller), add_review(app, other_seller)
    my_request = add_request(app, seller, mine)
    their_request = add_request(app, other_seller, theirs)

    for status in ("all", "open", "closed"):
        body = page_text(seller_client.get("/seller/requests", query_string={"status": status}))
        assert their_request not in [int(found) for found in REQUEST_LINK.findall(body)]
        assert theirs not in body
    assert [int(found) for found in REQUEST_LINK.findall(
        page_text(other_seller_client.get("/seller/requests")))] == [their_request]
    assert [int(found) for found in REQUEST_LINK.findall(
        page_text(seller_client.get("/seller/requests")))] == [my_request]


def test_requests_list_is_paginated_by_page_size_25(app, seller, seller_client):
    assert app.config["PAGE_SIZE"] == 25
    review_ids = import_reviews(app, [review_line(seller) for _ in range(26)])
    start = datetime(2026, 1, 1, tzinfo=UTC)
    request_ids = [add_request(app, seller, review_id, submitted_at=start + timedelta(hours=n))
                   for n, review_id in enumerate(review_ids)]
    newest_first = list(reversed(request_ids))

    first = page_text(seller_client.get("/seller/requests"))
    second = page_text(seller_client.get(pager_links(first)["Older"]))
    # An old numbered link still opens the second page.
    numbered = page_text(seller_client.get("/seller/requests", query_string={"page": 2}))

    assert [int(found) for found in REQUEST_LINK.findall(first)] == newest_first[:25]
    assert [int(found) for found in REQUEST_LINK.findall(second)] == newest_first[25:]
    assert [int(found) for found in REQUEST_LINK.findall(numbered)] == newest_first[25:]
    assert set(pager_links(first)) == {"Older", "Oldest"}
    assert set(pager_links(second)) == {"Newest", "Newer"}


@pytest.mark.parametrize("status_filter, shown", [
    ("all", set(RequestStatus)),
    ("open", set(OPEN)),
    ("closed", set(CLOSED)),
    ("nonsense", set(RequestStatus)),
])
def test_status_filter_shows_all_open_or_closed_requests(app, seller, seller_client, status_filter, shown):
    review_ids = import_reviews(app, [review_line(seller) for _ in RequestStatus])
    by_status = {status: add_request(app, seller, review_id, status=status)
                 for status, review_id in zip(RequestStatus, review_ids)}

    body = page_text(seller_client.get("/seller/requests", query_string={"status": status_filter}))

    assert {int(found) for found in REQUEST_LINK.findall(body)} == {by_status[s] for s in shown}


def test_status_tabs_count_the_sellers_own_requests(app, seller, other_seller, seller_client):
    statuses = [*OPEN, *OPEN, *CLOSED]
    for status, review_id in zip(statuses, import_reviews(app, [review_line(seller) for _ in statuses])):
        add_request(app, seller, review_id, status=status)
    add_request(app, other_seller, import_reviews(app, [review_line(other_seller)])[0])

    body = page_text(seller_client.get("/seller/requests", query_string={"status": "closed"}))

    tabs = re.search(r'<nav class="tabs"[^>]*>(.*?)</nav>', body, re.DOTALL).group(1)
    counts = dict(re.findall(r'>(\w+) <span class="muted">\((\d+)\)</span>', tabs))
    assert counts == {"All": str(len(statuses)), "Open": str(2 * len(OPEN)), "Closed": str(len(CLOSED))}


def test_an_empty_status_tab_says_which_requests_are_missing(app, seller, seller_client):
    add_request(app, seller, import_reviews(app, [review_line(seller)])[0], status=RequestStatus.APPROVED)

    empty_tab = page_text(seller_client.get("/seller/requests", query_string={"status": "open"}))

    assert "No open requests" in empty_tab
    assert "No requests yet" not in empty_tab


# --- one request's page --------------------------------------------------------------------------

def test_request_page_shows_the_review_as_it_stood_not_as_reimported(app, seller, seller_client):
    line = review_line(seller, text="The seller never answered my messages")
    review_id = import_reviews(app, [line])[0]
    request_id = file_request(seller_client, review_id)

    import_reviews(app, [{**line, "text": "Edited by the buyer after the request",
                          "ratings": {"fulfillment": 5, "start_time": 5, "communication": 5}}])

    assert "Edited by the buyer after the request" in page_text(seller_client.get("/seller/reviews"))
    body = page_text(seller_client.get(f"/seller/requests/{request_id}"))
    assert "The seller never answered my messages" in body
    assert "Edited by the buyer" not in body
    assert 'aria-label="1 of 5 stars"' in body and 'aria-label="5 of 5 stars"' not in body


def test_request_page_shows_reason_explanation_and_evidence_thumbnails(app, seller, seller_client):
    review_id = add_review(app, seller)
    request_id = file_request(seller_client, review_id, reason="competitor_attack",
                              files=[(image_bytes(seed=1), "profile.png"), (image_bytes(seed=2), "chat.png")])

    body = page_text(seller_client.get(f"/seller/requests/{request_id}"))

    assert Reason.COMPETITOR_ATTACK.label in body
    assert EXPLANATION in body
    for item in evidence_rows(app):
        assert f'src="/evidence/{item.id}/thumbnail"' in body
        assert f'href="/evidence/{item.id}"' in body
        assert item.original_filename in body


def test_timeline_shows_submission_question_answer_and_withdrawal_in_order(app, seller, agent,
                                                                            seller_client):
    review_id = add_review(app, seller)
    request_id = file_request(seller_client, review_id)
    ask_for_information(app, request_id, agent, "Which offer did the buyer mean?")
    with app.app_context():
        db.session.add(RequestMessage(request_id=request_id, author_id=agent.id,
                                      kind=MessageKind.INTERNAL_NOTE, body="Staff-only remark"))
        db.session.commit()
    assert answer(seller_client, request_id, "The banner offer, see the chat.",
                  files=[(image_bytes(seed=9), "banner-chat.png")]).status_code == 303
    assert seller_client.post_form(f"/seller/requests/{request_id}/withdraw",
                                   {"reason": "Sorted it out with the buyer"}).status_code == 303

    body = page_text(seller_client.get(f"/seller/requests/{request_id}"))

    steps = ["You asked to delete the review", EXPLANATION,
             "Customer service asked for more information", "Which offer did the buyer mean?",
             "You answered", "The banner offer, see the chat.",
             "You withdrew the request", "Sorted it out with the buyer"]
    timeline = body[body.index('class="timeline"'):]
    positions = [timeline.find(step) for step in steps]
    assert -1 not in positions, dict(zip(steps, positions))
    assert positions == sorted(positions)
    answer_evidence = evidence_rows(app)[-1]
    assert f"/evidence/{answer_evidence.id}/thumbnail" in timeline
    assert "Staff-only remark" not in body


@pytest.mark.parametrize("method, path", [
    ("GET", ""), ("GET", "/withdraw"), ("POST", "/withdraw"), ("POST", "/evidence"),
])
def test_another_sellers_request_answers_404_and_stays_unchanged(app, seller, other_seller, agent,
                                                                 other_seller_client, method, path):
    request_id = add_request(app, seller, add_review(app, seller))
    ask_for_information(app, request_id, agent)
    before, counts = request_state(app, request_id), row_counts(app)

    url = f"/seller/requests/{request_id}{path}"
    if method == "GET":
        response = other_seller_client.get(url)
    else:
        response = other_seller_client.post_form(url, {"message": "mine now", "reason": "mine now"})

    assert response.status_code == 404
    assert request_state(app, request_id) == before
    assert row_counts(app) == counts
