"""Response headers, error pages and template helpers shared by every view."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, render_template, request
from flask_login import current_user
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import NotFound as HTTPNotFound
from werkzeug.wrappers import Response

from moderation_app.extensions import db
from moderation_app.services import NotFound

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


def add_security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if current_user and current_user.is_authenticated:
        # Signed-in pages hold private data: never keep them in a shared or back-button cache.
        response.headers["Cache-Control"] = "no-store"
    return response


def _render_error(code: int, title: str, message: str, error_id: str | None = None):
    return render_template("errors/error.html", code=code, title=title, message=message,
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


def handle_http_error(error: HTTPException):
    code = error.code or 500
    title, message = ERROR_MESSAGES.get(code, (error.name, error.description or ""))
    if code == 400 and error.description and "CSRF" in error.description:
        message = "Your form had expired or was sent from elsewhere. Reload the page and try again."
    body, status = _render_error(code, title, message)
    # Keep the headers the error carries about itself (a 405 must say Allow), not its content type.
    headers = Headers(error.get_headers())
    headers.remove("Content-Type")
    if code == 429:
        headers.setdefault("Retry-After", "60")
    return body, status, headers


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_error)
    # A service's NotFound (absent, or someone else's) is a plain 404, never a 403.
    app.register_error_handler(NotFound, lambda error: handle_http_error(HTTPNotFound()))

    @app.errorhandler(Exception)
    def internal_error(error: Exception):
        db.session.rollback()
        error_id = uuid.uuid4().hex[:12]
        # The id ties what the user sees to the traceback in the log.
        app.logger.exception("unhandled error %s on %s %s", error_id, request.method, request.path)
        return _render_error(500, "Something went wrong",
                             "The desk hit an unexpected error and has logged it. "
                             "Quote the error id when you report it.",
                             error_id)


def localtime(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC time shown in the viewer's zone (UTC for anyone without one)."""
    if moment is None:
        return ""
    zone_name = getattr(current_user, "timezone", None) or "UTC"
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = moment.astimezone(zone)
    return f"{local.strftime(fmt)} {local.tzname()}"


def register_template_helpers(app: Flask) -> None:
    app.add_template_filter(localtime, "localtime")
