"""How transactions begin on SQLite, so a team can work at once (PostgreSQL needs none of this).

SQLite has one writer at a time. A transaction that reads and then writes ("deferred") fails at
once with "database is locked" when another writer committed in between: no busy timeout helps.
One that starts with BEGIN IMMEDIATE queues for the write lock instead, as Django 5.1
("transaction_mode": "IMMEDIATE") and Rails 8 do. So requests that change things (POST) begin
IMMEDIATE; pages (GET, HEAD) read in deferred transactions, which never wait in WAL mode, and
write, when they must (an expired session, the record of an export), in writing().

A POST view that does slow work before it knows what it writes (checking a password, ~0.1 s of
scrypt) is marked @reads_first: it reads in a deferred transaction and writes in writing(), so
sign-ins do not queue behind each other's password checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from flask import current_app, has_request_context, request

from moderation_app.extensions import db

View = TypeVar("View", bound=Callable[..., object])

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READS_FIRST_ATTRIBUTE = "reads_first"
_forced: ContextVar[bool | None] = ContextVar("begin_immediate", default=None)


def reads_first(view: View) -> View:
    setattr(view, READS_FIRST_ATTRIBUTE, True)
    return view


def begins_immediately() -> bool:
    """Whether the transaction about to begin should take the write lock now."""
    forced = _forced.get()
    if forced is not None:
        return forced
    if not has_request_context():
        return True  # the CLI, demo data, scripts: they are there to write
    if request.method in SAFE_METHODS:
        return False
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return not getattr(view, READS_FIRST_ATTRIBUTE, False)


def in_writing() -> bool:
    """Inside a writing() block."""
    return _forced.get() is True


@contextmanager
def writing() -> Iterator[None]:
    """A write transaction of its own: the read in progress ends first (there is nothing in it
    to keep), and what the block does begins IMMEDIATE. The block commits."""
    if db.session().in_transaction():
        db.session.commit()
    token = _forced.set(True)
    try:
        yield
    finally:
        _forced.reset(token)


@contextmanager
def reading() -> Iterator[None]:
    """Transactions begun in the block are deferred, also outside a request: a job's long read
    (an export) that runs beside its own short writes (progress) must not hold the write lock."""
    token = _forced.set(False)
    try:
        yield
    finally:
        _forced.reset(token)
