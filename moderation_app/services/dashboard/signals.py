"""Signals for managers, from the period's requests and files (at most SIGNAL_ROWS rows each):

* top sellers: the sellers who filed the most requests in the period, with how many of those
  requests are approved or rejected now, and the approval rate among them;
* buyers: those whose reviews were reported by at least BUYER_MIN_SELLERS different sellers in
  the period (requests submitted in it), most sellers first;
* reused evidence: a SHA-256 (the same file) or perceptual hash (the same picture, re-encoded)
  of a file attached in the period that a file of another request, of any time, already had when
  it was stored; with how many requests carry it now (all files, of any time) and up to
  REUSED_REQUEST_IDS of those requests (the newest).

Reuse is marked on each file when it is stored (evidence.sha256_reused / phash_reused, see
services/requests/filing.py), so the dashboard reads only the period's few marked files (about 2%)
from partial indexes, then counts the requests of their hashes through the hash indexes: reuse of
a file older than the period is found too, without probing every file of the period. Two uploads
of the same new file at the same moment may miss each other and leave both unmarked; the request
page's own signals (services/queue/signals.py), computed when shown, still find them.

Top sellers come from the day rollup seller_day_requests (models/counters.py), in one statement;
the buyers from buyers.py (two or three); the files from ix_evidence_sha256_reused_created and
ix_evidence_phash_reused_created, then ix_evidence_sha256 and ix_evidence_perceptual_hash (one per
kind of hash).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal

from sqlalchemy import Date, Select, bindparam, func, select

from moderation_app.extensions import db
from moderation_app.models.counters import SellerDayRequests
from moderation_app.models.evidence import Evidence
from moderation_app.models.requests import RequestStatus
from moderation_app.models.users import User
from moderation_app.services.dashboard.activity import approval_rate
from moderation_app.services.dashboard.buyers import SIGNAL_ROWS, BuyerSignal, reported_buyers
from moderation_app.services.dashboard.period import Period
from moderation_app.services.dashboard.sql import sum_where

REUSED_MIN_REQUESTS = 2
REUSED_REQUEST_IDS = 5

HashKind = Literal["sha256", "phash"]


@dataclass(frozen=True)
class SellerSignal:
    user_id: int
    email: str
    requests: int
    approved: int
    rejected: int
    approval_rate: float | None


@dataclass(frozen=True)
class ReusedEvidence:
    kind: HashKind
    value: str
    requests: int
    request_ids: list[int]


@dataclass(frozen=True)
class Signals:
    top_sellers: list[SellerSignal]
    buyers: list[BuyerSignal]
    reused_evidence: list[ReusedEvidence]


@lru_cache(maxsize=1)
def _top_sellers_statement() -> Select:
    """Built once, its values bound."""
    days = SellerDayRequests
    per_seller = (select(days.seller_id.label("seller_id"),
                         func.sum(days.requests).label("requests"),
                         sum_where(days.status == RequestStatus.APPROVED, days.requests).label("approved"),
                         sum_where(days.status == RequestStatus.REJECTED, days.requests).label("rejected"))
                  .where(days.day >= bindparam("since", type_=Date),
                         days.day <= bindparam("until", type_=Date))
                  .group_by(days.seller_id)
                  .having(func.sum(days.requests) > 0).subquery())
    # Ranked before the emails are joined, as the buyers (buyers.py).
    ranked = select(per_seller, func.rank().over(
        order_by=per_seller.c.requests.desc()).label("position")).subquery()
    return (select(User.id, User.email, ranked.c.requests, ranked.c.approved, ranked.c.rejected)
            .join(ranked, ranked.c.seller_id == User.id)
            .where(ranked.c.position <= SIGNAL_ROWS)
            .order_by(ranked.c.requests.desc(), User.email).limit(SIGNAL_ROWS))


def top_sellers(period: Period) -> list[SellerSignal]:
    """From the day rollup seller_day_requests (a few thousand rows for 30 days of a
    million-request desk), which keeps each request under the status it has now."""
    rows = db.session.execute(_top_sellers_statement(),
                              {"since": period.since, "until": period.until}).all()
    return [SellerSignal(row.id, row.email, int(row.requests), int(row.approved),
                         int(row.rejected), approval_rate(int(row.approved), int(row.rejected)))
            for row in rows]


def reused_evidence(period: Period, kind: HashKind) -> list[ReusedEvidence]:
    """One statement per kind: the hashes of the period's files marked as reused (a partial
    index), the requests of every file with those hashes (the hash's index), the hashes on the
    most requests, then the newest requests of those few."""
    column, reused = ((Evidence.sha256, Evidence.sha256_reused) if kind == "sha256"
                      else (Evidence.perceptual_hash, Evidence.phash_reused))
    # `reused` as it stands, so SQLite renders "… = 1", the partial index's own condition.
    marked = (select(column.label("value"))
              .where(reused, Evidence.created_at >= period.start, Evidence.created_at < period.end)
              .distinct().cte("marked"))
    # Two plain GROUP BYs rather than count(DISTINCT …), which always makes PostgreSQL sort;
    # plain groups may be hashed instead.
    pairs = (select(column.label("value"), Evidence.request_id.label("request_id"))
             .where(column.in_(select(marked.c.value)))
             .group_by(column, Evidence.request_id).cte("pairs"))
    requests = func.count()
    strongest = (select(pairs.c.value, requests.label("requests"))
                 .group_by(pairs.c.value)
                 .having(requests >= REUSED_MIN_REQUESTS)
                 .order_by(requests.desc(), pairs.c.value).limit(SIGNAL_ROWS).cte("strongest"))
    newest = (select(pairs.c.value, pairs.c.request_id, func.row_number().over(
        partition_by=pairs.c.value, order_by=pairs.c.request_id.desc()).label("position"))
        .where(pairs.c.value.in_(select(strongest.c.value))).subquery())
    rows = db.session.execute(
        select(strongest.c.value, strongest.c.requests, newest.c.request_id)
        .join(newest, newest.c.value == strongest.c.value)
        .where(newest.c.position <= REUSED_REQUEST_IDS)
        .order_by(strongest.c.requests.desc(), strongest.c.value, newest.c.request_id.desc()))
    found: dict[str, ReusedEvidence] = {}
    for value, count, request_id in rows:
        entry = found.setdefault(value, ReusedEvidence(kind, value, count, []))
        entry.request_ids.append(request_id)
    return list(found.values())


def signals(period: Period, now: datetime) -> Signals:
    reused = reused_evidence(period, "sha256") + reused_evidence(period, "phash")
    reused.sort(key=lambda entry: (-entry.requests, entry.kind != "sha256", entry.value))
    return Signals(top_sellers=top_sellers(period), buyers=reported_buyers(period, now),
                   reused_evidence=reused[:SIGNAL_ROWS])
