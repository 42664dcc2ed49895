"""Security events (refusals, throttling, expired sessions) for the operators' log.

One line per event on the `moderation_app.security` logger: who, what, when, from where. It never
carries form data, query strings, cookies or headers, so no password or token can reach a log.
"""

from __future__ import annotations

import json
import logging

from flask import has_request_context, request
from flask_login import current_user

from moderation_app.database import utcnow

logger = logging.getLogger("moderation_app.security")


def _who() -> dict[str, object]:
    if current_user and current_user.is_authenticated:
        return {"user_id": current_user.id, "email": current_user.email,
                "role": current_user.role.value}
    return {"user_id": None, "email": None, "role": "anonymous"}


def _loggable_path() -> str:
    """The path, except where it carries a secret (a one-time set-password link): then the
    route's pattern, so a still-valid token never reaches the log."""
    if request.url_rule is not None and "token" in (request.view_args or {}):
        return request.url_rule.rule
    return request.path


def log_security_event(event: str, **details: object) -> None:
    record: dict[str, object] = {"event": event, "at": utcnow().isoformat()}
    if has_request_context():
        record.update(_who())
        # The path only: a query string may carry a `next` URL or filters nobody needs here.
        record.update({"method": request.method, "path": _loggable_path(),
                       "endpoint": request.endpoint, "remote_addr": request.remote_addr})
    record.update(details)
    logger.warning("security %s", json.dumps(record, default=str, ensure_ascii=True))
