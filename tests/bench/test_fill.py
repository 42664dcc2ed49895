"""bench/fill.py, the benchmarks' one filler, at a small size on the test database: the mix it
promises, accounts that sign in through the real form, and its refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from bench.fill import (
    BENCH_AGENT,
    BENCH_MANAGER,
    BENCH_SELLER,
    FillRefused,
    FillSize,
    bench_password,
    fill_database,
)
from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models.evidence import Evidence
from moderation_app.models.marketplace import Review
from moderation_app.models.requests import DecisionRecord, DeletionRequest, RequestStatus
from moderation_app.models.users import Role, User
from moderation_app.services.requests.filing import review_snapshot
from tests.helpers.clients import page_text

PASSWORD = "bench password for the tests"
SIZE = FillSize(requests=2_000, open=400, appealed=30, sellers=50, buyers=500, agents=4,
                big_seller_reviews=3_000)


@pytest.fixture
def filled(app: Flask) -> Flask:
    with app.app_context():
        fill_database(SIZE, PASSWORD, log=lambda _line: None)
    return app


def count(*where, of=DeletionRequest) -> int:
    return db.session.scalar(select(func.count()).select_from(of).where(*where))


def test_fill_builds_the_queue_benchmarks_mix(filled: Flask) -> None:
    with filled.app_context():
        by_status = dict(db.session.execute(
            select(DeletionRequest.status, func.count()).group_by(DeletionRequest.status)).all())
        assert sum(by_status.values()) == SIZE.requests
        assert by_status[RequestStatus.SUBMITTED] + by_status[RequestStatus.NEEDS_INFO] == SIZE.open
        assert 0 < by_status[RequestStatus.NEEDS_INFO] < by_status[RequestStatus.SUBMITTED]
        assert by_status[RequestStatus.APPEALED] == SIZE.appealed
        closed = SIZE.requests - SIZE.open - SIZE.appealed
        decided = by_status[RequestStatus.APPROVED] + by_status[RequestStatus.REJECTED]
        assert decided + by_status[RequestStatus.WITHDRAWN] == closed
        assert by_status[RequestStatus.REJECTED] > by_status[RequestStatus.APPROVED] \
            > by_status[RequestStatus.WITHDRAWN] > 0

        open_ones = DeletionRequest.status.in_(["submitted", "needs_info", "appealed"])
        with_evidence = select(Evidence.request_id).distinct()
        assert count(open_ones, DeletionRequest.id.not_in(with_evidence)) == 0
        assert count(~open_ones, DeletionRequest.id.in_(with_evidence)) == 0

        now = utcnow()
        claimed = count(DeletionRequest.assignee_id.is_not(None))
        live = count(DeletionRequest.lease_expires_at > now)
        assert 0 < live < claimed
        assert count(DeletionRequest.assignee_id.is_not(None), ~open_ones) == 0

        # One approve or reject per decided request (appeals: the rejection appealed), one
        # request_info per request waiting for the seller; the deciders are agents.
        assert count(of=DecisionRecord) == decided + by_status[RequestStatus.APPEALED] \
            + by_status[RequestStatus.NEEDS_INFO]
        assert count(DecisionRecord.agent_id.not_in(select(User.id).where(User.role == Role.AGENT)),
                     of=DecisionRecord) == 0
        appealed = db.session.scalars(select(DeletionRequest).where(
            DeletionRequest.status == RequestStatus.APPEALED)).all()
        window = timedelta(days=14)
        assert all(request.first_decided_by_id == request.decided_by_id is not None
                   and request.decided_at < request.appealed_at <= request.decided_at + window
                   and request.appealed_at < now for request in appealed)

        # The rating's inputs: an approved request's review is hidden.
        hidden = count(Review.is_visible.is_(False), of=Review)
        assert hidden == by_status[RequestStatus.APPROVED]


def test_fill_gives_the_bench_seller_the_big_review_count(filled: Flask) -> None:
    with filled.app_context():
        seller = db.session.scalar(select(User).where(User.email == BENCH_SELLER))
        assert count(Review.seller_id == seller.id, of=Review) == SIZE.big_seller_reviews
        assert count(DeletionRequest.seller_id == seller.id) == SIZE.requests // 200


@pytest.mark.parametrize(("email", "page"), [
    (BENCH_AGENT, "/queue"), (BENCH_MANAGER, "/dashboard"), (BENCH_SELLER, "/seller/reviews")])
def test_bench_accounts_sign_in_through_the_form(filled: Flask, email: str, page: str) -> None:
    client = filled.test_client()
    assert client.sign_in(email, "not the bench password").status_code == 200
    assert client.sign_in(email, PASSWORD).status_code == 302
    response = client.get(page)
    assert response.status_code == 200, page_text(response)[:500]


def test_fill_refuses_a_database_that_holds_requests(filled: Flask) -> None:
    with filled.app_context():
        with pytest.raises(FillRefused, match="already holds 2,000 rows in deletion_requests"):
            fill_database(SIZE, PASSWORD, log=lambda _line: None)
        assert count() == SIZE.requests


@pytest.mark.parametrize(("environ", "message"), [
    ({}, "set BENCH_PASSWORD"), ({"BENCH_PASSWORD": ""}, "set BENCH_PASSWORD"),
    ({"BENCH_PASSWORD": "short"}, "at least 12 characters")])
def test_fill_refuses_to_run_without_a_usable_password(environ: dict, message: str) -> None:
    with pytest.raises(FillRefused, match=message):
        bench_password(environ)


def test_fill_leaves_the_request_counters_exact(filled: Flask) -> None:
    # On PostgreSQL the fill switches the counter triggers off for its COPY and recounts after.
    counters = pytest.importorskip("moderation_app.services.counters")
    with filled.app_context():
        assert counters.drift().exact
        assert sum(counters.counts().values()) == SIZE.requests


def test_every_request_carries_the_snapshot_the_pages_read(filled: Flask) -> None:
    with filled.app_context():
        request = db.session.scalar(select(DeletionRequest).order_by(DeletionRequest.id.desc()))
        snapshot, review = request.review_snapshot, request.review
        assert set(snapshot) == set(review_snapshot(review))
        assert (snapshot["review_id"], snapshot["order_id"], snapshot["offer_id"], snapshot["buyer"]) == (
            review.external_id, review.order.external_id, review.order.offer.external_id,
            review.buyer.username)
    # The agent's page renders it.
    client = filled.test_client()
    assert client.sign_in(BENCH_AGENT, PASSWORD).status_code == 302
    assert client.get(f"/requests/{request.id}").status_code == 200
