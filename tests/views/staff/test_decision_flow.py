"""The request page's decision flow: the form posts to the page itself, so a failed decision comes
back there with its errors on top and what was typed kept; a stale tab is told who holds the
request now, and an agent whose claim a manager took over is told on their next visit."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest

from moderation_app.models import DeletionRequest, RequestStatus, Role
from tests.helpers.accounts import make_user
from tests.helpers.clients import page_text, signed_in
from tests.helpers.marketplace import add_review
from tests.helpers.requests import add_request, set_holder
from tests.helpers.stored import audit_events, load

NOTE = "The chat shows the buyer naming a rival shop & asking for a discount."
TAKEN_OVER = re.compile(r"manager@example\.com took this request over from you at \d\d:\d\d UTC; "
                        r"nothing of yours was recorded\.")


@pytest.fixture
def request_id(app, seller) -> int:
    return add_request(app, seller, add_review(app, seller))


def claim(client, request_id: int):
    return client.post_form(f"/requests/{request_id}/claim")


def decide_on_page(client, request_id: int, **form):
    return client.post_form(f"/requests/{request_id}", form)


def status(app, request_id: int) -> RequestStatus:
    return load(app, DeletionRequest, request_id).status


def text_of(response) -> str:
    """The page as text a person reads: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", page_text(response))).split())


def error_summary(response) -> str:
    match = re.search(r'<div class="error-summary" role="alert" tabindex="-1" data-focus-on-load>'
                      r'(.*?)</div>', page_text(response), re.S)
    assert match, "no focused error summary on the page"
    return match.group(1)


def test_the_request_page_form_posts_to_the_page_itself(app, agent_client, request_id):
    claim(agent_client, request_id)

    page = page_text(agent_client.get(f"/requests/{request_id}"))

    assert f'<form method="post" action="/requests/{request_id}" novalidate class="decision-form">' in page


def test_a_decision_posted_to_the_page_is_recorded_and_the_page_shows_it(app, agent_client, request_id):
    claim(agent_client, request_id)

    response = decide_on_page(agent_client, request_id, decision="approve", note=NOTE)

    assert response.status_code == 303
    assert response.location.endswith(f"/requests/{request_id}")
    assert status(app, request_id) is RequestStatus.APPROVED
    assert "the review is hidden" in text_of(agent_client.get(response.location))


def test_a_failed_decision_stays_on_the_page_with_errors_on_top_and_the_text_kept(
        app, agent_client, request_id):
    claim(agent_client, request_id)

    response = decide_on_page(agent_client, request_id, note=NOTE, internal_note="Looks like a rival.")

    assert response.status_code == 422
    assert response.request.path == f"/requests/{request_id}"  # not /requests/<id>/decision
    summary = error_summary(response)
    assert "Nothing was recorded" in summary
    assert '<a href="#decision-0">Choose approve, reject or ask for more information.</a>' in summary
    page = page_text(response)
    # What was typed comes back in its fields (escaped), the internal note's <details> opened.
    assert re.search(r'<textarea[^>]*id="note"[^>]*>\s*' + re.escape(
        NOTE.replace("&", "&amp;")) + r"</textarea>", page)
    assert re.search(r'<details class="decision-internal" open>', page)
    assert "Looks like a rival.</textarea>" in page
    assert status(app, request_id) is RequestStatus.SUBMITTED
    assert audit_events(app, "request.decided") == []


def test_an_empty_note_is_summarised_and_the_chosen_decision_stays_chosen(app, agent_client, request_id):
    claim(agent_client, request_id)

    response = decide_on_page(agent_client, request_id, decision="reject", note="  ")

    assert response.status_code == 422
    assert '<a href="#note">Write the note the seller will see' in error_summary(response)
    assert re.search(r'<input[^>]*checked[^>]*value="reject"|<input[^>]*value="reject"[^>]*checked',
                     page_text(response))
    # The note field points at its message for screen readers.
    assert re.search(r'<textarea[^>]*aria-describedby="note-hint note-error-1"', page_text(response))


