"""The API's two endpoints (docs/api.md): reviews in (`POST /api/v1/reviews`, the importer's rules
record by record) and changed deletion requests out (`GET /api/v1/requests`, keyset pages)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError

from moderation_app.api.auth import current_caller, token_required
from moderation_app.database import utcnow
from moderation_app.extensions import csrf, db
from moderation_app.services.api_tokens import API_ROLE, actor_email
from moderation_app.services.audit.log import record_event
from moderation_app.services.keyset import MAX_CURSOR_LENGTH, decode_cursor, encode_cursor
from moderation_app.services.marketplace.importer import (
    MAX_RECORDS_PER_CALL,
    ImportStats,
    apply_records,
)
from moderation_app.services.requests.changes import RequestChange, changed_requests
from moderation_app.web import accepts_json_body

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Token requests carry no cookie (permissions.refuse_cookies_to_api), so there is no session a
# forged cross-site request could ride on: CSRF tokens have nothing to protect here.
csrf.exempt(bp)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1_000


def _not_json(constant: str) -> None:
    """NaN, Infinity and -Infinity: Python's json reads them, JSON (RFC 8259) has no such value."""
    raise ValueError(f"{constant} is not a JSON value")


def _refuse_a_stream_past_the_cap(raw: bytes) -> None:
    """A chunked body (no Content-Length) is cut at API_MAX_BODY_BYTES by Werkzeug's stream,
    which then reports the cut part as the whole body: one byte more waiting means it was over."""
    cap = request.max_content_length
    if request.content_length is None and cap is not None and len(raw) >= cap:
        if request.environ["wsgi.input"].read(1):
            abort(413)


def _json_records() -> list[Any]:
    if request.mimetype != "application/json":
        abort(415, description="Send the records as 'Content-Type: application/json'.")
    charset = request.mimetype_params.get("charset", "utf-8")
    if charset.lower() not in ("utf-8", "utf8"):
        abort(415, description="Send the body in UTF-8.")
    raw = request.get_data(cache=False)  # past API_MAX_BODY_BYTES: 413 (web.DeskRequest)
    _refuse_a_stream_past_the_cap(raw)
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_not_json)
    except UnicodeDecodeError:
        abort(400, description="The body is not valid UTF-8.")
    except ValueError as error:  # JSONDecodeError, or an integer past the conversion limit
        abort(400, description=f"The body is not valid JSON ({getattr(error, 'msg', error)}).")
    except RecursionError:  # [[[[…]]]] deeper than the interpreter's stack
        abort(400, description="The body is not valid JSON (nested too deeply).")
    if not isinstance(body, list):
        abort(400, description="The body must be a JSON array of review records.")
    if len(body) > MAX_RECORDS_PER_CALL:
        abort(400, description=f"At most {MAX_RECORDS_PER_CALL} records per call; this one has "
                               f"{len(body)}. Nothing was imported: send them in smaller calls.")
    return body


# No automatic OPTIONS: its answer would be an empty HTML page, and every answer here is JSON.
@bp.route("/reviews", methods=["POST"], provide_automatic_options=False)
@token_required
@accepts_json_body
def receive_reviews():
    """Records checked and applied as the importer does a file's lines: each answered on its
    own; the accepted ones and the call's audit event commit together."""
    records = _json_records()
    caller = current_caller()
    stats = ImportStats()
    outcomes = apply_records(records, stats)
    counts = {"created": stats.imported, "updated": stats.updated,
              "unchanged": stats.unchanged, "rejected": stats.rejected,
              "sellers_created": stats.sellers_created}
    record_event("api.reviews_received", actor_email=actor_email(caller.name),
                 actor_role=API_ROLE, details={"token_id": caller.token_id,
                                               "records": len(records), **counts})
    try:
        db.session.commit()
    except IntegrityError:
        # Another call created the same seller, offer or order between this call's read and its
        # write (PostgreSQL; SQLite writers queue): nothing of this call landed, and a retry
        # reads the other's rows.
        db.session.rollback()
        response = jsonify(error="conflict", message="Another call wrote the same records at "
                           "the same moment; nothing from this call was written. Send it again.")
        response.status_code = 409
        response.headers["Retry-After"] = "1"
        return response
    return jsonify(
        results=[{"index": outcome.index, "status": outcome.status, "errors": list(outcome.errors)}
                 for outcome in outcomes],
        counts=counts,
    )


def _instant(name: str) -> datetime | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        abort(400, description=f"{name} must be an ISO 8601 time with a timezone, "
                               "e.g. 2026-10-01T12:00:00Z.")
    if moment.tzinfo is None:
        abort(400, description=f"{name} must include a timezone (e.g. 2026-10-01T12:00:00Z).")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        abort(400, description=f"{name} is out of range in UTC.")


def _limit() -> int:
    raw = request.args.get("limit", str(DEFAULT_LIMIT))
    # ASCII digits only: str.isdigit() also admits '²' (int() refuses it) and '١٠' (int() reads 10).
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 4) or not 1 <= int(raw) <= MAX_LIMIT:
        abort(400, description=f"limit must be a whole number from 1 to {MAX_LIMIT}.")
    return int(raw)


def _cursor() -> tuple[datetime, int] | None:
    raw = request.args.get("cursor")
    if raw is None:
        return None
    position = decode_cursor(raw) if len(raw) <= MAX_CURSOR_LENGTH else None
    if position is None:
        abort(400, description="cursor is not one this API returned; start again from "
                               "updated_since.")
    return position


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _item(change: RequestChange) -> dict[str, Any]:
    decision = change.decision
    return {
        "id": change.id, "review_id": change.review_id, "seller": change.seller_email,
        "reason": change.reason, "status": change.status,
        "submitted_at": _time(change.submitted_at), "updated_at": _time(change.updated_at),
        "decision": None if decision is None else {
            "decision": decision.decision, "decided_at": _time(decision.decided_at),
            "note": decision.note, "on_appeal": decision.on_appeal,
        },
    }


@bp.route("/requests", provide_automatic_options=False)
@token_required
def changed_request_list():
    """Requests changed since `updated_since` (or after `cursor`), oldest change first."""
    since, cursor, limit = _instant("updated_since"), _cursor(), _limit()
    if since is None and cursor is None:
        abort(400, description="Give updated_since (ISO 8601, e.g. 2026-10-01T12:00:00Z) or a "
                               "cursor from an earlier page.")
    until = utcnow() - timedelta(seconds=float(current_app.config["API_CHANGES_SETTLE_SECONDS"]))
    page = changed_requests(since=since, after=cursor, until=until, limit=limit)
    last = page.items[-1] if page.items else None
    # Resume after the last item; with none, where this page began (a cursor), so a poller
    # can always keep the newest next_cursor it has.
    next_cursor = (encode_cursor(last.updated_at, last.id) if last is not None
                   else request.args.get("cursor"))
    return jsonify(items=[_item(change) for change in page.items], next_cursor=next_cursor,
                   has_more=page.has_more)
