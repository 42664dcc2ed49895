"""Reply templates on the decision form, through the HTTP stack: the holder is offered the active
templates that fit the request's reason (its own and "any reason"), and a decision records in its
audit event which template it started from, when the form names one that fits."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from moderation_app.models import DeletionRequest, RequestStatus
from moderation_app.models.requests import Decision, Reason
from tests.helpers.clients import page_text
from tests.helpers.marketplace import add_review
from tests.helpers.replies import add_template
from tests.helpers.requests import add_request, set_holder
from tests.helpers.stored import audit_details, load

NOTE = "The chat shows the buyer talking about a logo, which this offer never included."


@pytest.fixture
def request_id(app, seller) -> int:
    return add_request(app, seller, add_review(app, seller), reason=Reason.WRONG_OFFER)


@pytest.fixture
def held(app, agent, request_id) -> int:
    set_holder(app, request_id, agent, lease_left=timedelta(minutes=20))
    return request_id


@pytest.fixture
def templates(app, manager) -> dict[str, int]:
    return {
        "own": add_template(app, manager, "Other offer: approved", Decision.APPROVE, Reason.WRONG_OFFER,
                            body="Own reason body."),
        "any": add_template(app, manager, "Not enough evidence", Decision.REJECT, None,
                            body="Any reason body."),
        "question": add_template(app, manager, "Send the order chat", Decision.REQUEST_INFO, None,
                                 body="Please send the order chat."),
        "other reason": add_template(app, manager, "Rival proven", Decision.APPROVE,
                                     Reason.COMPETITOR_ATTACK, body="Other reason body."),
        "retired": add_template(app, manager, "Old wording", Decision.APPROVE, None,
                                body="Retired body.", retired=True),
    }


def picker_options(page: str) -> dict[str, str]:
    """The picker's templates: title by id, with the decision each is for."""
    select = re.search(r'<select id="reply-template-picker".*?</select>', page, re.S)
    assert select, "no template picker on the page"
    return {value: f"{decision}:{title}" for value, decision, title in re.findall(
        r'<option value="(\d+)" data-decision="(\w+)">([^<]*)</option>', select.group(0))}


def decide(client, request_id: int, **form):
    return client.post_form(f"/requests/{request_id}", {"decision": "approve", "note": NOTE, **form})


def test_the_holder_is_offered_the_templates_that_fit_the_requests_reason(
        app, agent_client, held, templates):
    page = page_text(agent_client.get(f"/requests/{held}"))

    assert picker_options(page) == {
        str(templates["own"]): "approve:Other offer: approved",
        str(templates["any"]): "reject:Not enough evidence",
        str(templates["question"]): "request_info:Send the order chat",
    }
    # Without JavaScript: the same templates' texts, to copy.
    assert "Own reason body." in page and "Any reason body." in page
    assert "Other reason body." not in page and "Retired body." not in page
    assert 'name="reply_template" type="hidden" value=""' in page
    assert "js/reply_templates.js" in page


def test_a_request_of_another_reason_is_offered_that_reasons_templates(
        app, seller, agent, agent_client, templates):
    request_id = add_request(app, seller, add_review(app, seller), reason=Reason.COMPETITOR_ATTACK)
    set_holder(app, request_id, agent, lease_left=timedelta(minutes=20))

    options = picker_options(page_text(agent_client.get(f"/requests/{request_id}")))

    assert set(options) == {str(templates["other reason"]), str(templates["any"]),
                            str(templates["question"])}


def test_no_templates_no_picker(app, agent_client, held):
    page = page_text(agent_client.get(f"/requests/{held}"))

    assert "reply-template-picker" not in page and "reply_templates.js" not in page
    assert 'name="note"' in page


def test_someone_not_holding_the_request_is_offered_nothing(app, agent_client, request_id, templates):
    assert "reply-template-picker" not in page_text(agent_client.get(f"/requests/{request_id}"))


def test_a_decision_records_the_template_it_started_from(app, agent_client, held, templates):
    response = decide(agent_client, held, reply_template=str(templates["own"]))

    assert response.status_code == 303
    assert load(app, DeletionRequest, held).status is RequestStatus.APPROVED
    details = audit_details(app, "request.decided", request_id=held)[0]
    assert details["reply_template_id"] == templates["own"]
    assert details["note"] == NOTE  # what the agent sent, edited or not


def test_a_template_for_any_reason_counts_and_a_question_too(app, agent_client, held, templates):
    decide(agent_client, held, decision="request_info", note="Please send the chat.",
           reply_template=str(templates["question"]))

    assert audit_details(app, "request.decided", request_id=held)[0]["reply_template_id"] == \
        templates["question"]


@pytest.mark.parametrize("sent", ["", "abc", "-1", "1.0", "0", "99999", "9" * 40, "１"])
def test_a_value_that_names_no_template_is_ignored_and_the_decision_stands(
        app, agent_client, held, templates, sent):
    response = decide(agent_client, held, reply_template=sent)

    assert response.status_code == 303
    assert load(app, DeletionRequest, held).status is RequestStatus.APPROVED
    assert "reply_template_id" not in audit_details(app, "request.decided", request_id=held)[0]


@pytest.mark.parametrize("key", ["any", "question", "other reason"])
def test_a_template_that_does_not_fit_the_decision_or_the_reason_is_not_recorded(
        app, agent_client, held, templates, key):
    # "any" is a reject template and "question" a request_info one: the decision is approve.
    decide(agent_client, held, reply_template=str(templates[key]))

    assert load(app, DeletionRequest, held).status is RequestStatus.APPROVED
    assert "reply_template_id" not in audit_details(app, "request.decided", request_id=held)[0]


def test_a_template_retired_while_the_page_was_open_still_counts(app, manager, agent_client, held):
    template_id = add_template(app, manager, "Soon retired", Decision.APPROVE, None, retired=True)

    decide(agent_client, held, reply_template=str(template_id))

    assert audit_details(app, "request.decided", request_id=held)[0]["reply_template_id"] == template_id


def test_a_refused_decision_keeps_the_chosen_template_on_the_page(app, agent_client, held, templates):
    response = decide(agent_client, held, note="", reply_template=str(templates["own"]))

    assert response.status_code == 422
    assert f'name="reply_template" type="hidden" value="{templates["own"]}"' in page_text(response)
