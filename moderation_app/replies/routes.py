"""`/reply-templates` for managers: the active templates and the retired ones, a new template, an
edit, retire and reactivate. The rules are in services/replies.py; each view is form → service →
one commit → redirect. Agents meet the templates only on the decision form, through
`reply_templates_for` (templates/staff/_decision.html)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from moderation_app.extensions import db
from moderation_app.models.replies import ReplyTemplate
from moderation_app.models.requests import Decision, Reason
from moderation_app.models.users import Role, User
from moderation_app.permissions import role_required
from moderation_app.replies.forms import ActionForm, TemplateForm
from moderation_app.services.errors import NoSuchRecord
from moderation_app.services.replies import (
    TemplateRefused,
    TitleTaken,
    active_templates,
    create_template,
    edit_template,
    reactivate_template,
    retire_template,
    retired_templates,
    templates_for,
)

bp = Blueprint("replies", __name__, url_prefix="/reply-templates")

TITLE_RACE = "Another manager just saved a template with this title; choose another title."


@bp.app_template_global("reply_templates_for")
def reply_templates_for(reason: Reason) -> list[ReplyTemplate]:
    """The decision form's offer: every active template that fits `reason`, of each decision."""
    return templates_for(reason)


@bp.context_processor
def template_choices() -> dict[str, object]:
    return {"decisions": list(Decision), "reasons": list(Reason)}


def _manager() -> User:
    return current_user._get_current_object()


def _load(template_id: int, *, lock: bool = False) -> ReplyTemplate:
    # lock: PostgreSQL holds the row until commit, so two managers changing one template queue.
    template = db.session.get(ReplyTemplate, template_id, with_for_update=lock,
                              populate_existing=lock)
    if template is None:
        raise NoSuchRecord("No such reply template.")
    return template


def _render_index(form: TemplateForm, status: int = 200) -> ResponseReturnValue:
    return render_template("replies/index.html", form=form, active=active_templates(),
                           retired=retired_templates()), status


def _render_edit(template: ReplyTemplate, form: TemplateForm | None = None, refusal: str = "",
                 status: int = 200) -> ResponseReturnValue:
    if form is None:
        form = TemplateForm(formdata=None, title=template.title, decision=template.decision.value,
                            reason=template.reason.value if template.reason else "",
                            body=template.body)
    return render_template("replies/edit.html", template=template, form=form,
                           action_form=ActionForm(), refusal=refusal), status


def _refused(form: TemplateForm, error: TemplateRefused | IntegrityError) -> int:
    """The refusal's message on its field; the status it is answered with."""
    if isinstance(error, IntegrityError):  # the unique index: a race the service could not see
        form.title.errors.append(TITLE_RACE)
        return 409
    getattr(form, error.field).errors.append(str(error))
    return 409 if isinstance(error, TitleTaken) else 422


@bp.route("")
@role_required(Role.MANAGER)
def index() -> ResponseReturnValue:
    return _render_index(TemplateForm(formdata=None))


@bp.route("", methods=["POST"], endpoint="create")
@role_required(Role.MANAGER)
def create() -> ResponseReturnValue:
    form = TemplateForm()
    if not form.validate_on_submit():
        return _render_index(form, 422)
    try:
        template = create_template(_manager(), form.text())
        db.session.commit()
    except (TemplateRefused, IntegrityError) as error:
        db.session.rollback()
        return _render_index(form, _refused(form, error))
    flash(f"Template “{template.title}” saved: agents are offered it from now on.", "success")
    return redirect(url_for(".index"), 303)


@bp.route("/<int:template_id>")
@role_required(Role.MANAGER)
def template(template_id: int) -> ResponseReturnValue:
    return _render_edit(_load(template_id))


@bp.route("/<int:template_id>", methods=["POST"], endpoint="edit")
@role_required(Role.MANAGER)
def edit(template_id: int) -> ResponseReturnValue:
    template_ = _load(template_id, lock=True)
    form = TemplateForm()
    if not form.validate_on_submit():
        return _render_edit(template_, form, status=422)
    try:
        changed = edit_template(_manager(), template_, form.text())
        db.session.commit()
    except (TemplateRefused, IntegrityError) as error:
        db.session.rollback()
        status = _refused(form, error)
        return _render_edit(_load(template_id), form, status=status)
    flash(f"Template “{template_.title}” saved." if changed
          else "Nothing changed in the template.", "success" if changed else "info")
    return redirect(url_for(".index"), 303)


def _switch(template_id: int, change: Callable[[User, ReplyTemplate], bool], done: str,
            already: str) -> ResponseReturnValue:
    """Retire or reactivate: one button, one transaction; a refusal comes back on the
    template's page with 409 and changes nothing."""
    template_ = _load(template_id, lock=True)
    if not ActionForm().validate_on_submit():
        flash("The form had expired; press the button again.", "error")
        return redirect(url_for(".template", template_id=template_id), 303)
    try:
        changed = change(_manager(), template_)
        db.session.commit()
    except (TemplateRefused, IntegrityError) as error:
        db.session.rollback()
        message = TITLE_RACE if isinstance(error, IntegrityError) else str(error)
        return _render_edit(_load(template_id), refusal=message, status=409)
    flash((done if changed else already).format(title=template_.title),
          "success" if changed else "info")
    return redirect(url_for(".index"), 303)


@bp.route("/<int:template_id>/retire", methods=["POST"])
@role_required(Role.MANAGER)
def retire(template_id: int) -> ResponseReturnValue:
    return _switch(template_id, retire_template,
                   "Template “{title}” retired: agents are no longer offered it.",
                   "Template “{title}” was already retired; nothing changed.")


@bp.route("/<int:template_id>/reactivate", methods=["POST"])
@role_required(Role.MANAGER)
def reactivate(template_id: int) -> ResponseReturnValue:
    return _switch(template_id, reactivate_template,
                   "Template “{title}” is offered to agents again.",
                   "Template “{title}” was already active; nothing changed.")
