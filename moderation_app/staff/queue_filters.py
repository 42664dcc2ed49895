"""The queue's filters as query parameters: read from a request, written back into links."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from moderation_app.models.requests import Reason, RequestStatus
from moderation_app.services.queue.listing import (
    ASSIGNEE_CHOICES,
    DEFAULT_ASSIGNEE,
    DEFAULT_STATUS,
    QueueFilters,
)

SELLER_SEARCH_MAX_LENGTH = 254  # the longest email the desk stores
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")


def _choice(enum_cls, raw: str | None):
    try:
        return enum_cls(raw) if raw else None
    except ValueError:
        return None


def queue_filters_from(args: Mapping[str, str]) -> QueueFilters:
    """Filters from query parameters. A value that is not one of the choices falls back to the
    default instead of failing: an edited or stale link still opens the queue."""
    assignee = args.get("assignee") or DEFAULT_ASSIGNEE
    # Control characters cannot be part of an email, and PostgreSQL refuses NUL in a parameter.
    seller = _UNPRINTABLE.sub("", args.get("seller") or "").strip().lower()[:SELLER_SEARCH_MAX_LENGTH]
    return QueueFilters(
        reason=_choice(Reason, args.get("reason")),
        status=_choice(RequestStatus, args.get("status")) or DEFAULT_STATUS,
        assignee=assignee if assignee in ASSIGNEE_CHOICES else DEFAULT_ASSIGNEE,
        seller=seller,
    )


def queue_args(filters: QueueFilters, **changes: object) -> dict[str, str]:
    """The filters as query parameters for url_for, defaults left out; `changes` override
    fields first (e.g. reason=None to drop the reason)."""
    filters = replace(filters, **changes) if changes else filters
    args = {}
    if filters.reason is not None:
        args["reason"] = filters.reason.value
    if filters.status is not DEFAULT_STATUS:
        args["status"] = filters.status.value
    if filters.assignee != DEFAULT_ASSIGNEE:
        args["assignee"] = filters.assignee
    if filters.seller:
        args["seller"] = filters.seller
    return args
