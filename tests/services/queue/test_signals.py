"""The context beside a deletion request: seller history, buyer profile, re-used evidence."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from flask import Flask
from sqlalchemy import event, select

from moderation_app.extensions import db
from moderation_app.models.evidence import Evidence, hamming_distance
from moderation_app.models.marketplace import Review
from moderation_app.models.requests import DeletionRequest, Reason, RequestStatus
from moderation_app.models.users import Role, User
from moderation_app.services.accounts import create_user
from moderation_app.services.marketplace.importer import ImportStats, apply_batch, parsed_batches
from moderation_app.services.queue import signals as context
from moderation_app.services.queue.signals import (
    GUARANTEED_DISTANCE,
    IDENTICAL,
    MAX_MATCHES_PER_FILE,
    NEAR_DUPLICATE_DISTANCE,
    SIMILAR,
    request_signals,
)

# Old on purpose: the buyer's window must be anchored on the review, not on today.
REVIEWED_AT = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
BASE_HASH = "c3a5f00f5a3c0ff0"
LOW = (1, 2, 1)
HIGH = (5, 5, 4)


def flipped(perceptual_hash: str, *bits: int) -> str:
    return f"{int(perceptual_hash, 16) ^ sum(1 << bit for bit in bits):016x}"


def bits_in_bands(*per_band: int) -> list[int]:
    """Bit positions flipping `per_band[k]` bits in band k (band 0 holds the top 16 bits)."""
    return [(3 - band) * 16 + offset for band, flips in enumerate(per_band) for offset in range(flips)]


class Desk:
    """Builds marketplace data through the importer and requests and files as rows."""

    def __init__(self) -> None:
        self._numbers = count(1)

    def seller(self, name: str) -> User:
        return create_user(f"{name}@example.com", Role.SELLER)

    def review(self, seller: User, buyer: str = "nightowl7", stars: tuple[int, int, int] = LOW,
               at: datetime = REVIEWED_AT) -> Review:
        number = next(self._numbers)
        line = {
            "review_id": f"R-{number}", "order_id": f"O-{number}", "order_status": "finished",
            "offer_id": f"OF-{seller.id}", "offer_title": "Valorant rank boost",
            "seller_email": seller.email, "buyer": buyer,
            "ratings": dict(zip(("fulfillment", "start_time", "communication"), stars, strict=True)),
            "text": "Terrible.", "created_at": at.isoformat(),
        }
        stats = ImportStats()

        def reject(line_number: int, message: str) -> None:
            raise AssertionError(f"test line {line_number} rejected: {message}")

        for batch in parsed_batches(enumerate([json.dumps(line).encode()], 1), stats, reject):
            apply_batch(batch, stats, reject)
        assert stats.imported == 1
        return db.session.scalar(select(Review).where(Review.external_id == f"R-{number}"))

    def request(self, review: Review, seller: User | None = None,
                status: RequestStatus = RequestStatus.SUBMITTED,
                submitted_at: datetime | None = None) -> DeletionRequest:
        deletion_request = DeletionRequest(
            review=review, seller=seller or review.seller, reason=Reason.COMPETITOR_ATTACK,
            explanation="This buyer works for a competing shop.", review_snapshot={}, status=status,
            submitted_at=submitted_at or REVIEWED_AT + timedelta(days=1),
        )
        db.session.add(deletion_request)
        db.session.flush()
        return deletion_request

    def requested(self, seller: User, **kwargs) -> DeletionRequest:
        """A request by `seller` on a fresh review of theirs."""
        review_kwargs = {key: kwargs.pop(key) for key in ("buyer", "stars", "at") if key in kwargs}
        return self.request(self.review(seller, **review_kwargs), **kwargs)

    def evidence(self, deletion_request: DeletionRequest, perceptual_hash: str = BASE_HASH,
                 sha256: str | None = None) -> Evidence:
        number = next(self._numbers)
        file = Evidence(
            request=deletion_request, uploaded_by=deletion_request.seller,
            original_filename="chat.png", stored_name=f"{number:032x}.png",
            thumbnail_name=f"{number:032x}.thumb.jpg", format="PNG", width=800, height=600,
            byte_size=12345, sha256=sha256 or f"{number:064x}", perceptual_hash=perceptual_hash,
        )
        db.session.add(file)
        db.session.flush()
        return file


@pytest.fixture
def desk(app: Flask) -> Iterator[Desk]:
    with app.app_context():
        yield Desk()


# --- seller history ----------------------------------------------------------------------------

def test_seller_history_counts_every_status_of_the_sellers_other_requests(desk):
    seller, rival = desk.seller("seller"), desk.seller("rival")
    for status in (RequestStatus.APPROVED, RequestStatus.APPROVED, RequestStatus.REJECTED,
                   RequestStatus.WITHDRAWN, RequestStatus.NEEDS_INFO):
        desk.requested(seller, status=status)
    desk.requested(rival, status=RequestStatus.SUBMITTED)
    current = desk.requested(seller)

    history = request_signals(current).seller_history

    assert history.counts == {"submitted": 0, "needs_info": 1, "approved": 2, "rejected": 1,
                              "withdrawn": 1, "appealed": 0}


def test_seller_history_approval_rate_is_approved_over_decided(desk):
    seller = desk.seller("seller")
    for status in (RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.REJECTED,
                   RequestStatus.REJECTED, RequestStatus.WITHDRAWN, RequestStatus.SUBMITTED):
        desk.requested(seller, status=status)
    current = desk.requested(seller)

    assert request_signals(current).seller_history.approval_rate == 0.25


def test_seller_history_approval_rate_is_none_without_decided_requests(desk):
    seller = desk.seller("seller")
    desk.requested(seller, status=RequestStatus.WITHDRAWN)
    desk.requested(seller, status=RequestStatus.NEEDS_INFO)
    # The current request is decided, and still does not count.
    current = desk.requested(seller, status=RequestStatus.APPROVED)

    history = request_signals(current).seller_history

    assert history.approval_rate is None
    assert history.counts["approved"] == 0


def test_seller_history_lists_the_ten_latest_other_requests_newest_first(desk):
    seller, rival = desk.seller("seller"), desk.seller("rival")
    start = REVIEWED_AT + timedelta(days=2)
    mine = [desk.requested(seller, status=RequestStatus.REJECTED, submitted_at=start + timedelta(hours=hour))
            for hour in range(12)]
    desk.requested(rival, submitted_at=start + timedelta(days=5))
    # Newer than all the others, yet not part of its own history.
    current = desk.requested(seller, submitted_at=start + timedelta(days=3))

    recent = request_signals(current).seller_history.recent

    assert [request.id for request in recent] == [request.id for request in reversed(mine[2:])]


def test_seller_without_other_requests_has_an_empty_history(desk):
    current = desk.requested(desk.seller("seller"))

    history = request_signals(current).seller_history

    assert history.counts == {status.value: 0 for status in RequestStatus}
    assert history.recent == []
    assert history.approval_rate is None


# --- buyer profile -----------------------------------------------------------------------------

def test_buyer_profile_counts_all_the_buyers_reviews_hidden_ones_included(desk):
    seller, other = desk.seller("seller"), desk.seller("other")
    reviewed = desk.review(seller, stars=(1, 2, 1))
    desk.review(other, stars=(5, 5, 4), at=REVIEWED_AT - timedelta(days=400))
    desk.review(other, stars=(3, 3, 3), at=REVIEWED_AT + timedelta(days=10))
    desk.review(seller, stars=(2, 1, 1)).is_visible = False
    desk.review(seller, buyer="somebody_else", stars=(5, 5, 5))
    current = desk.request(reviewed)

    buyer = request_signals(current).buyer

    assert buyer.username == "nightowl7"
    assert buyer.review_count == 4
    assert buyer.other_review_count == 3
    assert buyer.average_stars == 2.58  # 31 stars over 12 ratings


def test_buyer_average_is_the_mean_of_the_three_criteria_rounded_to_two_decimals(desk):
    seller = desk.seller("seller")
    current = desk.request(desk.review(seller, stars=(5, 4, 4)))

    assert request_signals(current).buyer.average_stars == 4.33


def test_low_reviews_are_counted_in_the_30_days_up_to_the_reviewed_review(desk):
    seller, b, c, d = (desk.seller(name) for name in ("seller", "b", "c", "d"))
    reviewed = desk.review(seller, stars=LOW)
    desk.review(b, stars=LOW, at=REVIEWED_AT - timedelta(days=29))
    desk.review(c, stars=(2, 2, 2), at=REVIEWED_AT - timedelta(days=30))  # average exactly 2
    desk.review(d, stars=LOW, at=REVIEWED_AT - timedelta(days=30, seconds=1))
    desk.review(d, stars=LOW, at=REVIEWED_AT + timedelta(seconds=1))
    desk.review(d, stars=(2, 2, 3), at=REVIEWED_AT - timedelta(days=1))  # average 2.33: not low
    current = desk.request(reviewed)

    buyer = request_signals(current).buyer

    assert buyer.low_reviews_last_30_days == 3
    assert buyer.sellers_hit_last_30_days == 3


def test_reviewed_review_that_is_not_low_is_not_counted_as_low(desk):
    seller, other = desk.seller("seller"), desk.seller("other")
    reviewed = desk.review(seller, stars=(3, 3, 3))
    desk.review(other, stars=LOW, at=REVIEWED_AT - timedelta(days=3))
    current = desk.request(reviewed)

    buyer = request_signals(current).buyer

    assert (buyer.low_reviews_last_30_days, buyer.sellers_hit_last_30_days) == (1, 1)


@pytest.mark.parametrize(("earlier_low_review_sellers", "burst"), [
    (["other", "other"], True),          # 3 low reviews across 2 sellers
    (["other", "third"], True),
    (["seller", "seller"], False),       # 3 low reviews, all on one seller
    (["other"], False),                  # 2 sellers, only 2 low reviews
])
def test_burst_needs_three_low_reviews_across_two_sellers(desk, earlier_low_review_sellers, burst):
    sellers = {name: desk.seller(name) for name in ("seller", "other", "third")}
    reviewed = desk.review(sellers["seller"], stars=LOW)
    for days, name in enumerate(earlier_low_review_sellers, 1):
        desk.review(sellers[name], stars=LOW, at=REVIEWED_AT - timedelta(days=days))
    current = desk.request(reviewed)

    assert request_signals(current).buyer.burst is burst


def test_low_reviews_outside_the_window_make_no_burst(desk):
    seller, other, third = desk.seller("seller"), desk.seller("other"), desk.seller("third")
    reviewed = desk.review(seller, stars=LOW)
    desk.review(other, stars=LOW, at=REVIEWED_AT - timedelta(days=40))
    desk.review(third, stars=LOW, at=REVIEWED_AT + timedelta(days=2))
    current = desk.request(reviewed)

    buyer = request_signals(current).buyer

    assert buyer.low_reviews_last_30_days == 1
    assert buyer.burst is False


def test_other_sellers_requesting_are_counted_distinct_without_the_requester(desk):
    seller, b, c, d = (desk.seller(name) for name in ("seller", "b", "c", "d"))
    old = REVIEWED_AT - timedelta(days=200)
    desk.requested(b, stars=HIGH, at=old, status=RequestStatus.REJECTED)
    desk.requested(b, stars=HIGH, at=old, status=RequestStatus.APPROVED)
    desk.requested(c, stars=HIGH, at=old, status=RequestStatus.WITHDRAWN)
    desk.requested(seller, stars=HIGH, at=old, status=RequestStatus.REJECTED)
    desk.requested(d, buyer="somebody_else")
    current = desk.requested(seller)

    buyer = request_signals(current).buyer

    assert buyer.other_sellers_requesting == 2
    assert buyer.requests_on_buyer == 3
    assert buyer.burst is True


def test_one_other_seller_requesting_makes_no_burst(desk):
    seller, other = desk.seller("seller"), desk.seller("other")
    desk.requested(other, stars=HIGH, at=REVIEWED_AT - timedelta(days=200))
    desk.requested(other, stars=HIGH, at=REVIEWED_AT - timedelta(days=100),
                   status=RequestStatus.REJECTED)
    current = desk.requested(seller)

    buyer = request_signals(current).buyer

    assert (buyer.other_sellers_requesting, buyer.requests_on_buyer) == (1, 2)
    assert buyer.burst is False


# --- evidence ----------------------------------------------------------------------------------

def test_identical_file_in_another_sellers_request_is_matched(desk):
    seller, other = desk.seller("seller"), desk.seller("other")
    current = desk.requested(seller)
    mine = desk.evidence(current, sha256="a" * 64)
    theirs = desk.evidence(desk.requested(other, buyer="someone"), sha256="a" * 64)

    [match] = request_signals(current).evidence_matches

    assert (match.evidence, match.other, match.kind, match.distance) == (mine, theirs, IDENTICAL, 0)
    assert match.same_seller is False
    assert match.other.request.seller_id == other.id


def test_identical_file_in_the_sellers_own_earlier_request_is_marked_same_seller(desk):
    seller = desk.seller("seller")
    earlier = desk.requested(seller, status=RequestStatus.WITHDRAWN)
    desk.evidence(earlier, sha256="a" * 64)
    current = desk.requested(seller)
    desk.evidence(current, sha256="a" * 64)

    [match] = request_signals(current).evidence_matches

    assert match.same_seller is True


@pytest.mark.parametrize("flips", [
    (0, 1, 0, 0),
    (3, 0, 0, 0),
    (1, 1, 1, 0),
    (6, 0, 0, 0),
    (2, 2, 2, 0),
    (1, 1, 1, 1),   # distance 4 with no band left equal: found through the one-bit neighbours
    (2, 2, 1, 1),   # distance 6, likewise
    (0, 0, 0, 16),  # a whole band different, three equal
], ids=lambda flips: "-".join(map(str, flips)))
def test_similar_file_within_the_distance_is_found(desk, flips):
    seller, other = desk.seller("seller"), desk.seller("other")
    near_hash = flipped(BASE_HASH, *bits_in_bands(*flips))
    current = desk.requested(seller)
    desk.evidence(current, BASE_HASH)
    theirs = desk.evidence(desk.requested(other, buyer="someone"), near_hash)
    distance = sum(flips)
    assert hamming_distance(BASE_HASH, near_hash) == distance

    matches = request_signals(current).evidence_matches

    if distance <= NEAR_DUPLICATE_DISTANCE:
        assert [(match.other, match.kind, match.distance) for match in matches] == [
            (theirs, SIMILAR, distance)]
    else:
        assert matches == []


@pytest.mark.parametrize("flips", [(7, 0, 0, 0), (2, 2, 2, 1), (2, 2, 2, 2), (16, 16, 16, 16)],
                         ids=lambda flips: "-".join(map(str, flips)))
def test_file_beyond_the_distance_is_not_matched(desk, flips):
    seller, other = desk.seller("seller"), desk.seller("other")
    current = desk.requested(seller)
    desk.evidence(current, BASE_HASH)
    desk.evidence(desk.requested(other, buyer="someone"), flipped(BASE_HASH, *bits_in_bands(*flips)))

    assert request_signals(current).evidence_matches == []


def test_band_lookup_finds_every_hash_up_to_distance_7_and_not_all_beyond(desk, monkeypatch):
    # What the threshold may be raised to without losing matches, and why not further.
    assert NEAR_DUPLICATE_DISTANCE <= GUARANTEED_DISTANCE == 7
    monkeypatch.setattr(context, "NEAR_DUPLICATE_DISTANCE", 8)
    seller, other = desk.seller("seller"), desk.seller("other")
    current = desk.requested(seller)
    desk.evidence(current, BASE_HASH)
    at_seven = desk.evidence(desk.requested(other, buyer="a"), flipped(BASE_HASH, *bits_in_bands(2, 2, 2, 1)))
    desk.evidence(desk.requested(other, buyer="b"), flipped(BASE_HASH, *bits_in_bands(2, 2, 2, 2)))

    matches = request_signals(current).evidence_matches

    assert [(match.other, match.distance) for match in matches] == [(at_seven, 7)]


def test_files_of_the_same_request_never_match_each_other(desk):
    seller = desk.seller("seller")
    current = desk.requested(seller)
    desk.evidence(current, BASE_HASH, sha256="a" * 64)
    desk.evidence(current, BASE_HASH, sha256="a" * 64)
    desk.evidence(current, flipped(BASE_HASH, 1))

    assert request_signals(current).evidence_matches == []


def test_matches_come_identical_first_then_nearest_then_other_sellers_first(desk):
    seller, other = desk.seller("seller"), desk.seller("other")
    current = desk.requested(seller)
    first = desk.evidence(current, BASE_HASH, sha256="a" * 64)
    second = desk.evidence(current, "0123456789abcdef")

    def elsewhere(owner: User, perceptual_hash: str, sha256: str | None = None) -> Evidence:
        return desk.evidence(desk.requested(owner, status=RequestStatus.REJECTED), perceptual_hash, sha256)

    far_similar = elsewhere(other, flipped(BASE_HASH, 1, 20, 40, 60, 62))
    own_identical = elsewhere(seller, BASE_HASH, "a" * 64)
    near_similar_of_second = elsewhere(other, flipped("0123456789abcdef", 3))
    other_identical = elsewhere(other, BASE_HASH, "a" * 64)
    own_near_similar = elsewhere(seller, flipped(BASE_HASH, 7, 8))
    other_near_similar = elsewhere(other, flipped(BASE_HASH, 9, 33))
    elsewhere(other, "fedcba9876543210")

    matches = request_signals(current).evidence_matches

    assert [(match.evidence, match.other, match.kind, match.distance, match.same_seller)
            for match in matches] == [
        (first, other_identical, IDENTICAL, 0, False),
        (first, own_identical, IDENTICAL, 0, True),
        (second, near_similar_of_second, SIMILAR, 1, False),
        (first, other_near_similar, SIMILAR, 2, False),
        (first, own_near_similar, SIMILAR, 2, True),
        (first, far_similar, SIMILAR, 5, False),
    ]


def test_matches_are_capped_per_file_keeping_the_strongest(desk):
    seller, other = desk.seller("seller"), desk.seller("other")
    current = desk.requested(seller)
    mine = desk.evidence(current, BASE_HASH, sha256="a" * 64)
    lone = desk.evidence(current, "0123456789abcdef")
    similar = [desk.evidence(desk.requested(other, status=RequestStatus.REJECTED), flipped(BASE_HASH, bit))
               for bit in range(MAX_MATCHES_PER_FILE)]
    identical = [desk.evidence(desk.requested(other, status=RequestStatus.REJECTED), BASE_HASH, "a" * 64)
                 for _ in range(3)]
    lone_match = desk.evidence(desk.requested(other, status=RequestStatus.REJECTED), "0123456789abcdee")

    matches = request_signals(current).evidence_matches

    of_mine = [match for match in matches if match.evidence == mine]
    assert len(of_mine) == MAX_MATCHES_PER_FILE
    assert {match.other for match in of_mine if match.kind == IDENTICAL} == set(identical)
    assert len({match.other for match in of_mine if match.kind == SIMILAR} & set(similar)) == 7
    assert [match.other for match in matches if match.evidence == lone] == [lone_match]


def test_nearest_files_survive_the_ranking_pool_cut_not_the_newest(desk, monkeypatch):
    monkeypatch.setattr(context, "RANKING_POOL", 2)
    seller, other = desk.seller("seller"), desk.seller("other")
    current = desk.requested(seller)
    desk.evidence(current, BASE_HASH)
    nearest, middle = (desk.evidence(desk.requested(other, status=RequestStatus.REJECTED),
                                     flipped(BASE_HASH, *range(flips))) for flips in (1, 3))
    desk.evidence(desk.requested(other, status=RequestStatus.REJECTED), flipped(BASE_HASH, *range(5)))

    matches = request_signals(current).evidence_matches

    assert [(match.other, match.distance) for match in matches] == [(nearest, 1), (middle, 3)]


def test_request_without_files_has_no_matches(desk):
    seller, other = desk.seller("seller"), desk.seller("other")
    desk.evidence(desk.requested(other, buyer="someone"))

    assert request_signals(desk.requested(seller)).evidence_matches == []


# --- cost --------------------------------------------------------------------------------------

def count_statements(function) -> int:
    statements = []

    def record(*_args) -> None:
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        function()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return len(statements)


def render_like_the_agent_page(deletion_request: DeletionRequest) -> None:
    found = request_signals(deletion_request)
    for match in found.evidence_matches:
        assert match.other.request.seller.email
    for earlier in found.seller_history.recent:
        assert earlier.reason and earlier.status


def test_number_of_queries_does_not_grow_with_the_data(desk):
    seller, other = desk.seller("seller"), desk.seller("other")
    current = desk.requested(seller)
    desk.evidence(current, BASE_HASH, sha256="a" * 64)
    desk.evidence(desk.requested(other, buyer="b"), BASE_HASH, sha256="a" * 64)
    db.session.flush()
    db.session.expire_all()
    small = count_statements(lambda: render_like_the_agent_page(current))

    for number in range(12):
        desk.requested(seller, status=RequestStatus.REJECTED)
        desk.requested(other, status=RequestStatus.APPROVED)
        desk.review(other, stars=LOW, at=REVIEWED_AT - timedelta(days=number))
        reuser = desk.seller(f"reuser{number}")
        desk.evidence(desk.requested(reuser, status=RequestStatus.REJECTED), flipped(BASE_HASH, number),
                      sha256="a" * 64 if number % 2 else None)
    db.session.flush()
    db.session.expire_all()
    large = count_statements(lambda: render_like_the_agent_page(current))

    assert large == small