def test_a_stale_tab_is_told_who_took_the_request_over_and_keeps_its_text(
        app, agent_client, manager_client, request_id):
    claim(agent_client, request_id)
    claim(manager_client, request_id)  # a manager takes it over while the agent's tab is open

    response = decide_on_page(agent_client, request_id, decision="approve", note=NOTE)

    assert response.status_code == 409
    assert response.request.path == f"/requests/{request_id}"
    summary = unescape(error_summary(response))
    assert TAKEN_OVER.search(summary), summary
    assert "Claim the request before deciding it" not in page_text(response)
    assert NOTE in summary  # in a read-only field, to copy
    assert status(app, request_id) is RequestStatus.SUBMITTED
    assert audit_events(app, "request.decided") == []


def test_the_old_decision_url_also_names_who_took_the_request_over(
        app, agent_client, manager_client, request_id):
    claim(agent_client, request_id)
    claim(manager_client, request_id)

    response = agent_client.post_form(f"/requests/{request_id}/decision",
                                      {"decision": "reject", "note": NOTE})

    assert response.status_code == 303
    assert TAKEN_OVER.search(text_of(agent_client.get(response.location)))
    assert status(app, request_id) is RequestStatus.SUBMITTED


def test_an_agent_whose_claim_was_taken_over_is_told_on_their_next_visit(
        app, agent, agent_client, manager_client, request_id):
    claim(agent_client, request_id)
    claim(manager_client, request_id)
    bystander = signed_in(app, make_user(app, "other.agent@example.com", Role.AGENT))

    seen = text_of(agent_client.get(f"/requests/{request_id}"))

    assert re.search(r"manager@example\.com took this request over from you at \d\d:\d\d UTC ?\.", seen)
    assert "took this request over" not in text_of(bystander.get(f"/requests/{request_id}"))
    # Once the agent holds it again, the news is old.
    manager_client.post_form(f"/requests/{request_id}/release")
    claim(agent_client, request_id)
    assert "took this request over" not in text_of(agent_client.get(f"/requests/{request_id}"))


def test_a_stale_tab_is_told_which_agent_holds_the_request(app, agent_client, request_id):
    other = make_user(app, "other.agent@example.com", Role.AGENT)
    set_holder(app, request_id, other, lease_left=timedelta(minutes=20))

    response = decide_on_page(agent_client, request_id, decision="approve", note=NOTE)

    assert response.status_code == 409
    assert re.search(r"other\.agent@example\.com holds this request \(claimed at \d\d:\d\d UTC\); "
                     r"nothing of yours was recorded\.", unescape(error_summary(response)))


def test_an_agent_whose_claim_lapsed_is_told_so(app, agent, agent_client, request_id):
    set_holder(app, request_id, agent, lease_left=-timedelta(minutes=5))

    response = decide_on_page(agent_client, request_id, decision="approve", note=NOTE)

    assert response.status_code == 409
    assert re.search(r"Your claim lapsed at \d\d:\d\d UTC; nothing of yours was recorded\. "
                     r"Claim the request again to decide it\.", unescape(error_summary(response)))


def test_a_decided_request_refuses_a_second_decision_on_the_page(app, agent_client, request_id):
    claim(agent_client, request_id)
    decide_on_page(agent_client, request_id, decision="reject", note=NOTE)

    response = decide_on_page(agent_client, request_id, decision="approve", note="Changed my mind.")

    assert response.status_code == 409
    assert "cannot be decided again" in error_summary(response)
    assert status(app, request_id) is RequestStatus.REJECTED
    assert len(audit_events(app, "request.decided")) == 1


def test_the_explanation_is_shown_once_and_long_texts_can_collapse(app, seller, agent_client):
    long_review = "Terrible. " * 200
    request_id = add_request(app, seller, add_review(app, seller, text=long_review))
    explanation = load(app, DeletionRequest, request_id).explanation

    page = page_text(agent_client.get(f"/requests/{request_id}"))

    assert page.count(explanation) == 1
    assert re.search(r'<blockquote class="review-quote" id="review-text" data-collapsible>Terrible\.', page)
    assert 'id="explanation-text" data-collapsible' in page
