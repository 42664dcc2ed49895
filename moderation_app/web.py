"""Response headers, error pages and template helpers shared by every view."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TypeVar
from zoneinfo import ZoneInfo

from flask import (
    Flask,
    Request,
    current_app,
    g,
    has_request_context,
    jsonify,
    render_template,
    request,
    session,
)
from flask.globals import request_ctx
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.exc import DBAPIError
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException, NotFound, ServiceUnavailable
from werkzeug.routing import IntegerConverter
from werkzeug.wrappers import Response

from moderation_app.database import MAX_ROW_ID, is_database_unreachable, is_lock_contention
from moderation_app.extensions import db
from moderation_app.models.marketplace import CRITERION_LABELS
from moderation_app.permissions import PUBLIC, access_for, is_api_request
from moderation_app.security_log import log_security_event
from moderation_app.services.accounts import is_time_zone
from moderation_app.services.evidence.backends import StorageUnavailable
from moderation_app.services.errors import NoSuchRecord
from moderation_app.sessions import discard_session_changes


class RowIdConverter(IntegerConverter):
    """`<int:…>` in our URLs is a row id: a number no row can have matches no route, so it is a
    plain 404 and never reaches the database."""

    def __init__(self, url_map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(url_map, *args, **kwargs)


UPLOADS_ATTRIBUTE = "accepts_uploads"
View = TypeVar("View", bound=Callable[..., object])


def accepts_uploads(view: View) -> View:
    """Marks a view that takes files: only such views read bodies up to MAX_CONTENT_LENGTH."""
    setattr(view, UPLOADS_ATTRIBUTE, True)
    return view


JSON_BODY_ATTRIBUTE = "accepts_json_body"
# Set by api.auth.token_required once the bearer token is known good (its id).
API_TOKEN_ID = "api_token_id"


def accepts_json_body(view: View) -> View:
    """Marks an API view that reads a JSON body: up to API_MAX_BODY_BYTES, once its token passed."""
    setattr(view, JSON_BODY_ATTRIBUTE, True)
    return view


class DeskRequest(Request):
    """Only multipart posts to an @accepts_uploads view, from a user that view admits (a
    signed-in seller), may use the full MAX_CONTENT_LENGTH; every other body (a sign-in, a note,
    an anonymous or staff post to an upload view, anything sent anywhere else) is capped at
    MAX_FORM_MEMORY_SIZE as a whole, before it is parsed or spooled to disk. The CSRF check reads
    the form before the access check runs: without the user condition, anyone could make the desk
    read 41 MB only to refuse it."""

    @property  # type: ignore[override]
    def max_content_length(self) -> int | None:
        view = current_app.view_functions.get(self.endpoint) if self.endpoint else None
        # Only a caller whose token was checked may send the API a large body.
        if getattr(view, JSON_BODY_ATTRIBUTE, False) and g.get(API_TOKEN_ID) is not None:
            return current_app.config["API_MAX_BODY_BYTES"]
        if (self.mimetype == "multipart/form-data" and getattr(view, UPLOADS_ATTRIBUTE, False)
                and self._admits_current_user()):
            return super().max_content_length
        return current_app.config["MAX_FORM_MEMORY_SIZE"]

    def _admits_current_user(self) -> bool:
        """Whether the view's access declaration (see permissions) lets the current user in."""
        access = access_for(self.endpoint, current_app)
        if access == PUBLIC:
            return True
        if not isinstance(access, frozenset) or not access:
            return False
        # Loading a signed-in user may be the request's first query, and the body is yet to be
        # read: a transaction begun here ends here, so none is open (on SQLite a POST's holds the
        # write lock) while a client's upload trickles in.
        began = not db.session().in_transaction()
        try:
            return bool(current_user.is_authenticated and current_user.role in access)
        finally:
            if began:
                db.session.rollback()


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


def add_security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    # DENY unless a view framed by our own pages chose SAMEORIGIN (an e-mail preview).
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if "_user_id" in session or is_api_request():  # signed in (read from the cookie), or the API
        # Signed-in pages hold private data: never keep them in a shared or back-button cache.
        response.headers["Cache-Control"] = "no-store"
    return response


def _render_error(code: int, title: str, message: str, error_id: str | None = None):
    # A request for an untrusted host has no URL adapter, so the page cannot build links.
    template = "errors/error.html" if request_ctx.url_adapter else "errors/bare.html"
    return render_template(template, code=code, title=title, message=message,
                           error_id=error_id), code


