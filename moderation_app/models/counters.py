"""Counts kept by the database: deletion requests per (status, reason), for the whole desk and per
seller, so the queue's tabs never count a million rows per page view; and each seller's rating
inputs, so the rating never reads every review.

The database keeps them: triggers on deletion_requests (migration d8e4f0a3c2b7) add and subtract
in the transaction of every insert, delete and change of status, reason or seller, whatever wrote
it (the ORM, Core, a bulk fill, a hand-written UPDATE). `flask --app wsgi counters rebuild`
recounts them from the rows (services/counters.py).

On SQLite a batch migration that recreates deletion_requests drops its triggers: such a migration
must create them again (tests/services/test_counters.py fails if a trigger is missing).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from moderation_app.database import UTCDateTime
from moderation_app.extensions import db


class RequestCount(db.Model):
    __tablename__ = "request_counts"

    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)


class SellerRequestCount(db.Model):
    __tablename__ = "seller_request_counts"

    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)


class SellerRatingTotals(db.Model):
    """Per seller, the visible reviews and the sums of their stars: the rating in one row.
    Kept by triggers on reviews (migration e9f1a4b5c6d8), like the request counters."""

    __tablename__ = "seller_ratings"

    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    reviews: Mapped[int] = mapped_column(Integer, default=0)
    fulfillment: Mapped[int] = mapped_column(BigInteger, default=0)
    start_time: Mapped[int] = mapped_column(BigInteger, default=0)
    communication: Mapped[int] = mapped_column(BigInteger, default=0)


class SellerDayRequests(db.Model):
    """Requests submitted on one UTC day to one seller, per status as it stands now: the
    dashboard's flow and top sellers for any period of whole days (migration d6e7f8a9b0c1, kept by
    triggers on deletion_requests like the counters above)."""

    __tablename__ = "seller_day_requests"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)


class AgentDayDecisions(db.Model):
    """Decisions one agent made on one UTC day, per reason and kind; `timed` of them have a claim
    time. Kept by triggers on decisions (migration d6e7f8a9b0c1)."""

    __tablename__ = "agent_day_decisions"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    decision: Mapped[str] = mapped_column(String(16), primary_key=True)
    decisions: Mapped[int] = mapped_column(Integer, default=0)
    timed: Mapped[int] = mapped_column(Integer, default=0)


class RequestHourChanges(db.Model):
    """Per UTC hour of submission, how many writes could have changed the dashboard's buyers
    signal for that hour (inserts, deletes, moves of a request's time, buyer or seller). It only
    grows, so the dashboard knows a kept answer for past hours is still true when the sum over
    those hours is unchanged (services/dashboard/buyers.py). Kept by triggers (migration
    e7f8a9b0c1d2)."""

    __tablename__ = "request_hour_changes"

    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    changes: Mapped[int] = mapped_column(BigInteger, default=0)
