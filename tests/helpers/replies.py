"""Reply templates written through the service, committed, for tests that need some in place."""

from __future__ import annotations

from flask import Flask

from moderation_app.extensions import db
from moderation_app.models.requests import Decision, Reason
from moderation_app.models.users import User
from moderation_app.services.replies import TemplateText, create_template, retire_template

BODY = "The screenshots show the buyer writing about another offer, so the review is removed."


def add_template(app: Flask, manager: User, title: str, decision: Decision = Decision.APPROVE,
                 reason: Reason | None = None, body: str = BODY, *, retired: bool = False) -> int:
    with app.app_context():
        actor = db.session.get(User, manager.id)
        template = create_template(actor, TemplateText(title, decision, reason, body))
        if retired:
            retire_template(actor, template)
        db.session.commit()
        return template.id
