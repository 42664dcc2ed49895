"""`/reply-templates` through the HTTP stack: managers create, edit, retire and reactivate
templates; every refusal says why and changes nothing; every change is audited; agents and sellers
are refused."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import func, select

from moderation_app.extensions import db
from moderation_app.models import ReplyTemplate
from moderation_app.models.requests import Decision, Reason
from tests.helpers.clients import page_text
from tests.helpers.replies import BODY, add_template
from tests.helpers.stored import audit_details, audit_events, load

FORM = {"title": "Rival shop proven", "decision": "approve", "reason": "competitor_attack",
        "body": "The chat shows the buyer promoting a rival shop, so we removed the review."}


def text_of(response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", page_text(response))).split())


def template_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ReplyTemplate))


def create(client, **changes):
    return client.post_form("/reply-templates", {**FORM, **changes})


# --- create ---------------------------------------------------------------------------------------

def test_a_manager_creates_a_template_and_sees_it_listed(app, manager_client):
    response = create(manager_client)

    assert response.status_code == 303 and response.location.endswith("/reply-templates")
    page = manager_client.get("/reply-templates")
    assert "Template “Rival shop proven” saved" in text_of(page)
    assert "Offered to agents (1)" in text_of(page)
    with app.app_context():
        template = db.session.scalars(select(ReplyTemplate)).one()
        assert (template.title, template.decision, template.reason, template.body) == (
            "Rival shop proven", Decision.APPROVE, Reason.COMPETITOR_ATTACK, FORM["body"])
        assert template.retired_at is None


def test_creating_a_template_is_audited_with_what_was_written(app, manager, manager_client):
    create(manager_client, reason="")

    events = audit_events(app, "reply_template.created")
    assert len(events) == 1 and events[0].actor_email == manager.email
    details = audit_details(app, "reply_template.created")[0]
    assert details == {"template_id": details["template_id"], "title": "Rival shop proven",
                       "decision": "approve", "reason": None, "body": FORM["body"]}


def test_an_empty_reason_means_any_reason_and_a_missing_one_too(app, manager_client):
    create(manager_client, reason="")
    data = {key: value for key, value in FORM.items() if key != "reason"}
    manager_client.post_form("/reply-templates", {**data, "title": "Another"})

    with app.app_context():
        assert [t.reason for t in db.session.scalars(select(ReplyTemplate))] == [None, None]


@pytest.mark.parametrize(("changes", "message"), [
    ({"title": ""}, "Give the template a title."),
    ({"title": "   "}, "Give the template a title."),
    ({"title": "t" * 121}, "Keep the title to 120 characters."),
    ({"body": ""}, "Write the note the template fills in."),
    ({"body": "b" * 5001}, "Keep the note to 5000 characters, the limit of a decision's note."),
    ({"body": "null \x00 inside"}, "invisible null character"),
    ({"decision": "delete"}, "Choose approve, reject or ask for more information."),
    ({"decision": ""}, "Choose approve, reject or ask for more information."),
    ({"reason": "rude_buyer"}, "Choose one of the four reasons, or any reason."),
])
def test_a_bad_template_is_refused_with_a_clear_message_and_nothing_saved(
        app, manager_client, changes, message):
    response = create(manager_client, **changes)

    assert response.status_code == 422
    assert message in text_of(response)
    assert template_count(app) == 0
    assert audit_events(app, "reply_template.%") == []


def test_limits_are_inclusive(app, manager_client):
    response = create(manager_client, title="t" * 120, body="b" * 5000)

    assert response.status_code == 303
    assert load(app, ReplyTemplate, 1).body == "b" * 5000


def test_the_title_is_trimmed_and_its_spaces_collapsed(app, manager_client):
    create(manager_client, title="  Rival   shop  ")

    assert load(app, ReplyTemplate, 1).title == "Rival shop"


@pytest.mark.parametrize("title", ["Rival shop proven", "RIVAL SHOP PROVEN", "  rival  shop   proven "])
def test_a_second_active_template_with_the_same_title_is_refused(app, manager_client, title):
    create(manager_client)

    response = create(manager_client, title=title, decision="reject")

    assert response.status_code == 409
    assert "An active template is already called “Rival shop proven”" in text_of(response)
    assert template_count(app) == 1
    assert len(audit_events(app, "reply_template.created")) == 1


def test_a_retired_templates_title_may_be_used_again(app, manager, manager_client):
    add_template(app, manager, "Rival shop proven", retired=True)

    response = create(manager_client)

    assert response.status_code == 303
    assert template_count(app) == 2


def test_creating_without_the_csrf_token_is_refused(app, manager_client):
    response = manager_client.post("/reply-templates", data=FORM)

    assert response.status_code in (400, 422)
    assert template_count(app) == 0


# --- who may ------------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["agent_client", "seller_client"])
def test_agents_and_sellers_can_neither_see_nor_change_templates(app, manager, request, who):
    client = request.getfixturevalue(who)
    template_id = add_template(app, manager, "Kept")

    assert client.get("/reply-templates").status_code == 403
    assert client.get(f"/reply-templates/{template_id}").status_code == 403
    assert create(client).status_code == 403
    assert client.post_form(f"/reply-templates/{template_id}", {**FORM, "title": "Changed"}).status_code == 403
    assert client.post_form(f"/reply-templates/{template_id}/retire").status_code == 403
    assert template_count(app) == 1
    assert load(app, ReplyTemplate, template_id).title == "Kept"
    assert load(app, ReplyTemplate, template_id).retired_at is None


def test_an_unknown_template_is_a_404(app, manager_client):
    assert manager_client.get("/reply-templates/999").status_code == 404
    assert manager_client.post_form("/reply-templates/999", FORM).status_code == 404
    assert manager_client.post_form("/reply-templates/999/retire").status_code == 404


# --- edit -----------------------------------------------------------------------------------------

def test_the_edit_page_shows_the_template_filled_in(app, manager, manager_client):
    template_id = add_template(app, manager, "Other offer", Decision.REJECT, Reason.WRONG_OFFER)

    page = page_text(manager_client.get(f"/reply-templates/{template_id}"))

    assert 'value="Other offer"' in page
    assert '<option selected value="reject">' in page
    assert '<option selected value="wrong_offer">' in page
    assert BODY in page


def test_an_edit_is_saved_and_audited_with_each_change_before_and_after(app, manager, manager_client):
    template_id = add_template(app, manager, "Other offer", Decision.REJECT, Reason.WRONG_OFFER)

    response = manager_client.post_form(f"/reply-templates/{template_id}", {
        "title": "Other offer, kept", "decision": "reject", "reason": "", "body": BODY})

    assert response.status_code == 303
    template = load(app, ReplyTemplate, template_id)
    assert (template.title, template.reason) == ("Other offer, kept", None)
    assert audit_details(app, "reply_template.edited") == [{
        "template_id": template_id,
        "changes": {"title": ["Other offer", "Other offer, kept"], "reason": ["wrong_offer", None]}}]


def test_an_edit_that_changes_nothing_records_nothing(app, manager, manager_client):
    template_id = add_template(app, manager, "Other offer", Decision.REJECT, Reason.WRONG_OFFER)

    response = manager_client.post_form(f"/reply-templates/{template_id}", {
        "title": "Other offer", "decision": "reject", "reason": "wrong_offer", "body": BODY})

    assert response.status_code == 303
    assert "Nothing changed" in text_of(manager_client.get(response.location))
    assert audit_events(app, "reply_template.edited") == []


def test_an_edit_may_not_take_another_active_templates_title(app, manager, manager_client):
    add_template(app, manager, "Taken")
    template_id = add_template(app, manager, "Mine")

    response = manager_client.post_form(f"/reply-templates/{template_id}", {**FORM, "title": "taken"})

    assert response.status_code == 409
    assert "already called “Taken”" in text_of(response)
    assert load(app, ReplyTemplate, template_id).title == "Mine"
    assert audit_events(app, "reply_template.edited") == []


def test_a_bad_edit_comes_back_with_what_was_typed(app, manager, manager_client):
    template_id = add_template(app, manager, "Mine")

    response = manager_client.post_form(f"/reply-templates/{template_id}",
                                        {**FORM, "title": "New title", "body": "x" * 5001})

    assert response.status_code == 422
    assert 'value="New title"' in page_text(response)
    assert load(app, ReplyTemplate, template_id).title == "Mine"


# --- retire and reactivate ----------------------------------------------------------------------

def test_retiring_moves_the_template_to_the_retired_list_and_is_audited(app, manager, manager_client):
    template_id = add_template(app, manager, "Old wording")

    response = manager_client.post_form(f"/reply-templates/{template_id}/retire")

    assert response.status_code == 303
    assert load(app, ReplyTemplate, template_id).retired_at is not None
    page = text_of(manager_client.get("/reply-templates"))
    assert "Offered to agents (0)" in page and "Retired (1)" in page
    assert "Template “Old wording” retired" in page
    assert audit_details(app, "reply_template.retired") == [
        {"template_id": template_id, "title": "Old wording"}]


def test_retiring_twice_records_once(app, manager, manager_client):
    template_id = add_template(app, manager, "Old wording")
    manager_client.post_form(f"/reply-templates/{template_id}/retire")

    response = manager_client.post_form(f"/reply-templates/{template_id}/retire")

    assert "was already retired" in text_of(manager_client.get(response.location))
    assert len(audit_events(app, "reply_template.retired")) == 1


def test_retiring_without_the_csrf_token_changes_nothing(app, manager, manager_client):
    template_id = add_template(app, manager, "Old wording")

    manager_client.post(f"/reply-templates/{template_id}/retire")

    assert load(app, ReplyTemplate, template_id).retired_at is None


def test_reactivating_offers_the_template_again_and_is_audited(app, manager, manager_client):
    template_id = add_template(app, manager, "Old wording", retired=True)

    response = manager_client.post_form(f"/reply-templates/{template_id}/reactivate")

    assert response.status_code == 303
    assert load(app, ReplyTemplate, template_id).retired_at is None
    assert audit_details(app, "reply_template.reactivated") == [
        {"template_id": template_id, "title": "Old wording"}]


def test_reactivating_is_refused_when_an_active_template_took_the_title(app, manager, manager_client):
    retired_id = add_template(app, manager, "Old wording", retired=True)
    add_template(app, manager, "OLD wording")

    response = manager_client.post_form(f"/reply-templates/{retired_id}/reactivate")

    assert response.status_code == 409
    assert "already called “OLD wording”" in text_of(response)
    assert load(app, ReplyTemplate, retired_id).retired_at is not None
    assert audit_events(app, "reply_template.reactivated") == []


def test_the_nav_links_to_the_templates_for_managers_only(app, manager_client, agent_client):
    assert 'href="/reply-templates"' in page_text(manager_client.get("/queue"))
    assert 'href="/reply-templates"' not in page_text(agent_client.get("/queue"))
