"""Who may use which view, and see which thing. Every view declares its audience with @public or
@role_required; a view that declares nothing is refused to everyone. can_view() answers for one
object; a kind of object it does not know is visible to nobody (deny by default, both ways)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, abort, current_app, redirect, request, url_for
from flask_login import current_user

from moderation_app.models.evidence import Evidence
from moderation_app.models.requests import DeletionRequest
from moderation_app.models.users import Role, User
from moderation_app.security_log import log_security_event

View = TypeVar("View", bound=Callable[..., object])

PUBLIC = "public"
# The JSON API (moderation_app/api): a bearer token, never a cookie. Set only by
# api.auth.token_required, which authenticates before the view runs: declaration and check are one.
TOKEN = "api-token"
API_PATH_PREFIX = "/api/"
# Endpoints Flask itself registers, whose functions we cannot decorate.
BUILTIN_PUBLIC_ENDPOINTS = frozenset({"static"})
ACCESS_ATTRIBUTE = "access_roles"


def public(view: View) -> View:
    """Anyone, signed in or not (login page, health check, static files)."""
    setattr(view, ACCESS_ATTRIBUTE, PUBLIC)
    return view


def role_required(*roles: Role) -> Callable[[View], View]:
    """Signed-in users whose role is one of `roles`."""
    if not roles:
        raise ValueError("role_required needs at least one role")

    def decorate(view: View) -> View:
        setattr(view, ACCESS_ATTRIBUTE, frozenset(roles))
        return view

    return decorate


def access_for(endpoint: str | None, app: Flask) -> str | frozenset[Role] | None:
    if endpoint in BUILTIN_PUBLIC_ENDPOINTS:
        return PUBLIC
    view = app.view_functions.get(endpoint) if endpoint else None
    return getattr(view, ACCESS_ATTRIBUTE, None) if view else None


def enforce_access() -> None:
    """before_request hook: the single place where the declarations above take effect."""
    if request.endpoint is None:  # no route matched: let the 404/405 handlers answer
        return None
    access = access_for(request.endpoint, current_app)
    if access in (PUBLIC, TOKEN):
        return None
    if access is None:
        current_app.logger.warning("denied: endpoint %s declares no access", request.endpoint)
        abort(403)
    if not current_user.is_authenticated:
        if request.method in ("GET", "HEAD"):
            log_security_event("refused", status=302, reason="sign-in required")
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        abort(401)
    if current_user.role not in access:
        abort(403)
    return None


def is_api_request() -> bool:
    return request.path.startswith(API_PATH_PREFIX)


def refuse_cookies_to_api() -> None:
    """before_request hook, first of all: the API is refused to anything that carries the desk's
    session cookie, so a signed-in browser (or a page someone tricks it into loading) never
    reaches it, and no session is loaded, renewed or expired on its account."""
    if is_api_request() and current_app.config["SESSION_COOKIE_NAME"] in request.cookies:
        abort(403, description="The API does not accept the desk's session cookie: send only "
                               "'Authorization: Bearer <token>', without cookies.")


def home_endpoint_for(role: Role) -> str:
    return {
        Role.SELLER: "seller.reviews",
        Role.AGENT: "staff.queue",
        Role.MANAGER: "dashboard.index",
    }[role]


def can_view(user: User, thing: object) -> bool:
    """Staff see every request and its evidence; a seller only their own; anything else: nobody."""
    if not getattr(user, "is_authenticated", False):
        return False
    if isinstance(thing, Evidence):
        thing = thing.request
    if isinstance(thing, DeletionRequest):
        return user.is_staff or (user.role is Role.SELLER and thing.seller_id == user.id)
    return False
