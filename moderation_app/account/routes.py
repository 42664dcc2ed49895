"""`/account`: every signed-in user's own settings. The time zone is a display preference: the
rule (which names are zones) is services.accounts.set_time_zone, and web.viewer_time_zone decides
which zone a page uses."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from moderation_app.account.forms import BROWSER_ZONE, SettingsForm
from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models.users import Role
from moderation_app.permissions import role_required
from moderation_app.services.accounts import set_time_zone
from moderation_app.services.errors import DomainError
from moderation_app.web import browser_zone_name, viewer_time_zone

bp = Blueprint("account", __name__, url_prefix="/account")


def _render(form: SettingsForm, status: int = 200) -> ResponseReturnValue:
    if form.errors:
        # The list shows what is still in effect: a refused value is not one of its options.
        form.timezone.data = current_user.timezone or BROWSER_ZONE
    return render_template(
        "account/settings.html",
        form=form,
        chosen=current_user.timezone,
        browser_zone=browser_zone_name(),
        zone=viewer_time_zone().key,
        now=utcnow(),
    ), status


@bp.route("")
@role_required(*Role)
def settings() -> ResponseReturnValue:
    return _render(SettingsForm(formdata=None, timezone=current_user.timezone or BROWSER_ZONE))


@bp.route("", methods=["POST"], endpoint="save_settings")
@role_required(*Role)
def save_settings() -> ResponseReturnValue:
    form = SettingsForm()
    if not form.validate_on_submit():
        return _render(form, 422)
    try:
        set_time_zone(current_user._get_current_object(), form.timezone.data or None)
    except DomainError as error:
        db.session.rollback()
        form.timezone.errors = [str(error)]
        return _render(form, 422)
    db.session.commit()
    chosen = form.timezone.data
    flash(f"Times are now shown in {chosen.replace('_', ' ')}." if chosen
          else "Times now follow your browser's time zone.", "success")
    return redirect(url_for(".settings"), 303)
