"""queue_page() without HTTP: evidence counts, ages against the response target, who holds a
request while its lease runs, keyset pages that cover every row exactly once, the cursor format, and
a fixed number of queries per page. The queue page itself is tested in tests/views/staff/test_queue.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import event

from moderation_app.extensions import db
from moderation_app.models.requests import DeletionRequest, RequestStatus
from moderation_app.models.users import Role, User
from moderation_app.services.keyset import decode_cursor, encode_cursor
from moderation_app.services.queue.listing import QueueFilters, queue_page
from tests.helpers.accounts import make_user
from tests.helpers.queue import BAD_CURSORS, queued_request

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
TARGET = timedelta(hours=48)


def service_page(app: Flask, viewer_id: int, filters: QueueFilters = QueueFilters(),
                 cursor: str | None = None, page_size: int = 25, now: datetime = NOW):
    with app.app_context():
        viewer = db.session.get(User, viewer_id)
        return queue_page(filters, viewer, cursor, page_size, now, TARGET)


def ids_of(page) -> list[int]:
    return [row.request.id for row in page.rows]


@dataclass
class QueryLog:
    statements: list[str]


@contextmanager
def counted_queries() -> Iterator[QueryLog]:
    log = QueryLog([])

    def record(conn, cursor, statement, parameters, context, executemany):
        log.statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield log
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


# --- rows ------------------------------------------------------------------------------------------

def test_evidence_is_counted_per_request(app, seller_id):
    agent_id = make_user(app, "agent@example.com", Role.AGENT).id
    three = queued_request(app, seller_id, NOW - timedelta(hours=3), evidence=3)
    none = queued_request(app, seller_id, NOW - timedelta(hours=2), evidence=0)
    one = queued_request(app, seller_id, NOW - timedelta(hours=1), evidence=1)
    page = service_page(app, agent_id)
    assert {row.request.id: row.evidence_count for row in page.rows} == {three: 3, none: 0, one: 1}


def test_closed_request_age_is_the_time_it_took(app, seller_id):
    agent_id = make_user(app, "agent@example.com", Role.AGENT).id
    slow = queued_request(app, seller_id, NOW - timedelta(days=10), status=RequestStatus.REJECTED,
                          decided_at=NOW - timedelta(days=7))
    fast = queued_request(app, seller_id, NOW - timedelta(days=9), status=RequestStatus.REJECTED,
                          decided_at=NOW - timedelta(days=9) + timedelta(hours=5))
    page = service_page(app, agent_id, QueueFilters(status=RequestStatus.REJECTED))
    rows = {row.request.id: row for row in page.rows}
    assert rows[slow].age == timedelta(days=3) and rows[slow].overdue
    assert rows[fast].age == timedelta(hours=5) and not rows[fast].overdue


def test_withdrawn_request_age_runs_to_its_last_change(app, seller_id):
    # A withdrawal records no decided_at; the request's last change is when it closed.
    agent_id = make_user(app, "agent@example.com", Role.AGENT).id
    request_id = queued_request(app, seller_id, NOW - timedelta(days=5), status=RequestStatus.WITHDRAWN,
                                updated_at=NOW - timedelta(days=5) + timedelta(hours=50))
    page = service_page(app, agent_id, QueueFilters(status=RequestStatus.WITHDRAWN))
    assert ids_of(page) == [request_id]
    assert page.rows[0].age == timedelta(hours=50) and page.rows[0].overdue


# --- leases ----------------------------------------------------------------------------------------

def test_holder_email_is_set_only_while_the_lease_runs(app, seller_id, agent):
    queued_request(app, seller_id, NOW - timedelta(hours=2), assignee_id=agent.id,
                   lease_expires_at=NOW + timedelta(seconds=1))
    queued_request(app, seller_id, NOW - timedelta(hours=1), assignee_id=agent.id, lease_expires_at=NOW)
    page = service_page(app, agent.id)
    assert [row.holder_email for row in page.rows] == ["agent@example.com", None]


def test_a_lease_ending_this_instant_is_no_longer_held(app, seller_id, agent):
    request_id = queued_request(app, seller_id, NOW - timedelta(hours=1), assignee_id=agent.id,
                                lease_expires_at=NOW)
    assert ids_of(service_page(app, agent.id, QueueFilters(assignee="unassigned"))) == [request_id]
    assert ids_of(service_page(app, agent.id, QueueFilters(assignee="me"))) == []
    later = service_page(app, agent.id, QueueFilters(assignee="me"), now=NOW - timedelta(microseconds=1))
    assert ids_of(later) == [request_id]


# --- cursors and pages -----------------------------------------------------------------------------

def test_cursor_round_trips_and_is_opaque():
    moment = datetime(2026, 5, 4, 10, 30, 15, 123456, tzinfo=UTC)
    cursor = encode_cursor(moment, 42)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor)
    assert decode_cursor(cursor) == (moment, 42)
    assert decode_cursor(encode_cursor(moment.astimezone(UTC), 7)) == (moment, 7)


@pytest.mark.parametrize("raw", BAD_CURSORS)
def test_malformed_cursor_decodes_to_none(raw):
    assert decode_cursor(raw) is None


@pytest.mark.parametrize("status", [RequestStatus.SUBMITTED, RequestStatus.APPROVED])
@pytest.mark.parametrize("page_size", [1, 2, 3, 7, 8])
def test_keyset_pages_cover_every_row_exactly_once(app, seller_id, status, page_size):
    agent_id = make_user(app, "agent@example.com", Role.AGENT).id
    tie = NOW - timedelta(days=1)
    closed = status is not RequestStatus.SUBMITTED
    # Decided in the opposite order to submission, so the two keys cannot be confused.
    created = [queued_request(app, seller_id, tie - timedelta(hours=hours), status=status,
                              decided_at=NOW - timedelta(hours=40 - hours) if closed else None)
               for hours in (30, 20, 0, 0, 0, 0, 10, 5)]  # four rows share one submitted_at (and decided_at)
    filters = QueueFilters(status=status)
    seen, cursor, pages = [], None, 0
    while True:
        page = service_page(app, agent_id, filters, cursor, page_size)
        pages += 1
        assert len(page.rows) <= page_size
        seen += ids_of(page)
        cursor = page.next_cursor
        if cursor is None:
            break
        assert pages < 20
    with app.app_context():
        def key(request_id: int) -> tuple[datetime, int]:
            request = db.session.get(DeletionRequest, request_id)
            return (request.decided_at if closed else request.submitted_at), request_id
        by_time = sorted(created, key=key)
    assert seen == (by_time[::-1] if closed else by_time)
    assert len(set(seen)) == len(created)
    assert pages == -(-len(created) // page_size)


def test_a_page_costs_three_queries_whatever_its_size(app, seller_id, agent):
    colleague = make_user(app, "colleague@example.com", Role.AGENT)
    for number in range(12):
        queued_request(app, seller_id, NOW - timedelta(hours=number + 1), evidence=number % 3,
                       assignee_id=colleague.id if number % 2 else None,
                       lease_expires_at=NOW + timedelta(minutes=5) if number % 2 else None)
    costs = {}
    with app.app_context():
        viewer = db.session.get(User, agent.id)
        for size in (2, 12):
            db.session.expire_all()
            _ = viewer.id  # reloaded here, not counted below
            with counted_queries() as log:
                page = queue_page(QueueFilters(), viewer, None, size, NOW, TARGET)
                for row in page.rows:  # what the template touches
                    _ = (row.request.review.text, row.request.review.ratings, row.request.seller.email,
                         row.request.reason.label, row.holder_email, row.evidence_count, row.answered,
                         row.closed_by_email, page.counts_by_status, page.counts_by_reason)
            costs[size] = len(log.statements)
            assert not any(re.search(r"\bOFFSET\s+[1-9]", statement) for statement in log.statements)
        assert len(page.rows) == 12
    assert costs == {2: 3, 12: 3}
