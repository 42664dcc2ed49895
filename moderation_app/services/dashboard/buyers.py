"""The buyers signal: buyers whose reviews at least BUYER_MIN_SELLERS different sellers reported in
the period (requests submitted in it), most sellers first, then most requests, then username.

Distinct sellers per buyer have no rollup smaller than the requests themselves (a million-request
desk held 90,000 (buyer, seller) pairs in 30 days, 100 ms to group on either database), but the
period's hours before the current one rarely change. So the leaders of those past hours are kept,
per process and database, with the sum of request_hour_changes over the hours (it only grows, and
grows with any write that moves a request's time, buyer or seller: models/counters.py); while the
sum holds they are still exact, and only the buyers reported in the current hour are recomputed,
over the whole period, from ix_deletion_requests_buyer_submitted. Each new hour counts its past
once.

The merge is exact: a buyer not reported this hour has the figures the kept answer gave them, and
the kept answer holds every buyer ranked in the first SIGNAL_ROWS of the past hours (ties
included); a buyer reported this hour has only gained. Two statements when the kept answer holds
(the sum with this hour's figures, then the usernames), one more when it does not.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import CompoundSelect, Engine, bindparam, distinct, func, literal, select, union_all

from moderation_app.database import UTCDateTime
from moderation_app.extensions import db
from moderation_app.models.counters import RequestHourChanges
from moderation_app.models.marketplace import Buyer
from moderation_app.models.requests import DeletionRequest
from moderation_app.services.dashboard.period import Period

SIGNAL_ROWS = 10
BUYER_MIN_SELLERS = 2
# Periods whose past hours' leaders one process keeps (the dashboard's few usual periods).
KEPT_PERIODS = 64

Figures = tuple[int, int]   # (sellers, requests)


@dataclass(frozen=True)
class BuyerSignal:
    buyer_id: int
    username: str
    sellers: int
    requests: int


@dataclass(frozen=True)
class _Kept:
    changes: int
    leaders: dict[int, Figures]


class _KeptLeaders:
    """A bounded map (start, end of the past hours) -> _Kept, shared by the process's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[datetime, datetime], _Kept] = OrderedDict()

    def get(self, key: tuple[datetime, datetime]) -> _Kept | None:
        with self._lock:
            kept = self._entries.get(key)
            if kept is not None:
                self._entries.move_to_end(key)
            return kept

    def put(self, key: tuple[datetime, datetime], kept: _Kept) -> None:
        with self._lock:
            self._entries[key] = kept
            self._entries.move_to_end(key)
            while len(self._entries) > KEPT_PERIODS:
                self._entries.popitem(last=False)


# One per engine (each app has its own database), dropped with it.
_KEPT: weakref.WeakKeyDictionary[Engine, _KeptLeaders] = weakref.WeakKeyDictionary()
_KEPT_LOCK = threading.Lock()


def _kept_leaders() -> _KeptLeaders:
    engine = db.engine
    with _KEPT_LOCK:
        kept = _KEPT.get(engine)
        if kept is None:
            kept = _KEPT[engine] = _KeptLeaders()
        return kept


def _per_buyer(start, end, *conditions):
    """(buyer_id, sellers, requests) of the buyers with requests in [start, end) reported by at
    least BUYER_MIN_SELLERS sellers."""
    sellers = func.count(distinct(DeletionRequest.seller_id))
    return (select(DeletionRequest.buyer_id.label("buyer_id"), sellers.label("sellers"),
                   func.count().label("requests"))
            .where(DeletionRequest.submitted_at >= start, DeletionRequest.submitted_at < end,
                   *conditions)
            .group_by(DeletionRequest.buyer_id)
            .having(sellers >= BUYER_MIN_SELLERS))


