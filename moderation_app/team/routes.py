"""`/team` for managers: every account, new accounts with a one-time set-password link, role
changes, password resets, deactivation and reactivation. The rules are in services/accounts.py;
each view is form → service → one commit → redirect, and every change asks for a password
entered in the last few minutes, like the audit exports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import TypeVar

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models.users import Role, User
from moderation_app.permissions import role_required
from moderation_app.security_log import log_security_event
from moderation_app.services.accounts import (
    TeamChangeRefused,
    change_role,
    deactivate,
    invite,
    reactivate,
    reset_password,
    team_query,
)
from moderation_app.services.errors import DomainError, NoSuchRecord
from moderation_app.services.password_links import IssuedLink, pending_link
from moderation_app.services.requests.claims import held_count
from moderation_app.sessions import has_recent_password
from moderation_app.settings import page_size
from moderation_app.team.forms import ActionForm, CreateAccountForm, RoleForm

View = TypeVar("View", bound=Callable[..., object])

bp = Blueprint("team", __name__, url_prefix="/team")

# The one-time link travels to the page after the redirect in the (signed) session cookie, and
# is popped by the first page that shows it: a reload does not show it again.
LINK_KEY = "team_link"
MAX_PAGE = 1_000_000
MAX_SEARCH = 254


@dataclass(frozen=True)
class TeamFilters:
    role: Role | None = None
    active: bool | None = None
    search: str = ""


def team_filters_from(args) -> TeamFilters:
    """Filters from the query string; a value the list does not know is ignored, not an error."""
    role = args.get("role", "")
    active = {"1": True, "0": False}.get(args.get("active", ""))
    # Control characters (NUL above all, which PostgreSQL refuses) can be in no address.
    search = "".join(char for char in args.get("q", "") if ord(char) >= 32).strip()[:MAX_SEARCH]
    return TeamFilters(Role(role) if role in {r.value for r in Role} else None, active, search)


def team_args(filters: TeamFilters) -> dict[str, str]:
    """Query-string form, for links that keep the filters."""
    values = {"role": filters.role.value if filters.role else "",
              "active": "" if filters.active is None else str(int(filters.active)),
              "q": filters.search}
    return {key: value for key, value in values.items() if value}


@bp.context_processor
def team_link_helpers() -> dict[str, object]:
    return {"team_args": team_args, "roles": list(Role)}


def changes_need_a_recent_password(view: View) -> View:
    """As sessions.recent_login_required, for POSTs: the form is not replayed after the password
    is confirmed (a redirect cannot repeat a POST), so the manager comes back to the page and
    presses the button again."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not has_recent_password():
            log_security_event("refused", status=302, reason="recent password required")
            flash("Team changes need your password entered in the last few minutes. Confirm it, "
                  "then make the change again.", "info")
            back = url_for(".member", user_id=kwargs["user_id"]) if "user_id" in kwargs \
                else url_for(".index")
            return redirect(url_for("auth.reauthenticate", next=back), 303)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _manager() -> User:
    return current_user._get_current_object()


def _load(user_id: int, *, lock: bool = False) -> User:
    # lock: PostgreSQL holds the row until commit, so two managers changing one account queue.
    user = db.session.get(User, user_id, with_for_update=lock, populate_existing=lock)
    if user is None:
        raise NoSuchRecord("No such account.")
    return user


def _page_number() -> int:
    """The `page` query parameter: junk means the first page, past MAX_PAGE an empty one."""
    return min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)


def _show_once(link: IssuedLink) -> None:
    session[LINK_KEY] = {
        "url": url_for("auth.set_password", token=link.token, _external=True),
        "email": link.email, "user_id": link.user_id, "expires_at": link.expires_at.isoformat(),
    }


def _pop_link() -> dict[str, object] | None:
    link = session.pop(LINK_KEY, None)
    if not isinstance(link, dict):
        return None
    return {**link, "expires_at": datetime.fromisoformat(link["expires_at"])}


def _render_index(form: CreateAccountForm, status: int = 200) -> ResponseReturnValue:
    filters = team_filters_from(request.args)
    page = db.paginate(team_query(filters.role, filters.active, filters.search),
                       page=_page_number(), per_page=page_size(), max_per_page=100,
                       error_out=False)
    return render_template("team/index.html", page=page, filters=filters, form=form,
                           link=_pop_link(),
                           filtered=bool(team_args(filters))), status


