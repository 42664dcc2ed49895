"""What an agent sees beside a deletion request to decide it: the seller's other requests, the
buyer's reviewing pattern, and evidence files that turned up in other requests.

Everything comes from a fixed handful of aggregate or indexed queries, as many whatever the
request's files and their matches (the files' lookups go in one UNION ALL). Their cost follows one seller's requests, one buyer's reviews and the files whose hashes
share a band neighbourhood, never the size of the tables; no row list is loaded whole, nothing is
written.

Windows, thresholds and guarantees:

* The buyer's "last 30 days" are the 30 days up to and including the moment the reviewed review was
  written, not the 30 days before today: a request filed or decided months later is judged on the
  buyer's behaviour at the time. The reviewed review itself counts when it is a low one.
* A low review averages at most 2 stars over the three criteria (total at most 6).
* Burst (the competitor-attack hint): at least BURST_LOW_REVIEWS low reviews across at least
  BURST_SELLERS_HIT sellers in that window, or at least BURST_OTHER_SELLERS_REQUESTING other sellers
  having asked to delete this buyer's reviews.
* Evidence: a file of another request is "identical" with the same SHA-256, "similar" with a
  perceptual hash within NEAR_DUPLICATE_DISTANCE bits. Candidates come from the four indexed 16-bit
  band columns, each looked up with its own value and the 16 values one bit away. Two hashes within
  distance 7 always agree on some band to within one bit (if all four bands differed in two bits
  or more, the distance would be at least 8), so every file within NEAR_DUPLICATE_DISTANCE is a
  candidate; exact band equality alone would miss about 40% of pairs at distance 6. The price is
  17 times as many candidates (about a thousand per file at a million files with evenly spread
  hashes); each is one narrow row, filtered here with hamming_distance.
* Caps: at most CANDIDATE_LIMIT candidates (the newest) are checked per file, so the guarantee holds
  unless that many files crowd the bands; at most MAX_MATCHES_PER_FILE matches are kept per file:
  identical first, then the nearest, and at equal distance files of other sellers before the
  seller's own (reuse across sellers is the strongest signal), chosen among the file's RANKING_POOL
  nearest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    Subquery,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import joinedload

from moderation_app.extensions import db
from moderation_app.models.counters import SellerRequestCount
from moderation_app.models.evidence import Evidence, hamming_distance, phash_bands
from moderation_app.models.marketplace import Buyer, Review
from moderation_app.models.requests import DeletionRequest, RequestStatus
from moderation_app.services.marketplace.ratings import rounded_mean

RECENT_REQUESTS = 10

BUYER_WINDOW = timedelta(days=30)
LOW_REVIEW_MAX_TOTAL = 6  # the three criteria together: an average of 2 stars or less
BURST_LOW_REVIEWS = 3
BURST_SELLERS_HIT = 2
BURST_OTHER_SELLERS_REQUESTING = 2

NEAR_DUPLICATE_DISTANCE = 6
# The band lookup below finds every hash within this distance; keep NEAR_DUPLICATE_DISTANCE at or below.
GUARANTEED_DISTANCE = 7
MAX_MATCHES_PER_FILE = 10
# A safety valve for crowded bands (blank or near-blank screenshots hash alike); at a million files
# with evenly spread hashes a file has about a thousand candidates.
CANDIDATE_LIMIT = 5000
# Per file, the nearest this many matches are ranked with the seller tie-break before the cut.
RANKING_POOL = 10 * MAX_MATCHES_PER_FILE

IDENTICAL = "identical"
SIMILAR = "similar"

_BAND_COLUMNS = (Evidence.phash_band_0, Evidence.phash_band_1, Evidence.phash_band_2,
                 Evidence.phash_band_3)


@dataclass(frozen=True)
class SellerHistory:
    """The seller's other requests (this one excluded)."""

    counts: dict[str, int]              # by status value, every status present
    recent: list[DeletionRequest]       # the last RECENT_REQUESTS, newest first
    approval_rate: float | None         # approved / (approved + rejected); None if none decided


@dataclass(frozen=True)
class BuyerProfile:
    username: str
    review_count: int                   # every review of the buyer's, visible or not
    other_review_count: int             # without the review under request
    average_stars: float | None         # over all three criteria of all the buyer's reviews
    low_reviews_last_30_days: int       # in the window ending at the reviewed review
    sellers_hit_last_30_days: int       # distinct sellers among those low reviews
    other_sellers_requesting: int       # distinct sellers other than the requester, any status
    requests_on_buyer: int              # their requests on this buyer's reviews
    burst: bool


@dataclass(frozen=True)
class EvidenceMatch:
    evidence: Evidence                  # a file of this request
    other: Evidence                     # a file of another request
    kind: str                           # IDENTICAL or SIMILAR
    distance: int                       # Hamming distance of the perceptual hashes; 0 if identical
    same_seller: bool                   # the other request is the same seller's


