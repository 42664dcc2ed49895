"""The reply template rules in services/replies.py without HTTP: what the decision form is offered,
which template a decision may name, the database's own refusal of a second active title, and
decide() recording the template. The pages are tested in tests/views/replies/."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from moderation_app.demo.replies import DEMO_TEMPLATES, seed_demo_templates
from moderation_app.extensions import db
from moderation_app.models import AuditEvent, DeletionRequest, ReplyTemplate, User
from moderation_app.models.requests import Decision, Reason
from moderation_app.services.replies import (
    TemplateRefused,
    TemplateText,
    retire_template,
    template_used,
    templates_for,
)
from moderation_app.services.requests.decisions import DecisionRefused, decide
from tests.helpers.marketplace import add_review
from tests.helpers.replies import add_template
from tests.helpers.requests import add_request, set_holder

APPROVE, REJECT, ASK = Decision.APPROVE, Decision.REJECT, Decision.REQUEST_INFO


@pytest.fixture
def ids(app, manager) -> dict[str, int]:
    return {
        "b own": add_template(app, manager, "B own", APPROVE, Reason.BLACKMAIL),
        "a any": add_template(app, manager, "a any", APPROVE, None),
        "reject any": add_template(app, manager, "Reject any", REJECT, None),
        "ask own": add_template(app, manager, "Ask own", ASK, Reason.BLACKMAIL),
        "other": add_template(app, manager, "Other", APPROVE, Reason.WRONG_OFFER),
        "retired": add_template(app, manager, "Retired", APPROVE, None, retired=True),
    }


def titles(templates: list[ReplyTemplate]) -> list[str]:
    return [template.title for template in templates]


def test_offered_are_the_active_templates_of_the_reason_and_of_any_reason_in_decision_order(app, ids):
    with app.app_context():
        # By decision, then the reason's own before the general, then title (case ignored).
        assert titles(templates_for(Reason.BLACKMAIL)) == ["B own", "a any", "Reject any", "Ask own"]
        assert titles(templates_for(Reason.WRONG_OFFER)) == ["Other", "a any", "Reject any"]
        assert titles(templates_for(Reason.BLACKMAIL, APPROVE)) == ["B own", "a any"]
        assert titles(templates_for(Reason.BLACKMAIL, ASK)) == ["Ask own"]
        assert titles(templates_for(Reason.UNRELATED_FEEDBACK, ASK)) == []


@pytest.mark.parametrize(("key", "reason", "decision", "fits"), [
    ("b own", Reason.BLACKMAIL, APPROVE, True),
    ("a any", Reason.WRONG_OFFER, APPROVE, True),
    ("retired", Reason.BLACKMAIL, APPROVE, True),  # retired after the page loaded: it was used
    ("b own", Reason.WRONG_OFFER, APPROVE, False),
    ("b own", Reason.BLACKMAIL, REJECT, False),
    ("ask own", Reason.BLACKMAIL, APPROVE, False),
])
def test_a_decision_may_name_a_template_only_if_it_fits(app, ids, key, reason, decision, fits):
    with app.app_context():
        for sent in (ids[key], str(ids[key]), f" {ids[key]} "):
            found = template_used(sent, reason, decision)
            assert (found.id if found else None) == (ids[key] if fits else None)


@pytest.mark.parametrize("sent", [None, "", "x", "-3", "+3", "3.0", "²", "0", 0, "999999", "1" * 13])
def test_anything_else_names_no_template(app, ids, sent):
    with app.app_context():
        assert template_used(sent, Reason.BLACKMAIL, APPROVE) is None


@pytest.mark.parametrize(("text", "field"), [
    (TemplateText(" ", APPROVE, None, "Body"), "title"),
    (TemplateText("t" * 121, APPROVE, None, "Body"), "title"),
    (TemplateText("Title", APPROVE, None, " \n "), "body"),
    (TemplateText("Title", APPROVE, None, "b" * 5001), "body"),
])
def test_the_rules_refuse_what_the_form_would_also_refuse(text, field):
    with pytest.raises(TemplateRefused) as refused:
        text.cleaned()
    assert refused.value.field == field


def test_the_database_refuses_two_active_templates_of_the_same_title_but_not_a_retired_one(app, manager):
    with app.app_context():
        def row(title: str, key: str, retired: bool = False) -> ReplyTemplate:
            return ReplyTemplate(title=title, title_key=key, decision=APPROVE, body="Body",
                                 retired_at=db.func.now() if retired else None)

        db.session.add_all([row("Same", "same"), row("SAME", "same", retired=True)])
        db.session.commit()
        db.session.add(row("same", "same"))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        assert len(db.session.scalars(select(ReplyTemplate)).all()) == 2


@pytest.fixture
def held_request(app, seller, agent) -> int:
    request_id = add_request(app, seller, add_review(app, seller), reason=Reason.BLACKMAIL)
    set_holder(app, request_id, agent, lease_left=timedelta(minutes=20))
    return request_id


def decided_details(app, request_id: int) -> dict:
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(
            AuditEvent.request_id == request_id, AuditEvent.action == "request.decided")).one()
        return json.loads(event.details)


def test_decide_records_the_template_in_its_audit_event(app, agent, ids, held_request):
    with app.app_context():
        template = db.session.get(ReplyTemplate, ids["b own"])
        decide(db.session.get(User, agent.id), db.session.get(DeletionRequest, held_request),
               APPROVE, "Blackmail shown in the chat.", reply_template=template)
        db.session.commit()

    assert decided_details(app, held_request)["reply_template_id"] == ids["b own"]


def test_decide_refuses_a_template_that_does_not_fit(app, agent, ids, held_request):
    with app.app_context():
        template = db.session.get(ReplyTemplate, ids["reject any"])
        with pytest.raises(DecisionRefused):
            decide(db.session.get(User, agent.id), db.session.get(DeletionRequest, held_request),
                   APPROVE, "Blackmail shown in the chat.", reply_template=template)


def test_the_demo_templates_are_added_once_and_a_retired_one_stays_retired(app, manager):
    with app.app_context():
        actor = db.session.get(User, manager.id)
        assert seed_demo_templates(actor) == len(DEMO_TEMPLATES) >= 4
        # Every reason meets a template of each decision.
        for reason in Reason:
            assert {template.decision for template in templates_for(reason)} == set(Decision), reason
        retire_template(actor, db.session.scalars(select(ReplyTemplate)).first())
        db.session.commit()
        assert seed_demo_templates(actor) == 0
        assert len(db.session.scalars(select(ReplyTemplate)).all()) == len(DEMO_TEMPLATES)