def _leaders(start: datetime, end: datetime) -> dict[int, Figures]:
    """The buyers ranked in the first SIGNAL_ROWS of [start, end), ties included."""
    grouped = _per_buyer(start, end).subquery()
    ranked = select(grouped, func.rank().over(
        order_by=(grouped.c.sellers.desc(), grouped.c.requests.desc())).label("position")).subquery()
    rows = db.session.execute(select(ranked.c.buyer_id, ranked.c.sellers, ranked.c.requests)
                              .where(ranked.c.position <= SIGNAL_ROWS))
    return {buyer: (int(sellers), int(requests)) for buyer, sellers, requests in rows}


@lru_cache(maxsize=4)
def _changes_and_now_statement(past: bool, now: bool) -> CompoundSelect:
    """Built once per shape, its values bound."""
    start, end = bindparam("start", type_=UTCDateTime), bindparam("end", type_=UTCDateTime)
    parts = []
    if past:
        parts.append(select(literal("changes").label("kind"), literal(0).label("buyer_id"),
                            func.coalesce(func.sum(RequestHourChanges.changes), 0).label("sellers"),
                            literal(0).label("requests"))
                     .where(RequestHourChanges.hour >= start,
                            RequestHourChanges.hour < bindparam("past_end", type_=UTCDateTime)))
    if now:
        recent = (select(DeletionRequest.buyer_id)
                  .where(DeletionRequest.submitted_at >= bindparam("past_end", type_=UTCDateTime),
                         DeletionRequest.submitted_at < end))
        figures = _per_buyer(start, end, DeletionRequest.buyer_id.in_(recent)).subquery()
        parts.append(select(literal("now"), figures.c.buyer_id, figures.c.sellers,
                            figures.c.requests))
    return union_all(*parts)


def _changes_and_now(period: Period, past_end: datetime) -> tuple[int, dict[int, Figures]]:
    """One statement: the sum of changes over the past hours [start, past_end), and the whole
    period's figures of the buyers reported from past_end on (ix_deletion_requests_submitted_
    buyer_seller finds them, ix_deletion_requests_buyer_submitted reads their period)."""
    statement = _changes_and_now_statement(past_end > period.start, period.end > past_end)
    values = {"start": period.start, "end": period.end, "past_end": past_end}
    changes, recent = 0, {}
    for kind, buyer, sellers, requests in db.session.execute(statement, values):
        if kind == "changes":
            changes = int(sellers)
        else:
            recent[buyer] = (int(sellers), int(requests))
    return changes, recent


def _first(figures: dict[int, Figures]) -> dict[int, Figures]:
    """The buyers ranked in the first SIGNAL_ROWS by (sellers, requests), ties included."""
    ordered = sorted(figures.values(), reverse=True)
    if len(ordered) <= SIGNAL_ROWS:
        return figures
    last = ordered[SIGNAL_ROWS - 1]
    return {buyer: value for buyer, value in figures.items() if value >= last}


def reported_buyers(period: Period, now: datetime) -> list[BuyerSignal]:
    # The past: the period's whole hours before the current one.
    past_end = max(period.start, min(period.end, now.replace(minute=0, second=0, microsecond=0)))
    changes, recent = _changes_and_now(period, past_end)
    figures: dict[int, Figures] = {}
    if past_end > period.start:
        key = (period.start, past_end)
        kept = _kept_leaders().get(key)
        if kept is None or kept.changes != changes:
            # Counted after the sum was read: a write landing in between makes the sum stale,
            # never the answer, so the next view recounts.
            kept = _Kept(changes, _leaders(period.start, past_end))
            _kept_leaders().put(key, kept)
        figures.update(kept.leaders)
    figures.update(recent)
    chosen = _first(figures)
    if not chosen:
        return []
    names = dict(db.session.execute(select(Buyer.id, Buyer.username)
                                    .where(Buyer.id.in_(sorted(chosen)))).all())
    ordered = sorted(chosen.items(), key=lambda item: (-item[1][0], -item[1][1], names[item[0]]))
    return [BuyerSignal(buyer, names[buyer], sellers, requests)
            for buyer, (sellers, requests) in ordered[:SIGNAL_ROWS]]
