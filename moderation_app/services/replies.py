"""Reply templates: managers write, edit, retire and reactivate them; the decision form offers the
active ones that fit a request's reason and the chosen decision. Every change is audited in the
caller's transaction; nothing here commits."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, select

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models.replies import TITLE_MAX_LENGTH, ReplyTemplate, title_key
from moderation_app.models.requests import Decision, Reason
from moderation_app.models.users import User
from moderation_app.services.audit.log import record_event
from moderation_app.services.errors import DomainError
from moderation_app.services.requests.decisions import NOTE_MAX_LENGTH

# A template fills the decision's note, so it obeys the note's limit.
BODY_MAX_LENGTH = NOTE_MAX_LENGTH

__all__ = ["BODY_MAX_LENGTH", "TITLE_MAX_LENGTH", "TemplateRefused", "TemplateText",
           "TitleTaken", "active_templates", "create_template", "edit_template",
           "reactivate_template", "retire_template", "retired_templates", "template_used",
           "templates_for"]


class TemplateRefused(DomainError):
    """A template the rules refuse; `field` names the form field the message belongs to."""

    def __init__(self, message: str, field: str = "title") -> None:
        super().__init__(message)
        self.field = field


class TitleTaken(TemplateRefused):
    """An active template already has the title."""


@dataclass(frozen=True)
class TemplateText:
    """What a manager writes: `reason` None means any reason."""

    title: str
    decision: Decision
    reason: Reason | None
    body: str

    def cleaned(self) -> TemplateText:
        """Spaces around trimmed, runs of spaces in the title made one; then checked."""
        text = TemplateText(" ".join(self.title.split()), self.decision, self.reason,
                            self.body.strip())
        if not text.title:
            raise TemplateRefused("Give the template a title.", "title")
        if len(text.title) > TITLE_MAX_LENGTH:
            raise TemplateRefused(f"Keep the title to {TITLE_MAX_LENGTH} characters.", "title")
        if not text.body:
            raise TemplateRefused("Write the note the template fills in.", "body")
        if len(text.body) > BODY_MAX_LENGTH:
            raise TemplateRefused(f"Keep the note to {BODY_MAX_LENGTH} characters, the limit of "
                                  "a decision's note.", "body")
        if "\x00" in text.title + text.body:
            raise TemplateRefused("The text contains an invisible null character.", "body")
        return text


def _fields(template: ReplyTemplate) -> dict[str, str | None]:
    return {"title": template.title, "decision": template.decision.value,
            "reason": template.reason.value if template.reason else None, "body": template.body}


def _refuse_a_taken_title(title: str, except_id: int | None = None) -> None:
    """Two active templates may not share a title (ignoring case and spacing). The partial unique
    index refuses it too, for two managers at the same moment; this says it clearly."""
    query = select(ReplyTemplate.title).where(ReplyTemplate.title_key == title_key(title),
                                              ReplyTemplate.retired_at.is_(None))
    if except_id is not None:
        query = query.where(ReplyTemplate.id != except_id)
    taken = db.session.scalar(query.limit(1))
    if taken is not None:
        raise TitleTaken(f"An active template is already called “{taken}”; choose another "
                              "title, or retire that one first.", "title")


def create_template(actor: User, text: TemplateText) -> ReplyTemplate:
    text = text.cleaned()
    _refuse_a_taken_title(text.title)
    now = utcnow()
    template = ReplyTemplate(title=text.title, title_key=title_key(text.title),
                             decision=text.decision, reason=text.reason, body=text.body,
                             created_by_id=actor.id, created_at=now, updated_at=now)
    db.session.add(template)
    db.session.flush()
    record_event("reply_template.created", actor=actor,
                 details={"template_id": template.id, **_fields(template)})
    return template


def edit_template(actor: User, template: ReplyTemplate, text: TemplateText) -> bool:
    """False, and nothing recorded, when nothing changed. The event keeps each changed field's
    value before and after: decisions that used the template name it by id only."""
    text = text.cleaned()
    if template.is_active:
        _refuse_a_taken_title(text.title, except_id=template.id)
    before = _fields(template)
    template.title, template.title_key = text.title, title_key(text.title)
    template.decision, template.reason, template.body = text.decision, text.reason, text.body
    after = _fields(template)
    changes = {name: [before[name], after[name]] for name in before if before[name] != after[name]}
    if not changes:
        return False
    template.updated_at = utcnow()
    db.session.flush()
    record_event("reply_template.edited", actor=actor,
                 details={"template_id": template.id, "changes": changes})
    return True


def retire_template(actor: User, template: ReplyTemplate) -> bool:
    """No longer offered; kept for the decisions that used it. False when retired already."""
    if not template.is_active:
        return False
    template.retired_at = template.updated_at = utcnow()
    db.session.flush()
    record_event("reply_template.retired", actor=actor,
                 details={"template_id": template.id, "title": template.title})
    return True


def reactivate_template(actor: User, template: ReplyTemplate) -> bool:
    """Offered again, unless an active template took its title meanwhile. False when active."""
    if template.is_active:
        return False
    _refuse_a_taken_title(template.title, except_id=template.id)
    template.retired_at = None
    template.updated_at = utcnow()
    db.session.flush()
    record_event("reply_template.reactivated", actor=actor,
                 details={"template_id": template.id, "title": template.title})
    return True


_DECISION_ORDER = case({decision: rank for rank, decision in enumerate(Decision)},
                       value=ReplyTemplate.decision)


def active_templates() -> list[ReplyTemplate]:
    """For the managers' list: by decision (approve, reject, request_info), then title."""
    return list(db.session.scalars(
        select(ReplyTemplate).where(ReplyTemplate.retired_at.is_(None))
        .order_by(_DECISION_ORDER, ReplyTemplate.title_key, ReplyTemplate.id)))


def retired_templates() -> list[ReplyTemplate]:
    return list(db.session.scalars(
        select(ReplyTemplate).where(ReplyTemplate.retired_at.is_not(None))
        .order_by(ReplyTemplate.retired_at.desc(), ReplyTemplate.id.desc())))


def templates_for(reason: Reason, decision: Decision | None = None) -> list[ReplyTemplate]:
    """The active templates a request of `reason` may use (its reason's and those for any reason),
    of one decision or all; by decision, the reason's own before the general ones, then title."""
    query = select(ReplyTemplate).where(
        ReplyTemplate.retired_at.is_(None),
        (ReplyTemplate.reason == reason) | ReplyTemplate.reason.is_(None))
    if decision is not None:
        query = query.where(ReplyTemplate.decision == decision)
    return list(db.session.scalars(query.order_by(
        _DECISION_ORDER, ReplyTemplate.reason.is_(None), ReplyTemplate.title_key,
        ReplyTemplate.id)))


def template_used(template_id: str | int | None, reason: Reason,
                  decision: Decision) -> ReplyTemplate | None:
    """The template a decision's form says it started from, as the form sent it (an id, or
    nothing): only one that exists and fits the request's reason and the decision counts, so a
    tampered or stale value names no template. One retired since the page loaded still counts:
    the agent did use it."""
    if isinstance(template_id, str):
        template_id = template_id.strip()
        if not template_id.isascii() or not template_id.isdigit() or len(template_id) > 12:
            return None
        template_id = int(template_id)
    if not template_id:
        return None
    template = db.session.get(ReplyTemplate, template_id)
    return template if template is not None and template.fits(reason, decision) else None