def _render_member(member: User, *, role_form: RoleForm | None = None, refusal: str = "",
                   status: int = 200) -> ResponseReturnValue:
    return render_template(
        "team/member.html",
        member=member,
        is_self=member.id == current_user.id,
        held=held_count(member),
        pending=pending_link(member, utcnow()),
        role_form=role_form or RoleForm(formdata=None, role=member.role.value),
        action_form=ActionForm(),
        link=_pop_link(),
        refusal=refusal,
    ), status


def _to_member(user_id: int) -> ResponseReturnValue:
    return redirect(url_for(".member", user_id=user_id), 303)


@bp.route("")
@role_required(Role.MANAGER)
def index() -> ResponseReturnValue:
    return _render_index(CreateAccountForm(formdata=None))


@bp.route("", methods=["POST"], endpoint="create")
@role_required(Role.MANAGER)
@changes_need_a_recent_password
def create_account() -> ResponseReturnValue:
    form = CreateAccountForm()
    if not form.validate_on_submit():
        return _render_index(form, 422)
    try:
        link = invite(form.email.data, Role(form.role.data), _manager(), utcnow())
        db.session.commit()
    except (TeamChangeRefused, IntegrityError) as error:
        db.session.rollback()
        # IntegrityError: the same address was added by someone else at the same moment.
        form.email.errors.append(str(error) if isinstance(error, DomainError)
                                 else "A user with this email already exists.")
        return _render_index(form, 409)
    except DomainError as error:  # an address that is not valid
        db.session.rollback()
        form.email.errors.append(str(error))
        return _render_index(form, 422)
    _show_once(link)
    flash(f"Account created for {link.email}. Send them the link below to choose a password.",
          "success")
    return _to_member(link.user_id)


@bp.route("/<int:user_id>")
@role_required(Role.MANAGER)
def member(user_id: int) -> ResponseReturnValue:
    return _render_member(_load(user_id))


def _change(user_id: int, change: Callable[[User, User], bool], done: str,
            nothing_to_do: str) -> ResponseReturnValue:
    """One button, one transaction: a refusal re-renders the page with 409 and changes nothing;
    a change already in place is said so, with no event."""
    member_ = _load(user_id, lock=True)
    if not ActionForm().validate_on_submit():
        flash("The form had expired; press the button again.", "error")
        return _to_member(user_id)
    try:
        changed = change(member_, _manager())
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        return _render_member(_load(user_id), refusal=str(error), status=409)
    flash((done if changed else nothing_to_do).format(email=member_.email),
          "success" if changed else "info")
    return _to_member(user_id)


@bp.route("/<int:user_id>/deactivate", methods=["POST"])
@role_required(Role.MANAGER)
@changes_need_a_recent_password
def deactivate_account(user_id: int) -> ResponseReturnValue:
    return _change(user_id, lambda user, actor: deactivate(user, actor),
                   "{email} is deactivated: signed out everywhere, and any requests they held "
                   "are back in the queue.",
                   "{email} was already deactivated; nothing changed.")


@bp.route("/<int:user_id>/reactivate", methods=["POST"])
@role_required(Role.MANAGER)
@changes_need_a_recent_password
def reactivate_account(user_id: int) -> ResponseReturnValue:
    return _change(user_id, lambda user, actor: reactivate(user, actor),
                   "{email} is active again.", "{email} was already active; nothing changed.")


@bp.route("/<int:user_id>/role", methods=["POST"])
@role_required(Role.MANAGER)
@changes_need_a_recent_password
def change_account_role(user_id: int) -> ResponseReturnValue:
    form = RoleForm()
    if not form.validate_on_submit():
        return _render_member(_load(user_id), role_form=form, status=422)
    role = Role(form.role.data)
    return _change(user_id, lambda user, actor: change_role(user, role, actor),
                   f"{{email}} is now {role.value}.",
                   f"{{email}} is already {role.value}; nothing changed.")


@bp.route("/<int:user_id>/reset-password", methods=["POST"])
@role_required(Role.MANAGER)
@changes_need_a_recent_password
def reset_account_password(user_id: int) -> ResponseReturnValue:
    member_ = _load(user_id, lock=True)
    if not ActionForm().validate_on_submit():
        flash("The form had expired; press the button again.", "error")
        return _to_member(user_id)
    try:
        link = reset_password(member_, _manager(), utcnow())
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        return _render_member(_load(user_id), refusal=str(error), status=409)
    _show_once(link)
    flash(f"{link.email} is signed out everywhere. Send them the new link below; older links no "
          "longer work.", "success")
    return _to_member(user_id)
