"""The audit log's filters as query parameters: read from a request, written back into links."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from moderation_app.database import MAX_ROW_ID
from moderation_app.forms import query_day
from moderation_app.services.audit.export import FIRST_DAY, LAST_DAY, AuditFilters

# The actor filter is part of an address; no address is longer than this.
ACTOR_SEARCH_MAX_LENGTH = 254


def audit_args(filters: AuditFilters) -> dict[str, str]:
    """Query-string form, for links that keep the filters."""
    values = {"since": filters.since.isoformat() if filters.since else "",
              "until": filters.until.isoformat() if filters.until else "",
              "actor": filters.actor, "action": filters.action,
              "request": str(filters.request_id) if filters.request_id else ""}
    return {key: value for key, value in values.items() if value}


def row_id(text: str | None) -> int | None:
    """A positive id in ASCII digits that a row could have, else None ("²" is a digit to
    str.isdigit, and a huge number makes the database fail instead of finding nothing)."""
    if not text or not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ROW_ID else None


def printable(text: str | None) -> str:
    # Control characters match no email or action, and PostgreSQL refuses NUL in a parameter.
    return "".join(char for char in (text or "") if char.isprintable()).strip()


def audit_filters_from(args: Mapping[str, str]) -> tuple[AuditFilters, list[str]]:
    """Filters from query parameters; anything unreadable is ignored and reported, never a 500."""
    errors: list[str] = []

    def day(name: str) -> date | None:
        return query_day(args, name, FIRST_DAY, LAST_DAY, errors, ignored=name,
                         span=f"the days the log can hold ({FIRST_DAY} to {LAST_DAY})")

    raw_request = (args.get("request") or "").strip().lstrip("#")
    request_id = row_id(raw_request)
    if raw_request and request_id is None:
        errors.append(f"“{raw_request[:40]}” is not a request number; it is ignored.")
    filters = AuditFilters(
        since=day("since"), until=day("until"),
        actor=printable(args.get("actor")).lower()[:ACTOR_SEARCH_MAX_LENGTH],
        action=printable(args.get("action"))[:64],
        request_id=request_id,
    )
    if filters.since and filters.until and filters.since > filters.until:
        errors.append("The start date is after the end date, so nothing can match.")
    return filters, errors
