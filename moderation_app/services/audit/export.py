"""Reading the audit log: filters, keyset pages for the viewer, streamed CSV / JSON Lines exports,
and the event that records each export."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select, union_all
from sqlalchemy.orm import Session

from moderation_app.extensions import db
from moderation_app.models.audit import AuditEvent
from moderation_app.models.marketplace import Review
from moderation_app.models.users import User
from moderation_app.services.audit.log import (
    format_timestamp,
    json_encoder,
    json_parser,
    occurred_text,
    occurred_text_column,
    record_event,
)
from moderation_app.services.audit.postgres import batches, export_head, export_tail

CSV_COLUMNS = ["id", "occurred_at", "actor_email", "actor_role", "action", "request_id", "review_id",
               "decision", "note", "details", "prev_hash", "hash"]
# OWASP CSV injection: a cell starting with one of these is a formula to a spreadsheet.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Rows per round trip and per chunk written: about 3 MB of text, so memory stays flat (10,000
# rows took peak RSS past 150 MB).
STREAM_BATCH = 5_000
_jsonl_json = json_encoder(sort_keys=False, separators=(",", ":"))
_csv_details = json_encoder(sort_keys=True, separators=(", ", ": "))
_parse_json = json_parser()
_encode_string = json.encoder.encode_basestring


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


def _day_bounds(filters: AuditFilters) -> tuple[datetime | None, datetime | None]:
    """[start, end) of the date filter; until is inclusive: the whole of that day."""
    start = datetime.combine(filters.since, time(), UTC) if filters.since else None
    end = datetime.combine(filters.until + timedelta(days=1), time(), UTC) if filters.until else None
    return start, end


def filtered_query(filters: AuditFilters) -> Select:
    query = select(AuditEvent)
    start, end = _day_bounds(filters)
    if start:
        query = query.where(AuditEvent.occurred_at >= start)
    if end:
        query = query.where(AuditEvent.occurred_at < end)
    if filters.actor:
        query = query.where(_actor_matches(AuditEvent.actor_email, filters.actor))
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.request_id is not None:
        query = query.where(AuditEvent.request_id == filters.request_id)
    return query


def _actor_matches(column: Any, search: str) -> Any:
    # Part of an address, any case: "ana" finds ana.agent@example.com.
    return column.icontains(search, autoescape=True)


def _distinct_actors(search: str) -> list[str]:
    """The actors whose address contains the search, by a skip scan of ix_audit_events_actor_email_id:
    one probe per distinct actor (52 in the bench's million events), not a read of every event."""
    actor = AuditEvent.__table__.c.actor_email
    seen = select(func.min(actor).label("actor")).cte("actors", recursive=True)
    following = select(func.min(actor)).where(actor > seen.c.actor).scalar_subquery()
    seen = seen.union_all(select(following).where(seen.c.actor.is_not(None)))
    return list(db.session.scalars(
        select(seen.c.actor).where(seen.c.actor.is_not(None), _actor_matches(seen.c.actor, search))))


def _page_query(filters: AuditFilters, before_id: int | None, limit: int) -> Select:
    """The page's query without the actor filter: newest first, walking the primary key down from
    `before` (or the newest event), within the date filter's ids.

    The dates become an id range by one seek each on ix_audit_events_occurred_at, so a range long
    before the newest event starts the walk where the range ends instead of walking down to it.
    Exact because times never go back along the chain (record_event appends under the chain's
    lock with max(now, the head's time): log.py, _next_event); the time conditions stay as well,
    so an event outside the dates can never show."""
    events = AuditEvent.__table__.c
    query = filtered_query(replace(filters, actor="")).order_by(AuditEvent.id.desc()).limit(limit)
    start, end = _day_bounds(filters)
    if start:  # NULL when no event is that late: nothing matches
        query = query.where(AuditEvent.id >= select(events.id).where(events.occurred_at >= start)
                            .order_by(events.occurred_at, events.id).limit(1).scalar_subquery())
    if end:
        query = query.where(AuditEvent.id <= select(events.id).where(events.occurred_at < end)
                            .order_by(events.occurred_at.desc(), events.id.desc()).limit(1)
                            .scalar_subquery())
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return query


# Beyond this many matching actors, the walk down the primary key with the filter is the better
# way: so many actors are likely to fill a page quickly, and the union would grow with them.
MAX_ACTORS_APART = 32


def page_statement(filters: AuditFilters, before_id: int | None, limit: int) -> Select | None:
    """The page's query (None: no actor matches, so nothing can). Runs the actor lookup."""
    query = _page_query(filters, before_id, limit)
    if not filters.actor:
        return query
    # An actor with few events (or none) would have the walk read the whole log to fill a page.
    # Instead: the matching actors first, then each one's newest events by the (actor_email, id)
    # index, at most a page each, merged by id.
    actors = _distinct_actors(filters.actor)
    if not actors:
        return None
    if len(actors) > MAX_ACTORS_APART:
        return query.where(AuditEvent.actor_email.in_(actors))
    per_actor = [query.where(AuditEvent.actor_email == actor)
                 .with_only_columns(AuditEvent.id).subquery() for actor in actors]
    ids = union_all(*(select(one.c.id) for one in per_actor)).subquery()
    return (select(AuditEvent).where(AuditEvent.id.in_(select(ids.c.id)))
            .order_by(AuditEvent.id.desc()).limit(limit))


def page(filters: AuditFilters, before_id: int | None, size: int) -> tuple[list[AuditEvent], int | None]:
    """Newest first, keyset on id: (events, id to pass as `before` for the next page or None)."""
    query = page_statement(filters, before_id, size + 1)
    events = list(db.session.scalars(query)) if query is not None else []
    if len(events) > size:
        return events[:size], events[size - 1].id
    return events, None


def known_actions() -> list[str]:
    """The distinct actions, by a skip scan of the action index: one probe per action (about
    twenty) instead of DISTINCT over every event (370 ms at a million on PostgreSQL)."""
    action = AuditEvent.__table__.c.action
    seen = select(func.min(action).label("action")).cte("actions", recursive=True)
    following = select(func.min(action)).where(action > seen.c.action).scalar_subquery()
    seen = seen.union_all(select(following).where(seen.c.action.is_not(None)))
    return list(db.session.scalars(
        select(seen.c.action).where(seen.c.action.is_not(None)).order_by(seen.c.action)))


# --- exports -----------------------------------------------------------------------------------

def neutralize(cell: object) -> object:
    if isinstance(cell, str) and cell.startswith(FORMULA_PREFIXES):
        return "'" + cell
    return cell


# The export's columns, as plain values: the event's time as text (see occurred_text), the
# review's marketplace id (R-1082, as every page shows it; the event's own column holds the desk's
# internal number, which the hash covers; None when the review is gone).
def _export_query(filters: AuditFilters, dialect: str) -> Select:
    events = AuditEvent.__table__.c
    return (filtered_query(filters)
            .with_only_columns(events.id, occurred_text_column(dialect), events.actor_email,
                               events.actor_role, events.action, events.request_id,
                               Review.external_id, events.details, events.prev_hash, events.hash,
                               maintain_column_froms=False)
            .select_from(AuditEvent).outerjoin(Review, Review.id == AuditEvent.review_id)
            .order_by(AuditEvent.id))


def _parse_details(text: str) -> Any:
    """json.loads(text), faster on the canonical text the log holds; any other text, or one that is
    not JSON, goes through json.loads itself, which fails on it as it always did."""
    try:
        value, end = _parse_json(text, 0)
    except (StopIteration, ValueError, TypeError):
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def _occurred_at(session: Session, row: Sequence[Any], sqlite: bool) -> str:
    text = occurred_text(row[1], sqlite)
    if text is None:  # a time the text cannot vouch for: the datetime, as it always was
        text = format_timestamp(session.scalars(
            select(AuditEvent.occurred_at).where(AuditEvent.id == row[0])).one())
    return text


def _jsonl_value(value: Any) -> str:
    """json.dumps(value, ensure_ascii=False, separators=(",", ":")), the common types first."""
    kind = type(value)
    if kind is str:
        return _encode_string(value)
    if value is None:
        return "null"
    if kind is int:
        return int.__repr__(value)  # what json writes for an int
    return _jsonl_json(value)


def _jsonl_line(session: Session, row: Sequence[Any], sqlite: bool) -> str:
    """json.dumps(record, ensure_ascii=False, separators=(",", ":")) of the row's record, as text."""
    id_, _, actor_email, actor_role, action, request_id, review_id, details, prev_hash, hash_ = row
    parsed = _parse_details(details)
    value = _jsonl_value
    return (f'{{"id":{value(id_)},"occurred_at":"{_occurred_at(session, row, sqlite)}",'
            f'"actor_email":{value(actor_email)},"actor_role":{value(actor_role)},'
            f'"action":{value(action)},"request_id":{value(request_id)},'
            f'"review_id":{value(review_id)},"decision":{value(parsed.get("decision"))},'
            f'"note":{value(parsed.get("note"))},"details":{_jsonl_json(parsed)},'
            f'"prev_hash":{value(prev_hash)},"hash":{value(hash_)}}}\n')


def _csv_text(value: Any) -> str:
    """What csv.writer writes for the cell neutralize(value) (None empty; QUOTE_MINIMAL, quotes
    doubled), with str methods rather than its per-character loop, which was most of an export's
    time; tests compare the two on every awkward character."""
    if value is None:
        return ""
    if type(value) is int:  # digits and a minus sign never need quotes
        return str(value)
    if type(value) is not str:
        value = str(value)  # as csv.writer does; neutralize() leaves non-text alone
    elif value.startswith(FORMULA_PREFIXES):
        value = "'" + value
    if '"' in value:
        return '"' + value.replace('"', '""') + '"'
    if "," in value or "\n" in value or "\r" in value:
        return '"' + value + '"'
    return value


def _csv_line(session: Session, row: Sequence[Any], sqlite: bool) -> str:
    """csv.writer's line for the row's cells in CSV_COLUMNS order: empty for None, formulas
    neutralized, details as json.dumps(parsed, ensure_ascii=False, sort_keys=True)."""
    id_, _, actor_email, actor_role, action, request_id, review_id, details, prev_hash, hash_ = row
    parsed = _parse_details(details)
    cell = _csv_text
    return (f"{cell(id_)},{_occurred_at(session, row, sqlite)},{cell(actor_email)},"
            f"{cell(actor_role)},{cell(action)},{cell(request_id)},{cell(review_id)},"
            f"{cell(parsed.get('decision'))},{cell(parsed.get('note'))},"
            f"{cell(_csv_details(parsed))},{cell(prev_hash)},{cell(hash_)}\r\n")


def _postgresql_query(filters: AuditFilters, fmt: str) -> Select:
    """id, the line up to `decision`, details, the line after `details` (see postgres.py)."""
    events = AuditEvent.__table__.c
    return (filtered_query(filters)
            .with_only_columns(events.id, export_head(fmt), events.details, export_tail(fmt),
                               maintain_column_froms=False)
            .select_from(AuditEvent).outerjoin(Review, Review.id == AuditEvent.review_id)
            .order_by(AuditEvent.id))


def _postgresql_lines(session: Session, fmt: str, batch: Sequence[Sequence[Any]],
                      counter: list[int]) -> Iterator[str]:
    """The lines of a batch of _postgresql_query() rows: PostgreSQL wrote all but the cells that
    come from `details`, which json writes here exactly as _csv_line() and _jsonl_line() do."""
    parse, cell, value, compact, spaced = (_parse_details, _csv_text, _jsonl_value, _jsonl_json,
                                           _csv_details)
    csv_ = fmt == "csv"
    for id_, head, details, tail in batch:
        counter[0] += 1
        if head is None:  # a time PostgreSQL's text cannot vouch for: the whole line here
            row = session.connection().execute(
                _export_query(AuditFilters(), "postgresql").where(AuditEvent.id == id_)).one()
            yield (_csv_line if csv_ else _jsonl_line)(session, row, False)
            continue
        parsed = parse(details)
        if csv_:
            yield (f"{head}{cell(parsed.get('decision'))},{cell(parsed.get('note'))},"
                   f"{cell(spaced(parsed))}{tail}")
        else:
            yield (f'{head}{value(parsed.get("decision"))},"note":{value(parsed.get("note"))},'
                   f'"details":{compact(parsed)}{tail}')


def export_lines(session: Session, filters: AuditFilters, fmt: str,
                 counter: list[int]) -> Iterator[str]:
    """The export as text chunks, read through `session`; counter[0] counts the rows written (for
    the export's own event).

    The first chunk (the CSV header, or the first JSON line) comes only once the query has run,
    and at once after it: a caller that takes it before it starts answering still learns of
    any failure to start in time to answer with an error instead of a cut-off download."""
    dialect = session.get_bind().dialect.name
    sqlite = dialect == "sqlite"
    # Core through the session's connection: plain rows, no ORM result machinery per row. The
    # review's id comes with each row (a join on its primary key), so the stream stays one
    # query read in batches. PostgreSQL writes most of each line itself.
    if sqlite:
        result = session.connection().execute(_export_query(filters, dialect).execution_options(
            yield_per=STREAM_BATCH, stream_results=True))
        partitions = result.partitions()
    else:
        # Streamed until a row's time needs Python's formatting (never, in practice).
        result = batches(session, _postgresql_query(filters, fmt), AuditEvent.id, STREAM_BATCH,
                         lambda row: row[1] is not None)
        partitions = (batch for batch, _ in result)
        opening = next(partitions, None)  # the query runs now, before the first chunk
        partitions = itertools.chain([] if opening is None else [opening], partitions)

    def lines(batch: Sequence[Sequence[Any]]) -> Iterator[str]:
        if not sqlite:
            yield from _postgresql_lines(session, fmt, batch, counter)
            return
        line = _jsonl_line if fmt == "jsonl" else _csv_line
        for row in batch:
            counter[0] += 1
            yield line(session, row, sqlite)

    with closing(result):
        if fmt == "csv":
            header = io.StringIO()
            csv.writer(header).writerow(CSV_COLUMNS)
            yield header.getvalue()
        first = fmt == "jsonl"
        for batch in partitions:
            chunk = lines(batch)
            if first:  # the first JSON line alone, at once
                first = False
                yield next(chunk)
            yield "".join(chunk)


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