@dataclass(frozen=True)
class RequestSignals:
    seller_history: SellerHistory
    buyer: BuyerProfile
    evidence_matches: list[EvidenceMatch]


def request_signals(deletion_request: DeletionRequest,
                    files: list[Evidence] | None = None) -> RequestSignals:
    """`files`: the request's evidence, when the caller has loaded it already. The seller's and
    the buyer's figures come in one statement (see _figures)."""
    figures = _figures(deletion_request)
    return RequestSignals(
        seller_history=seller_history(deletion_request, figures),
        buyer=buyer_profile(deletion_request, figures),
        evidence_matches=evidence_matches(deletion_request, files),
    )


def _figures(deletion_request: DeletionRequest) -> Row:
    """One row: the seller's requests per status (a column per status), then the buyer's
    figures (see buyer_profile): three one-row subqueries, joined."""
    seller = _seller_counts(deletion_request)
    reviews, requests = _buyer_figures(deletion_request)
    return db.session.execute(
        select(seller, reviews, requests)
        .select_from(seller.join(reviews, true()).join(requests, true()))).one()


# --- the seller ---------------------------------------------------------------------------------

def _seller_counts(deletion_request: DeletionRequest) -> Subquery:
    # From the seller's counters (kept by the database): counting the rows took 380 ms for a
    # seller with a hundred thousand requests.
    return select(*(
        func.coalesce(func.sum(case((SellerRequestCount.status == status.value,
                                     SellerRequestCount.requests))), 0).label(status.value)
        for status in RequestStatus
    )).where(SellerRequestCount.seller_id == deletion_request.seller_id).subquery()


def seller_history(deletion_request: DeletionRequest, figures: Row) -> SellerHistory:
    others = (DeletionRequest.seller_id == deletion_request.seller_id,
              DeletionRequest.id != deletion_request.id)
    # The seller's counts, less this request.
    counts = {status.value: int(getattr(figures, status.value)) for status in RequestStatus}
    counts[deletion_request.status.value] -= 1
    recent = list(db.session.scalars(
        select(DeletionRequest).where(*others)
        .order_by(DeletionRequest.submitted_at.desc(), DeletionRequest.id.desc())
        .limit(RECENT_REQUESTS)
    ))
    decided = counts[RequestStatus.APPROVED] + counts[RequestStatus.REJECTED]
    return SellerHistory(
        counts=counts,
        recent=recent,
        approval_rate=counts[RequestStatus.APPROVED] / decided if decided else None,
    )


# --- the buyer ----------------------------------------------------------------------------------

def _buyer_figures(deletion_request: DeletionRequest) -> tuple[Subquery, Subquery]:
    """A pass over the buyer's reviews through ix_reviews_buyer_created, and the other sellers'
    requests on them: two one-row subqueries."""
    review = deletion_request.review
    total = Review.rating_fulfillment + Review.rating_start_time + Review.rating_communication
    low_in_window = and_(
        total <= LOW_REVIEW_MAX_TOTAL,
        Review.created_at >= review.created_at - BUYER_WINDOW,
        Review.created_at <= review.created_at,
    )
    reviews = select(
        func.count().label("review_count"),
        func.sum(total).label("star_total"),
        func.count(case((low_in_window, 1))).label("low_reviews"),
        func.count(case((low_in_window, Review.seller_id)).distinct()).label("sellers_hit"),
    ).where(Review.buyer_id == review.buyer_id).subquery()
    requests = (
        select(func.count(DeletionRequest.id).label("requests_on_buyer"),
               func.count(DeletionRequest.seller_id.distinct()).label("other_sellers"))
        .join(Review, DeletionRequest.review_id == Review.id)
        .where(Review.buyer_id == review.buyer_id,
               DeletionRequest.seller_id != deletion_request.seller_id)
    ).subquery()
    return reviews, requests


def buyer_profile(deletion_request: DeletionRequest, figures: Row) -> BuyerProfile:
    review = deletion_request.review
    review_count, star_total, low_reviews, sellers_hit = (
        figures.review_count, figures.star_total, figures.low_reviews, figures.sellers_hit)
    requests_on_buyer, other_sellers = figures.requests_on_buyer, figures.other_sellers
    return BuyerProfile(
        username=db.session.get_one(Buyer, review.buyer_id).username,
        review_count=review_count,
        other_review_count=review_count - 1,
        average_stars=rounded_mean(star_total, 3 * review_count) if review_count else None,
        low_reviews_last_30_days=low_reviews,
        sellers_hit_last_30_days=sellers_hit,
        other_sellers_requesting=other_sellers,
        requests_on_buyer=requests_on_buyer,
        burst=is_burst(low_reviews, sellers_hit, other_sellers),
    )


