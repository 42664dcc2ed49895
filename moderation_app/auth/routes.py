"""Login and logout views, and choosing a password through a one-time link. Failed logins are
throttled (see moderation_app.throttle)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response

from moderation_app.auth.forms import ConfirmPasswordForm, LoginForm, SetPasswordForm
from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models.users import MIN_PASSWORD_LENGTH, Role
from moderation_app.permissions import home_endpoint_for, public, role_required
from moderation_app.security_log import log_security_event
from moderation_app.services.accounts import (
    SignInAttempt,
    check_password,
    identify,
    record_failed_sign_in,
    record_sign_in,
    set_password_with_link,
    sign_out,
)
from moderation_app.services.errors import DomainError
from moderation_app.services.password_links import LinkNotValid, find_live_link
from moderation_app.services.audit.log import record_event
from moderation_app.sessions import confirm_password, start_session
from moderation_app.throttle import login_throttle
from moderation_app.transactions import reads_first, writing

bp = Blueprint("auth", __name__)


def is_safe_next(target: str | None) -> bool:
    if not target:
        return False
    # Control characters: urlsplit drops tabs and newlines before parsing, and a newline in the
    # Location header makes the redirect itself fail (a 500 right after a successful login).
    if any(ord(char) < 32 or ord(char) == 127 for char in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and target.startswith("/") \
        and not target.startswith("//") and "\\" not in target


@bp.route("/login", methods=["GET", "POST"])
@public
@reads_first
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for(home_endpoint_for(current_user.role)))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form)
    attempt = identify(form.email.data)
    throttle = login_throttle()
    address = request.remote_addr or "unknown"
    retry_after = throttle.attempt(attempt.throttle_key, address)
    if retry_after is not None:
        # Refused before the password is even checked, so guessing on gains nothing.
        raise TooManyRequests(retry_after=retry_after)
    user = check_password(attempt.user, form.password.data)
    with writing():
        if user is None:
            throttle.failed(address)
            record_failed_sign_in(attempt, remote_addr=request.remote_addr)
        else:
            record_sign_in(user, form.password.data, remote_addr=request.remote_addr)
        db.session.commit()
    if user is None:
        log_security_event("login_failed", attempted_email=attempt.email)
        form.password.errors.append("Email or password is not correct.")
        return render_template("auth/login.html", form=form), 200
    throttle.succeeded(attempt.throttle_key)
    # Only now that the sign-in is on the record, and in a fresh session: nothing planted
    # before login survives it.
    session.clear()
    login_user(user)
    start_session()
    target = request.args.get("next")
    return redirect(target if is_safe_next(target) else url_for(home_endpoint_for(user.role)))


@bp.route("/reauthenticate", methods=["GET", "POST"])
@role_required(Role.SELLER, Role.AGENT, Role.MANAGER)
@reads_first
def reauthenticate() -> ResponseReturnValue:
    """Asks for the password again before a sensitive action (see sessions.recent_login_required)."""
    form = ConfirmPasswordForm()
    target = request.args.get("next")
    if not form.validate_on_submit():
        return render_template("auth/reauthenticate.html", form=form)
    user = current_user._get_current_object()
    attempt = SignInAttempt(user.email, user, user.id)
    throttle = login_throttle()
    address = request.remote_addr or "unknown"
    # The same throttle as sign-in: a stolen session cannot guess on.
    retry_after = throttle.attempt(attempt.throttle_key, address)
    if retry_after is not None:
        raise TooManyRequests(retry_after=retry_after)
    confirmed = check_password(user, form.password.data) is not None
    with writing():
        record_event("auth.reauthenticated" if confirmed else "auth.reauthentication_failed",
                     actor=user, details={"remote_addr": request.remote_addr})
        db.session.commit()
    if not confirmed:
        throttle.failed(address)
        log_security_event("reauthentication_failed")
        form.password.errors.append("That password is not correct.")
        return render_template("auth/reauthenticate.html", form=form), 200
    throttle.succeeded(attempt.throttle_key)
    confirm_password()
    return redirect(target if is_safe_next(target) else url_for(home_endpoint_for(user.role)))


@bp.route("/logout", methods=["POST"])
@role_required(Role.SELLER, Role.AGENT, Role.MANAGER)
def logout() -> Response:
    user = current_user._get_current_object()
    sign_out(user)
    db.session.commit()
    logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.login"))


# One page and one status for every link that does not work, whatever the reason.
LINK_NOT_VALID_STATUS = 404


def _set_password_page(form: SetPasswordForm | None, email: str = "", status: int = 200):
    if form is None:
        status = LINK_NOT_VALID_STATUS
    return render_template("auth/set_password.html", form=form, email=email,
                           min_length=MIN_PASSWORD_LENGTH), status


@bp.route("/set-password/<token>", methods=["GET", "POST"])
@public
@reads_first  # a link that does not work costs one read and no write lock
def set_password(token: str) -> ResponseReturnValue:
    """The owner of a one-time link chooses their password. Nothing here logs the token."""
    link = find_live_link(token, utcnow())
    if link is None:
        return _set_password_page(None)
    email = link.user.email
    form = SetPasswordForm()
    if not form.validate_on_submit():
        return _set_password_page(form, email, 422 if request.method == "POST" else 200)
    try:
        with writing():
            # Checked again inside: the link may have been used a moment ago.
            set_password_with_link(token, form.password.data, utcnow())
            db.session.commit()
    except LinkNotValid:
        db.session.rollback()
        return _set_password_page(None)
    except DomainError as error:
        db.session.rollback()
        form.password.errors.append(str(error))
        return _set_password_page(form, email, 422)
    flash("Your password is set. Sign in with it now.", "success")
    return redirect(url_for("auth.login"), 303)


@bp.route("/")
@public
def index() -> Response:
    if current_user.is_authenticated:
        return redirect(url_for(home_endpoint_for(current_user.role)))
    return redirect(url_for("auth.login"))
