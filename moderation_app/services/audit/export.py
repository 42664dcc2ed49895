"""Reading the audit log: filters, keyset pages for the viewer, streamed CSV / JSON Lines exports,
and the event that records each export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from moderation_app.models.marketplace import Review

from moderation_app.extensions import db
from moderation_app.models.audit import AuditEvent
from moderation_app.models.users import User
from moderation_app.services.audit.log import format_timestamp, record_event

CSV_COLUMNS = ["id", "occurred_at", "actor_email", "actor_role", "action", "request_id", "review_id",
               "decision", "note", "details", "prev_hash", "hash"]
# OWASP CSV injection: a cell starting with one of these is a formula to a spreadsheet.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
STREAM_BATCH = 1000


# The days a date filter may name. The log holds nothing from before the desk existed, and the
# whole of the last day must end at a time Python can compute (9999-12-31 + 1 day overflows).
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date.max - timedelta(days=1)


def day_in_range(day: date) -> bool:
    return FIRST_DAY <= day <= LAST_DAY


@dataclass(frozen=True)
class AuditFilters:
    since: date | None = None
    until: date | None = None
    actor: str = ""
    action: str = ""
    request_id: int | None = None

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            day = getattr(self, name)
            if day is not None and not day_in_range(day):
                raise ValueError(f"{name} {day} is outside {FIRST_DAY} to {LAST_DAY}")

    def describe(self) -> dict[str, Any]:
        return {key: value.isoformat() if isinstance(value, date) else value
                for key, value in asdict(self).items() if value not in (None, "")}


def filtered_query(filters: AuditFilters) -> Select:
    query = select(AuditEvent)
    if filters.since:
        query = query.where(AuditEvent.occurred_at >= datetime.combine(filters.since, time(), UTC))
    if filters.until:  # inclusive: the whole of that day
        end = datetime.combine(filters.until + timedelta(days=1), time(), UTC)
        query = query.where(AuditEvent.occurred_at < end)
    if filters.actor:  # part of an address, any case: "ana" finds ana.agent@example.com
        query = query.where(AuditEvent.actor_email.icontains(filters.actor, autoescape=True))
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.request_id is not None:
        query = query.where(AuditEvent.request_id == filters.request_id)
    return query


def page(filters: AuditFilters, before_id: int | None, size: int) -> tuple[list[AuditEvent], int | None]:
    """Newest first, keyset on id: (events, id to pass as `before` for the next page or None)."""
    query = filtered_query(filters).order_by(AuditEvent.id.desc()).limit(size + 1)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    events = list(db.session.scalars(query))
    if len(events) > size:
        return events[:size], events[size - 1].id
    return events, None


def known_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


# --- exports -----------------------------------------------------------------------------------

def neutralize(cell: object) -> object:
    if isinstance(cell, str) and cell.startswith(FORMULA_PREFIXES):
        return "'" + cell
    return cell


def _record(event: AuditEvent, review_external_id: str | None) -> dict[str, Any]:
    details = json.loads(event.details)
    return {
        "id": event.id, "occurred_at": format_timestamp(event.occurred_at),
        "actor_email": event.actor_email, "actor_role": event.actor_role, "action": event.action,
        # The marketplace's id (R-1082), as every page shows it; the event's own column holds the
        # desk's internal number, which the hash covers. None when the review is gone.
        "request_id": event.request_id, "review_id": review_external_id,
        "decision": details.get("decision"), "note": details.get("note"),
        "details": details, "prev_hash": event.prev_hash, "hash": event.hash,
    }


def export_lines(session: Session, filters: AuditFilters, fmt: str,
                 counter: list[int]) -> Iterator[str]:
    """The export as text chunks, read through `session`; counter[0] counts the rows written (for
    the export's own event).

    The first chunk (the CSV header, or the first JSON line) comes only once the query has run,
    and at once after it: a caller that takes it before it starts answering still learns of any
    failure to start in time to answer with an error instead of a cut-off download."""
    # The review's external id comes with each row (a join on its primary key), so the stream
    # stays one server-side cursor read in batches.
    query = (filtered_query(filters).add_columns(Review.external_id)
             .outerjoin(Review, Review.id == AuditEvent.review_id).order_by(AuditEvent.id))
    result = session.execute(query.execution_options(yield_per=STREAM_BATCH, stream_results=True))
    with closing(result):
        yield from (_jsonl_lines if fmt == "jsonl" else _csv_chunks)(result, counter)


def _jsonl_lines(rows: Iterable[tuple[AuditEvent, str | None]], counter: list[int]) -> Iterator[str]:
    for event, review_external_id in rows:
        counter[0] += 1
        yield json.dumps(_record(event, review_external_id), ensure_ascii=False,
                         separators=(",", ":")) + "\n"


def _csv_chunks(rows: Iterable[tuple[AuditEvent, str | None]], counter: list[int]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    for event, review_external_id in rows:
        counter[0] += 1
        record = _record(event, review_external_id)
        record["details"] = json.dumps(record["details"], ensure_ascii=False, sort_keys=True)
        writer.writerow([neutralize("" if record[column] is None else record[column])
                         for column in CSV_COLUMNS])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def export_filename(filters: AuditFilters, fmt: str, today: date) -> str:
    start = filters.since.isoformat() if filters.since else "start"
    end = filters.until.isoformat() if filters.until else today.isoformat()
    return f"audit-{start}-to-{end}.{fmt}"


def record_export(actor: User | None, fmt: str, filters: AuditFilters, rows: int, completed: bool,
                  **details: object) -> None:
    """An export is itself on the record: who, which filters, how many rows, finished or not."""
    record_event("audit.exported", actor=actor, details={
        "format": fmt, "filters": filters.describe(), "rows": rows, "completed": completed,
        **details})