def is_burst(low_reviews: int, sellers_hit: int, other_sellers_requesting: int) -> bool:
    return ((low_reviews >= BURST_LOW_REVIEWS and sellers_hit >= BURST_SELLERS_HIT)
            or other_sellers_requesting >= BURST_OTHER_SELLERS_REQUESTING)


# --- the evidence -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Hit:
    file: Evidence
    other_id: int
    other_request_id: int
    kind: str
    distance: int


def _within_one_bit(band: int) -> list[int]:
    return [band, *(band ^ (1 << bit) for bit in range(16))]


def _near_band(perceptual_hash: str) -> ColumnElement[bool]:
    return or_(*(column.in_(_within_one_bit(band))
                 for column, band in zip(_BAND_COLUMNS, phash_bands(perceptual_hash), strict=True)))


def _lookups(file: Evidence) -> list[Select]:
    """The file's two indexed lookups: the newest RANKING_POOL files with its SHA-256 in other
    requests, and the newest CANDIDATE_LIMIT files in its bands' neighbourhood. Narrow columns
    of the files alone, tagged with the file and the kind: most candidates are too far, so their
    requests' sellers are read only for the pools (a primary-key probe per candidate was most
    of the statement's time on PostgreSQL)."""
    elsewhere = Evidence.request_id != file.request_id
    columns = (literal(file.id).label("file_id"), Evidence.id, Evidence.request_id,
               Evidence.perceptual_hash)
    joined = select(*columns)
    identical = (joined.add_columns(literal(IDENTICAL).label("kind"))
                 .where(Evidence.sha256 == file.sha256, elsewhere)
                 .order_by(Evidence.id.desc()).limit(RANKING_POOL))
    similar = (joined.add_columns(literal(SIMILAR).label("kind"))
               .where(_near_band(file.perceptual_hash), Evidence.sha256 != file.sha256, elsewhere)
               .order_by(Evidence.id.desc()).limit(CANDIDATE_LIMIT))
    return [identical, similar]


def _pools(files: list[Evidence]) -> dict[int, list[_Hit]]:
    """Each file's RANKING_POOL nearest files in other requests: every file's lookups in one
    statement (a UNION ALL of them), so the page's statements do not grow with its files."""
    lookups = [lookup.subquery().select() for file in files for lookup in _lookups(file)]
    by_id = {file.id: file for file in files}
    identical: dict[int, list[_Hit]] = {file.id: [] for file in files}
    similar: dict[int, list[_Hit]] = {file.id: [] for file in files}
    for file_id, other_id, request_id, other_hash, kind in db.session.execute(union_all(*lookups)):
        file = by_id[file_id]
        if kind == IDENTICAL:
            identical[file_id].append(_Hit(file, other_id, request_id, IDENTICAL, 0))
            continue
        distance = hamming_distance(file.perceptual_hash, other_hash)
        if distance <= NEAR_DUPLICATE_DISTANCE:
            similar[file_id].append(_Hit(file, other_id, request_id, SIMILAR, distance))
    pools = {}
    for file in files:
        near = sorted(similar[file.id], key=lambda hit: (hit.distance, -hit.other_id))
        newest_identical = sorted(identical[file.id], key=lambda hit: -hit.other_id)
        pools[file.id] = (newest_identical + near)[:RANKING_POOL]
    return pools


def evidence_matches(deletion_request: DeletionRequest,
                     files: list[Evidence] | None = None) -> list[EvidenceMatch]:
    """Three statements whatever the files and their matches (two when `files`, the request's
    evidence, is given): the files, every file's candidates, and the pools' files with their
    requests and sellers (the ranking's tie-break and the page need the seller)."""
    if files is None:
        files = list(db.session.scalars(
            select(Evidence).where(Evidence.request_id == deletion_request.id).order_by(Evidence.id)))
    pools = _pools(files) if files else {}
    others = {
        other.id: other
        for other in db.session.scalars(
            select(Evidence).where(Evidence.id.in_({hit.other_id for pool in pools.values() for hit in pool}))
            .options(joinedload(Evidence.request).joinedload(DeletionRequest.seller)))
    }

    def same_seller(hit: _Hit) -> bool:
        return others[hit.other_id].request.seller_id == deletion_request.seller_id

    def rank(hit: _Hit) -> tuple[bool, int, bool, int, int]:
        return (hit.kind != IDENTICAL, hit.distance, same_seller(hit), hit.file.id, -hit.other_id)

    hits = sorted((hit for pool in pools.values()
                   for hit in sorted(pool, key=rank)[:MAX_MATCHES_PER_FILE]), key=rank)
    return [EvidenceMatch(hit.file, others[hit.other_id], hit.kind, hit.distance, same_seller(hit))
            for hit in hits]