ERROR_MESSAGES = {
    400: ("Bad request",
          "The form could not be processed. If it had expired, reload the page and try again."),
    401: ("Sign in required", "Please sign in to continue."),
    403: ("Not allowed", "Your account does not have access to this page."),
    404: ("Not found", "There is nothing here, or it is not yours to see."),
    405: ("Method not allowed", "This address does not accept that kind of request."),
    413: ("Too large", "What you sent is larger than the desk accepts. Send smaller or fewer files."),
    429: ("Too many attempts", "Too many attempts in a short time. Wait a few minutes and try again."),
    503: ("Temporarily unavailable", "The desk cannot reach its database right now. Try again in a minute."),
}


# Answers that refuse the visitor something; each is logged as a security event.
REFUSALS = frozenset({400, 401, 403, 404, 405, 413, 429})


# The API's answers, in its own words: a machine reads them (docs/api.md#errors).
API_ERROR_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
    429: "rate_limited", 500: "internal_error", 503: "unavailable",
}


def api_error(code: int, message: str, headers: Headers | None = None):
    """A JSON error for /api/: {"error": code word, "message": why}. Never an HTML page."""
    response = jsonify(error=API_ERROR_CODES.get(code, "error"), message=message)
    response.status_code = code
    if headers:
        response.headers.extend(headers)
    if code == 401:
        # RFC 6750: a client that sent a token learns it was refused; one that sent none, how to.
        response.headers["WWW-Authenticate"] = (
            'Bearer realm="moderation-desk", error="invalid_token"'
            if request.headers.get("Authorization", "")[:7].lower() == "bearer "
            else 'Bearer realm="moderation-desk"')
    return response


def _api_http_error(error: HTTPException, code: int, headers: Headers):
    # An API view's own description says what was wrong; werkzeug's stock texts are generic.
    message = error.description or ""
    if code == 400 and "CSRF" in message:  # cannot happen (the API is exempt), but never leak HTML
        message = "The request was refused."
    if code == 404 and not request.url_rule:
        message = "There is no such API endpoint (see docs/api.md)."
    if code == 405:
        message = f"{request.method} is not allowed here; allowed: {headers.get('Allow', '')}."
    if code == 413:  # werkzeug's "The data value transmitted exceeds the capacity limit."
        message = (f"The body is over {request.max_content_length} bytes; nothing was read or "
                   "written. Send the records in smaller calls.")
    if code == 429:
        headers.setdefault("Retry-After", "60")
    return api_error(code, message, headers)


def handle_http_error(error: HTTPException):
    code = error.code or 500
    if is_api_request():
        if code in REFUSALS or code == 415:
            log_security_event("refused", status=code, reason=type(error).__name__)
        headers = Headers(error.get_headers())
        headers.remove("Content-Type")
        return _api_http_error(error, code, headers)
    title, message = ERROR_MESSAGES.get(code, (error.name, error.description or ""))
    csrf_failure = code == 400 and bool(error.description) and "CSRF" in error.description
    if csrf_failure:
        message = "Your form had expired or was sent from elsewhere. Reload the page and try again."
    if code in REFUSALS:
        log_security_event("refused", status=code,
                           reason="csrf" if csrf_failure else type(error).__name__)
    body, status = _render_error(code, title, message)
    # Keep the headers the error carries about itself (a 405 must say Allow), not its content type.
    headers = Headers(error.get_headers())
    headers.remove("Content-Type")
    if code == 429:
        headers.setdefault("Retry-After", "60")
    return body, status, headers


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_error)
    # A service's NoSuchRecord (absent, or someone else's) is a plain 404, never a 403.
    app.register_error_handler(NoSuchRecord, lambda error: handle_http_error(NotFound()))

    @app.errorhandler(StorageUnavailable)
    def storage_error(error: StorageUnavailable):
        # The evidence store (S3) is down: like the database's outage, a 503 and no traceback.
        _discard_session()
        app.logger.error("evidence store unavailable on %s %s: %s", request.method, request.path,
                         error)
        body, status = _render_error(503, "Temporarily unavailable",
                                     "The desk cannot reach its evidence store right now. Nothing "
                                     "was changed; try again in a few minutes.")
        return body, status, {"Retry-After": "30"}

    @app.errorhandler(DBAPIError)
    def database_error(error: DBAPIError):
        if not (is_database_unreachable(error) or is_lock_contention(error)):
            return internal_error(error)
        _discard_session()
        _treat_visitor_as_anonymous()
        # An outage is not a bug: no traceback. Contention may be one (a deadlock): keep it.
        app.logger.error("database unavailable on %s %s: %s", request.method, request.path,
                         type(error.orig).__name__, exc_info=is_lock_contention(error))
        return handle_http_error(ServiceUnavailable(
            retry_after=30, description="The desk cannot reach its database right now; nothing "
                                        "from this call was written. Try again in a minute."))

    @app.errorhandler(Exception)
    def internal_error(error: Exception):
        _discard_session()
        _treat_visitor_as_anonymous()  # a plain page, whatever state the database is in
        error_id = uuid.uuid4().hex[:12]
        # The id ties what the user sees to the traceback in the log.
        app.logger.exception("unhandled error %s on %s %s", error_id, request.method, request.path)
        if is_api_request():
            return api_error(500, f"Unexpected error {error_id}; nothing from this call was "
                                  "written. Quote the id when you report it.")
        return _render_error(500, "Something went wrong",
                             "The desk hit an unexpected error and has logged it. "
                             "Quote the error id when you report it.",
                             error_id)


