"""Reuse marked on each file when it is stored, through the seller's real upload forms: a file (or
picture) that another request already had is marked, one that only its own request had is not;
and filing copies the review's buyer onto the request. The dashboard reads both."""

from __future__ import annotations

from datetime import UTC, datetime

from moderation_app.extensions import db
from moderation_app.models import DeletionRequest, Evidence, Review
from tests.helpers.images import encode, image_bytes, picture
from tests.helpers.marketplace import add_review
from tests.helpers.requests import answer, ask_for_information, file_request
from tests.helpers.stored import evidence_rows

SCREENSHOT = (image_bytes("PNG", seed=5), "chat.png")


def marks(app, request_id: int) -> list[tuple[bool, bool]]:
    """(sha256_reused, phash_reused) of the request's files, in upload order."""
    return [(row.sha256_reused, row.phash_reused) for row in evidence_rows(app)
            if row.request_id == request_id]


def test_a_file_another_request_already_has_is_marked_reused_by_both_hashes(app, seller,
                                                                            seller_client):
    first = file_request(seller_client, add_review(app, seller), files=[SCREENSHOT])
    second = file_request(seller_client, add_review(app, seller), files=[SCREENSHOT])

    assert marks(app, first) == [(False, False)]
    assert marks(app, second) == [(True, True)]


def test_the_same_picture_re_encoded_is_marked_by_its_perceptual_hash_only(app, seller,
                                                                          seller_client):
    first = file_request(seller_client, add_review(app, seller), files=[SCREENSHOT])
    touched = picture(seed=5)
    touched.putpixel((0, 0), (244, 245, 245))   # invisible: other bytes, the same picture
    second = file_request(seller_client, add_review(app, seller),
                          files=[(encode(touched, "PNG"), "chat-again.png")])

    rows = {row.request_id: row for row in evidence_rows(app)}
    assert rows[first].perceptual_hash == rows[second].perceptual_hash
    assert rows[first].sha256 != rows[second].sha256
    assert marks(app, second) == [(False, True)]


def test_new_pictures_are_not_marked(app, seller, seller_client):
    first = file_request(seller_client, add_review(app, seller), files=[SCREENSHOT])
    second = file_request(seller_client, add_review(app, seller),
                          files=[(image_bytes("PNG", seed=6), "other.png")])

    assert marks(app, first) == [(False, False)]
    assert marks(app, second) == [(False, False)]


def test_a_file_repeated_within_one_request_is_not_reuse(app, seller, agent, seller_client):
    request_id = file_request(seller_client, add_review(app, seller),
                              files=[SCREENSHOT, SCREENSHOT])
    ask_for_information(app, request_id, agent)

    assert answer(seller_client, request_id, files=[SCREENSHOT]).status_code == 303

    assert marks(app, request_id) == [(False, False)] * 3


def test_a_file_in_an_answer_is_marked_when_another_request_had_it(app, seller, agent,
                                                                   seller_client):
    earlier = file_request(seller_client, add_review(app, seller), files=[SCREENSHOT])
    request_id = file_request(seller_client, add_review(app, seller),
                              files=[(image_bytes("PNG", seed=6), "other.png")])
    ask_for_information(app, request_id, agent)

    assert answer(seller_client, request_id, files=[SCREENSHOT]).status_code == 303

    assert marks(app, earlier) == [(False, False)]
    assert marks(app, request_id) == [(False, False), (True, True)]


def test_a_file_stored_long_ago_still_marks_its_copy(app, seller, other_seller, seller_client,
                                                     other_seller_client):
    old = file_request(seller_client, add_review(app, seller), files=[SCREENSHOT])
    with app.app_context():
        for row in db.session.scalars(db.select(Evidence).where(Evidence.request_id == old)):
            row.created_at = datetime(2024, 1, 1, tzinfo=UTC)
        db.session.commit()

    new = file_request(other_seller_client, add_review(app, other_seller), files=[SCREENSHOT])

    assert marks(app, new) == [(True, True)]


def test_filing_copies_the_reviews_buyer_onto_the_request(app, seller, seller_client):
    request_id = file_request(seller_client, add_review(app, seller, buyer="troll"))

    with app.app_context():
        request = db.session.get(DeletionRequest, request_id)
        review = db.session.get(Review, request.review_id)
        assert request.buyer_id == review.buyer_id
        assert request.buyer.username == "troll"
