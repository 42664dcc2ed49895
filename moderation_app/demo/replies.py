"""Demo reply templates, so the decision form's picker and `/reply-templates` show something."""

from __future__ import annotations

from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models.replies import ReplyTemplate, title_key
from moderation_app.models.requests import Decision, Reason
from moderation_app.models.users import User
from moderation_app.services.replies import TemplateText, create_template

DEMO_TEMPLATES = [
    TemplateText("Competitor attack shown", Decision.APPROVE, Reason.COMPETITOR_ATTACK,
                 "Thank you for the screenshots. They show the reviewer promoting a competing shop, "
                 "so the review breaks our rules and we have removed it. Your rating has been "
                 "updated."),
    TemplateText("Review meant for another offer", Decision.APPROVE, Reason.WRONG_OFFER,
                 "The order chat shows the buyer describing a different product than the one you "
                 "sold, so the review does not belong on this offer. We have removed it."),
    TemplateText("Blackmail in the chat", Decision.APPROVE, Reason.BLACKMAIL,
                 "The chat shows the buyer asking for extras in exchange for changing the review. "
                 "Reviews used as leverage are not allowed; we have removed it and noted the buyer's "
                 "account."),
    TemplateText("Not enough evidence", Decision.REJECT, None,
                 "We looked at the review and the screenshots you sent, but they do not show that "
                 "the review falls under the reason you chose. The review stays. If you have more "
                 "evidence (for example the full order chat), you may file a new request."),
    TemplateText("Feedback outside the offer", Decision.APPROVE, Reason.UNRELATED_FEEDBACK,
                 "The review is about something your offer does not cover (the platform or the "
                 "buyer's own setup), not about your service, so we have removed it."),
    TemplateText("Send the full order chat", Decision.REQUEST_INFO, None,
                 "Please send screenshots of the full order chat with this buyer, from the first "
                 "message to the review, with the dates visible. We will look again as soon as they "
                 "arrive."),
]


def seed_demo_templates(manager: User) -> int:
    """Adds the demo templates whose title no template has (even a retired one: a template a
    manager retired stays retired). Returns how many were added."""
    known = set(db.session.scalars(select(ReplyTemplate.title_key)))
    added = 0
    for text in DEMO_TEMPLATES:
        if title_key(text.title) not in known:
            create_template(manager, text)
            added += 1
    return added