def _discard_session() -> None:
    """Roll back what the request did, in the database and in the browser's session (see
    sessions.DeskSessionInterface); with the database gone the rollback itself may fail."""
    discard_session_changes()
    try:
        db.session.rollback()
    except DBAPIError:
        db.session.close()


def _treat_visitor_as_anonymous() -> None:
    # The error page and headers ask who is signed in; with the database gone, loading the
    # user would fail again inside the handler. This is where Flask-Login keeps the answer.
    g._login_user = current_app.login_manager.anonymous_user()


# Set by static/js/timezone.js to the browser's IANA zone; the zone of users who chose none.
TIME_ZONE_COOKIE = "tz"


def viewer_zone(name: str | None) -> ZoneInfo:
    """A time zone by name; UTC for no name or one that is not in the desk's list (a typo, a
    path, a cookie someone edited)."""
    return ZoneInfo(name) if is_time_zone(name) else ZoneInfo("UTC")


def browser_zone_name() -> str | None:
    """The zone the browser reported in its cookie, if it is one the desk knows."""
    if not has_request_context():
        return None
    name = request.cookies.get(TIME_ZONE_COOKIE)
    return name if is_time_zone(name) else None


def viewer_time_zone() -> ZoneInfo:
    """The one answer to "which zone does this viewer see times in": the zone they chose in their
    settings, else their browser's (the cookie), else UTC. Until timezone.js has set the cookie
    (the first page in a new browser or after travelling), a user without a choice sees UTC."""
    return viewer_zone(getattr(current_user, "timezone", None) or browser_zone_name())


UTC_FORMAT = "%Y-%m-%d %H:%M"


def _moments(moment: datetime, fmt: str) -> tuple[datetime, str, str]:
    utc = moment.astimezone(UTC)
    local = moment.astimezone(viewer_time_zone())
    return utc, f"{local.strftime(fmt)} {local.tzname()}", f"{utc.strftime(UTC_FORMAT)} UTC"


def localtime(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> Markup:
    """A UTC time as <time> in the viewer's zone, with the UTC time as its tooltip:
    `<time datetime="2026-11-27T13:02:00Z" title="2026-11-27 13:02 UTC">2026-11-27 14:02 CET</time>`.
    Markup: use it in text only; inside an attribute, use localtime_text."""
    if moment is None:
        return Markup("")
    utc, shown, in_utc = _moments(moment, fmt)
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        utc.strftime("%Y-%m-%dT%H:%M:%SZ"), in_utc, shown)


def localtime_text(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """The same time as plain text ("2026-11-27 14:02 CET"), for attributes such as title=."""
    return "" if moment is None else _moments(moment, fmt)[1]


def describe_age(age: timedelta) -> str:
    """How long something waited, to the minute: "3 d 4 h", "2 h 5 min", "7 min", "just now"."""
    minutes = max(int(age.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else "just now"


# A filled and an empty star: they differ in shape (★ ☆), not only in colour.
_STARS = {True: Markup('<span class="on" aria-hidden="true">★</span>'),
          False: Markup('<span class="off" aria-hidden="true">☆</span>')}


@lru_cache(maxsize=64)
def star_rating(value: int) -> Markup:
    """A rating as five stars; screen readers get the label. Built once per value: a list page draws
    75 of them, and as a Jinja loop they were a third of the queue's rendering time."""
    stars = Markup("").join(_STARS[i <= value] for i in range(1, 6))
    return Markup('<span class="stars" aria-label="{0} of 5 stars" role="img" title="{0} of 5">{1}</span>'
                  ).format(value, stars)


def display_labels() -> dict[str, object]:
    """Names the pages show for the model's codes, so no view has to pass them.
    Macros that read these are imported `with context`."""
    return {"criterion_labels": CRITERION_LABELS}


def register_template_helpers(app: Flask) -> None:
    app.add_template_filter(localtime, "localtime")
    app.add_template_filter(localtime_text, "localtime_text")
    app.add_template_filter(describe_age, "age")
    app.add_template_global(star_rating, "star_rating")
    app.context_processor(display_labels)
