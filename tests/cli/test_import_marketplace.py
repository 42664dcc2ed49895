"""`flask import-marketplace FILE`: JSON Lines reviews in, counts out, bad lines named on stderr."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from moderation_app.cli import marketplace as marketplace_cli
from moderation_app.extensions import db
from moderation_app.models.audit import AuditEvent
from moderation_app.models.marketplace import Buyer, Offer, Order, OrderStatus, Review
from moderation_app.models.users import Role, User
from moderation_app.services.marketplace import importer
from moderation_app.services.marketplace.importer import MAX_LINE_BYTES, apply_batch
from tests.helpers.accounts import PASSWORD, make_user
from tests.helpers.import_lines import REJECTED_LINES, encode, record, with_overrides, with_rating
from tests.helpers.requests import file_request

LOGIN_FAILED = b"Email or password is not correct."


def write_jsonl(path: Path, lines: list[dict[str, Any] | str | bytes]) -> Path:
    path.write_bytes(b"".join(encode(line) + b"\n" for line in lines))
    return path


def run_import(runner, path: Path):
    return runner.invoke(args=["import-marketplace", str(path)])


def import_lines(runner, tmp_path: Path, lines: list[dict[str, Any] | str | bytes],
                 name: str = "reviews.jsonl"):
    return run_import(runner, write_jsonl(tmp_path / name, lines))


def summary(result) -> str:
    return result.stdout.splitlines()[-1]


def review_ids(app) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(select(Review.external_id)))


def count(app, model: type) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def table_snapshot(app) -> dict[str, list[tuple]]:
    """Every marketplace row as plain tuples, to compare before and after a run."""
    with app.app_context():
        return {
            "users": db.session.execute(
                select(User.id, User.email, User.role, User.password_hash).order_by(User.id)).all(),
            "buyers": db.session.execute(select(Buyer.id, Buyer.username).order_by(Buyer.id)).all(),
            "offers": db.session.execute(
                select(Offer.id, Offer.external_id, Offer.title, Offer.seller_id).order_by(Offer.id)).all(),
            "orders": db.session.execute(
                select(Order.id, Order.external_id, Order.status, Order.offer_id, Order.buyer_id)
                .order_by(Order.id)).all(),
            "reviews": db.session.execute(
                select(Review.id, Review.external_id, Review.order_id, Review.seller_id, Review.buyer_id,
                       Review.rating_fulfillment, Review.rating_start_time, Review.rating_communication,
                       Review.text, Review.created_at, Review.is_visible, Review.imported_at)
                .order_by(Review.id)).all(),
        }


def stored_review(app, external_id: str) -> Review:
    with app.app_context():
        review = db.session.scalars(select(Review).where(Review.external_id == external_id)).one()
        # Loaded now, so the test can read them after the context ends.
        _ = review.order.offer.title, review.order.offer.seller.email, review.buyer.username
        db.session.expunge_all()
        return review


# --- importing valid lines ---------------------------------------------------------------------


def test_valid_lines_are_imported_and_the_summary_counts_them(app, runner, tmp_path):
    result = import_lines(runner, tmp_path, [
        record(1001),
        record(1002, order_status="refund", buyer="frostbyte21", text="Refunded, slow start.",
               ratings={"fulfillment": 1, "start_time": 2, "communication": 3}),
    ])

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout == "imported 2, updated 0, unchanged 0, rejected 0\n"
    review = stored_review(app, "R-1002")
    assert review.ratings == {"fulfillment": 1, "start_time": 2, "communication": 3}
    assert review.text == "Refunded, slow start."
    assert review.created_at == datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
    assert review.order.external_id == "O-1002"
    assert review.order.status is OrderStatus.REFUND
    assert review.order.offer.external_id == "OF-9"
    assert review.order.offer.title == "Valorant rank boost: Silver to Gold"
    assert review.buyer.username == "frostbyte21"
    assert review.is_visible is True
    assert review_ids(app) == {"R-1001", "R-1002"}
    assert count(app, Offer) == 1


@pytest.mark.parametrize("status", ["finished", "refund", "canceled"])
def test_each_reviewable_order_status_is_accepted(app, runner, tmp_path, status):
    result = import_lines(runner, tmp_path, [record(order_status=status)])

    assert result.exit_code == 0, result.output
    assert stored_review(app, "R-1001").order.status == OrderStatus(status)


def test_review_is_stored_with_the_seller_of_its_offer(app, runner, tmp_path, seller):
    # The email's capitalisation differs from the account's: it is still the same seller.
    result = import_lines(runner, tmp_path, [record(seller_email="Seller@Example.COM")])

    assert result.exit_code == 0, result.output
    review = stored_review(app, "R-1001")
    assert review.seller_id == seller.id
    assert review.order.offer.seller_id == seller.id
    assert count(app, User) == 1


def test_created_at_in_another_timezone_is_stored_in_utc(app, runner, tmp_path):
    result = import_lines(runner, tmp_path, [record(created_at="2026-10-01T14:30:00+02:00")])

    assert result.exit_code == 0, result.output
    assert stored_review(app, "R-1001").created_at == datetime(2026, 10, 1, 12, 30, tzinfo=UTC)


def test_a_review_a_few_hours_ahead_of_the_desks_clock_is_accepted(app, runner, tmp_path):
    # The marketplace's clock may run ahead of the desk's; a day is allowed for it.
    ahead = (datetime.now(UTC) + timedelta(hours=6)).replace(microsecond=0)
    result = import_lines(runner, tmp_path, [record(created_at=ahead.isoformat())])

    assert result.exit_code == 0, result.output
    assert stored_review(app, "R-1001").created_at == ahead


def test_imported_time_compares_equal_in_sql_to_the_same_time_written_by_the_app(app, runner, tmp_path):
    # The bulk path stages rows outside the ORM; on SQLite a time stored in another text form
    # would read back equal in Python yet fail every comparison in SQL (date filters, paging).
    result = import_lines(runner, tmp_path, [record(created_at="2026-10-01T14:30:00+02:00")])

    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalars(select(Review.external_id).where(
            Review.created_at == datetime(2026, 10, 1, 12, 30, tzinfo=UTC))).all() == ["R-1001"]


def test_last_line_without_a_newline_is_imported(app, runner, tmp_path):
    path = tmp_path / "reviews.jsonl"
    path.write_bytes(encode(record(1001)) + b"\n" + encode(record(1002)))

    result = run_import(runner, path)

    assert result.exit_code == 0, result.output
    assert review_ids(app) == {"R-1001", "R-1002"}


def test_reviews_can_be_piped_in_on_standard_input(app, runner):
    data = b"".join(encode(line) + b"\n" for line in [record(1001), record(1002)])

    result = runner.invoke(args=["import-marketplace", "-"], input=data)

    assert result.exit_code == 0, result.output
    assert summary(result) == "imported 2, updated 0, unchanged 0, rejected 0"
    assert review_ids(app) == {"R-1001", "R-1002"}


def test_missing_file_is_a_usage_error(app, runner, tmp_path):
    result = run_import(runner, tmp_path / "nowhere.jsonl")

    assert result.exit_code == 2
    assert "nowhere.jsonl" in result.stderr
    assert count(app, AuditEvent) == 0


# --- re-importing ------------------------------------------------------------------------------


def test_importing_the_same_file_twice_changes_nothing_the_second_time(app, runner, tmp_path):
    path = write_jsonl(tmp_path / "reviews.jsonl", [
        record(1001), record(1002, offer_id="OF-10", offer_title="Coaching", buyer="frostbyte21"),
    ])
    assert run_import(runner, path).exit_code == 0
    before = table_snapshot(app)

    result = run_import(runner, path)

    assert result.exit_code == 0, result.output
    assert result.stdout == "imported 0, updated 0, unchanged 2, rejected 0\n"
    assert table_snapshot(app) == before


def test_same_moment_in_another_timezone_counts_as_unchanged(app, runner, tmp_path):
    import_lines(runner, tmp_path, [record(created_at="2026-10-01T12:00:00Z")], "first.jsonl")

    result = import_lines(runner, tmp_path, [record(created_at="2026-10-01T15:00:00+03:00")],
                          "second.jsonl")

    assert summary(result) == "imported 0, updated 0, unchanged 1, rejected 0"


def _changed_ratings(line):
    line["ratings"] = {"fulfillment": 1, "start_time": 1, "communication": 1}


def _changed_text(line):
    line["text"] = "Edited by the buyer: actually great."


def _changed_status(line):
    line["order_status"] = "refund"


def _changed_title(line):
    line["offer_title"] = "Valorant rank boost: Gold to Platinum"


def _changed_created_at(line):
    line["created_at"] = "2026-10-02T08:00:00Z"


@pytest.mark.parametrize("change, stored", [
    (_changed_ratings, lambda review: review.ratings == {"fulfillment": 1, "start_time": 1,
                                                        "communication": 1}),
    (_changed_text, lambda review: review.text == "Edited by the buyer: actually great."),
    (_changed_status, lambda review: review.order.status is OrderStatus.REFUND),
    (_changed_title, lambda review: review.order.offer.title == "Valorant rank boost: Gold to Platinum"),
    (_changed_created_at, lambda review: review.created_at == datetime(2026, 10, 2, 8, 0, tzinfo=UTC)),
], ids=["ratings", "text", "order_status", "offer_title", "created_at"])
def test_changed_field_on_a_known_review_counts_as_updated_and_is_stored(app, runner, tmp_path,
                                                                         change, stored):
    other = record(1002, offer_id="OF-10", offer_title="Coaching")
    import_lines(runner, tmp_path, [record(1001), other], "first.jsonl")
    changed = record(1001)
    change(changed)
    assert not stored(stored_review(app, "R-1001"))

    result = import_lines(runner, tmp_path, [changed, other], "second.jsonl")

    assert result.exit_code == 0, result.output
    assert result.stdout == "imported 0, updated 1, unchanged 1, rejected 0\n"
    assert stored(stored_review(app, "R-1001"))
    assert review_ids(app) == {"R-1001", "R-1002"}
    assert count(app, Offer) == 2
    assert count(app, Order) == 2


def test_new_title_on_a_known_offer_updates_the_offer_for_all_its_reviews(app, runner, tmp_path):
    import_lines(runner, tmp_path, [record(1001), record(1002)], "first.jsonl")

    result = import_lines(runner, tmp_path, [record(1003, offer_title="Renamed offer")], "second.jsonl")

    # The new review is imported; the rename rides along with it.
    assert summary(result) == "imported 1, updated 0, unchanged 0, rejected 0"
    assert stored_review(app, "R-1001").order.offer.title == "Renamed offer"
    assert count(app, Offer) == 1


@pytest.mark.parametrize("second_line", [record(1001), record(1001, text="Changed text")],
                         ids=["unchanged", "updated"])
def test_hidden_review_stays_hidden_after_reimport(app, runner, tmp_path, second_line):
    import_lines(runner, tmp_path, [record(1001)], "first.jsonl")
    with app.app_context():
        review = db.session.scalars(select(Review).where(Review.external_id == "R-1001")).one()
        review.is_visible = False
        db.session.commit()

    result = import_lines(runner, tmp_path, [second_line], "second.jsonl")

    assert result.exit_code == 0, result.output
    review = stored_review(app, "R-1001")
    assert review.text == second_line["text"]
    assert review.is_visible is False


# --- sellers -----------------------------------------------------------------------------------


def test_unknown_seller_is_created_without_a_password_and_signs_in_once_one_is_set(app, runner,
                                                                                    tmp_path, client):
    result = import_lines(runner, tmp_path, [record(seller_email="New.Seller@Example.com")])
    assert result.exit_code == 0, result.output
    with app.app_context():
        seller = db.session.scalars(select(User).where(User.email == "new.seller@example.com")).one()
        assert seller.role is Role.SELLER
        assert seller.password_hash is None
        seller_id = seller.id
    assert stored_review(app, "R-1001").seller_id == seller_id

    refused = client.sign_in("new.seller@example.com", PASSWORD)
    assert refused.status_code == 200
    assert LOGIN_FAILED in refused.data

    set_result = runner.invoke(args=["users", "set-password", "new.seller@example.com",
                                     "--password-stdin"], input=PASSWORD + "\n")
    assert set_result.exit_code == 0, set_result.output

    signed_in = client.sign_in("new.seller@example.com", PASSWORD)
    assert signed_in.status_code == 302
    assert signed_in.headers["Location"] == "/seller/reviews"
    page = client.get("/seller/reviews")
    assert page.status_code == 200
    assert b"R-1001" in page.data


def test_seller_appearing_on_many_lines_is_created_once(app, runner, tmp_path):
    result = import_lines(runner, tmp_path, [
        record(1001), record(1002, offer_id="OF-10", offer_title="Coaching"), record(1003),
    ])

    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalars(select(User.email)).all() == ["s@example.com"]
        offers = db.session.scalars(select(Offer)).all()
        assert {offer.seller.email for offer in offers} == {"s@example.com"}


@pytest.mark.parametrize("role", [Role.AGENT, Role.MANAGER])
def test_seller_email_of_a_staff_account_is_rejected(app, runner, tmp_path, role):
    staff = make_user(app, "staff@example.com", role)

    result = import_lines(runner, tmp_path, [
        record(1001), record(1002, seller_email=staff.email, offer_id="OF-50"),
    ])

    assert result.exit_code == 1
    assert result.stderr == (
        f"line 2: seller_email staff@example.com belongs to a staff account ({role.value})\n")
    assert summary(result) == "imported 1, updated 0, unchanged 0, rejected 1"
    assert review_ids(app) == {"R-1001"}
    with app.app_context():
        assert db.session.scalars(select(Offer.external_id)).all() == ["OF-9"]
        assert db.session.get(User, staff.id).role is role


# --- conflicts ---------------------------------------------------------------------------------

CONFLICTS = [
    pytest.param(record(1002, seller_email="other@example.com"),
                 "offer OF-9 belongs to another seller", id="offer-owned-by-another-seller"),
    pytest.param(record(1002, order_id="O-1001", offer_id="OF-10", offer_title="Coaching"),
                 "order O-1001 belongs to another offer or buyer", id="order-on-another-offer"),
    pytest.param(record(1002, order_id="O-1001", buyer="someone_else"),
                 "order O-1001 belongs to another offer or buyer", id="order-of-another-buyer"),
    pytest.param(record(1001, order_id="O-2002"),
                 "review R-1001 belongs to another order", id="review-moved-to-another-order"),
]


@pytest.mark.parametrize("conflicting, reason", CONFLICTS)
def test_line_conflicting_with_an_earlier_import_is_rejected(app, runner, tmp_path, conflicting, reason):
    import_lines(runner, tmp_path, [record(1001)], "first.jsonl")
    before = table_snapshot(app)

    result = import_lines(runner, tmp_path, [conflicting], "second.jsonl")

    assert result.exit_code == 1
    assert result.stderr == f"line 1: {reason}\n"
    assert summary(result) == "imported 0, updated 0, unchanged 0, rejected 1"
    assert table_snapshot(app) == before


@pytest.mark.parametrize("conflicting, reason", CONFLICTS)
def test_line_conflicting_with_an_earlier_line_of_the_same_file_is_rejected(app, runner, tmp_path,
                                                                             conflicting, reason):
    result = import_lines(runner, tmp_path, [record(1001), conflicting, record(1003)])

    assert result.exit_code == 1
    assert result.stderr == f"line 2: {reason}\n"
    assert summary(result) == "imported 2, updated 0, unchanged 0, rejected 1"
    assert review_ids(app) == {"R-1001", "R-1003"}
    review = stored_review(app, "R-1001")
    assert (review.order.external_id, review.order.offer.external_id, review.buyer.username,
            review.order.offer.seller.email) == ("O-1001", "OF-9", "nightowl7", "s@example.com")
    with app.app_context():
        # Nothing of the rejected line was staged: no seller, offer or buyer of its own.
        assert db.session.scalars(select(User.email)).all() == ["s@example.com"]
        assert db.session.scalars(select(Offer.external_id)).all() == ["OF-9"]
        assert db.session.scalars(select(Buyer.username)).all() == ["nightowl7"]


# --- rejected lines ----------------------------------------------------------------------------


@pytest.mark.parametrize("bad_line, reason", REJECTED_LINES)
def test_bad_line_is_rejected_with_its_line_number_and_the_rest_imported(app, runner, tmp_path,
                                                                         bad_line, reason):
    result = import_lines(runner, tmp_path, [record(1001), bad_line, record(1003)])

    assert result.exit_code == 1
    assert result.stderr.startswith(f"line 2: {reason}"), result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stdout == "imported 2, updated 0, unchanged 0, rejected 1\n"
    assert review_ids(app) == {"R-1001", "R-1003"}


def test_every_bad_line_is_reported_in_file_order(app, runner, tmp_path):
    result = import_lines(runner, tmp_path, [
        record(1001),
        with_rating("fulfillment", 0),
        record(1003),
        b"not json",
        with_overrides(order_status="in_progress"),
        record(1006),
    ])

    assert result.exit_code == 1
    assert [line.split(":")[0] for line in result.stderr.splitlines()] == ["line 2", "line 4", "line 5"]
    assert summary(result) == "imported 3, updated 0, unchanged 0, rejected 3"
    assert review_ids(app) == {"R-1001", "R-1003", "R-1006"}


def test_file_with_only_bad_lines_imports_nothing_and_fails(app, runner, tmp_path):
    result = import_lines(runner, tmp_path, [b"{}", b"[]"])

    assert result.exit_code == 1
    assert summary(result) == "imported 0, updated 0, unchanged 0, rejected 2"
    assert count(app, Review) == 0
    assert count(app, User) == 0


def test_blank_lines_are_skipped_without_being_counted(app, runner, tmp_path):
    result = import_lines(runner, tmp_path, [b"", record(1001), b"   ", b"\t", record(1003), b"",
                                             with_rating("fulfillment", 9)])

    assert result.exit_code == 1
    assert summary(result) == "imported 2, updated 0, unchanged 0, rejected 1"
    # Line numbers are the file's own, blank lines included.
    assert result.stderr == "line 7: ratings.fulfillment is 9, outside 1-5\n"


def test_empty_file_imports_nothing_and_succeeds(app, runner, tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")

    result = run_import(runner, path)

    assert result.exit_code == 0
    assert result.stdout == "imported 0, updated 0, unchanged 0, rejected 0\n"


def _padded_to(size: int, number: int) -> bytes:
    """A valid line padded with JSON whitespace to exactly `size` bytes (newline not counted)."""
    line = encode(record(number))
    return line[:-1] + b" " * (size - len(line)) + b"}"


def test_line_over_64_kib_is_rejected_without_stopping_the_import(app, runner, tmp_path):
    result = import_lines(runner, tmp_path, [
        record(1001),
        _padded_to(MAX_LINE_BYTES + 1, 1002),
        encode(record(1003, text="x" * 9_000)) + b" " * (3 * MAX_LINE_BYTES),
        _padded_to(MAX_LINE_BYTES, 1004),
        record(1005),
    ])

    assert result.exit_code == 1
    assert result.stderr == ("line 2: line is longer than 65536 bytes\n"
                             "line 3: line is longer than 65536 bytes\n")
    assert summary(result) == "imported 3, updated 0, unchanged 0, rejected 2"
    # A line of exactly 64 KiB is still fine.
    assert review_ids(app) == {"R-1001", "R-1004", "R-1005"}


def test_oversized_last_line_without_a_newline_is_rejected(app, runner, tmp_path):
    path = tmp_path / "reviews.jsonl"
    path.write_bytes(encode(record(1001)) + b"\n" + _padded_to(MAX_LINE_BYTES + 10, 1002))

    result = run_import(runner, path)

    assert result.exit_code == 1
    assert result.stderr == "line 2: line is longer than 65536 bytes\n"
    assert review_ids(app) == {"R-1001"}


def test_utf_8_text_and_a_byte_order_mark_are_accepted(app, runner, tmp_path):
    result = import_lines(runner, tmp_path, [
        b"\xef\xbb\xbf" + encode(record(1001)),
        json.dumps(record(1002, text="Très bien 👍", buyer="Ñandú")).encode(),
        json.dumps(record(1003, text="素晴らしい"), ensure_ascii=False).encode(),
    ])

    assert result.exit_code == 0, result.output
    assert stored_review(app, "R-1002").text == "Très bien 👍"
    assert stored_review(app, "R-1002").buyer.username == "Ñandú"
    assert stored_review(app, "R-1003").text == "素晴らしい"


# --- review ids: each must make a working "Request deletion" link --------------------------------

UNROUTABLE_REVIEW_IDS = [
    pytest.param("XSS/2", id="slash"),
    pytest.param("..", id="dot-dot"),
    pytest.param(".", id="dot"),
    pytest.param(".hidden", id="leading-dot"),
    pytest.param("a b", id="space"),
    pytest.param("%2F", id="percent-encoded-slash"),
    pytest.param("R-1?x=1", id="question-mark"),
    pytest.param("R-1#top", id="hash"),
    pytest.param("R\\1", id="backslash"),
    pytest.param("R-1/../..", id="traversal"),
    pytest.param("Ré-1", id="non-ascii"),
    pytest.param("-R-1", id="leading-dash"),
]


@pytest.mark.parametrize("review_id", UNROUTABLE_REVIEW_IDS)
def test_review_id_that_cannot_be_part_of_a_link_is_rejected_with_its_line_number(
        app, runner, tmp_path, review_id):
    result = import_lines(runner, tmp_path, [record(1001), record(1002, review_id=review_id),
                                             record(1003)])

    assert result.exit_code == 1
    assert result.stderr == (f"line 2: review_id {review_id!r} cannot be part of a link: use ASCII "
                             "letters, digits and . _ : - (starting with a letter or digit)\n")
    assert summary(result) == "imported 2, updated 0, unchanged 0, rejected 1"
    assert review_ids(app) == {"R-1001", "R-1003"}


ROUTABLE_REVIEW_IDS = ["R-1001", "r_1002", "2026:R.7", "x..y", "1.", "Z", "A" * 64]


def test_every_accepted_review_id_opens_its_deletion_request_form(app, runner, tmp_path, seller,
                                                                  seller_client):
    lines = [record(number, review_id=review_id, seller_email=seller.email)
             for number, review_id in enumerate(ROUTABLE_REVIEW_IDS, 2001)]

    result = import_lines(runner, tmp_path, lines)

    assert result.exit_code == 0, result.output
    page = seller_client.get("/seller/reviews").get_data(as_text=True)
    links = re.findall(r'href="([^"]+)">Request deletion<', page)
    assert len(links) == len(ROUTABLE_REVIEW_IDS)
    for link in links:
        form = seller_client.get(link)
        assert form.status_code == 200, link
        assert "Request deletion of" in form.get_data(as_text=True)
    # And the seller can file one, not only see the form.
    assert file_request(seller_client, "2026:R.7") > 0


# --- audit -------------------------------------------------------------------------------------


def test_import_writes_an_audit_event_with_the_counts(app, runner, tmp_path):
    import_lines(runner, tmp_path, [record(1001)], "first.jsonl")
    path = write_jsonl(tmp_path / "second.jsonl", [
        record(1001, text="Changed"), record(1002), record(1003, seller_email="other@example.com",
                                                           offer_id="OF-77"),
        record(1004), b"nonsense",
    ])

    result = run_import(runner, path)

    assert summary(result) == "imported 3, updated 1, unchanged 0, rejected 1"
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "marketplace.imported").order_by(AuditEvent.id)
        ).all()
        assert len(events) == 2
        assert json.loads(events[-1].details) == {
            "file": str(path), "imported": 3, "updated": 1, "unchanged": 0, "rejected": 1,
            "sellers_created": 1,
        }
        assert json.loads(events[0].details)["sellers_created"] == 1
        assert events[-1].actor_role == "system"


def test_a_run_that_only_rejects_is_still_audited(app, runner, tmp_path):
    import_lines(runner, tmp_path, [b"[]"])

    with app.app_context():
        details = db.session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "marketplace.imported")).one()
    assert json.loads(details)["rejected"] == 1


# --- batches -----------------------------------------------------------------------------------

# Small batches, so a few thousand lines cross batch boundaries (the command's own are larger).
BATCH_SIZE = 1000


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(importer, "BATCH_SIZE", BATCH_SIZE)


def test_import_larger_than_one_batch_keeps_keys_consistent_across_batches(app, runner, tmp_path,
                                                                           small_batches):
    sellers = [f"seller{n}@example.com" for n in range(7)]

    def line(number: int, **overrides: Any) -> dict[str, Any]:
        # Offers, sellers and buyers recur all through the file, so later batches find
        # what earlier ones created instead of creating it again.
        offer = number % 20
        return record(number, offer_id=f"OF-{offer}", offer_title=f"Offer {offer}",
                      seller_email=sellers[offer % len(sellers)], buyer=f"buyer{number % 50}",
                      **overrides)

    lines: list[dict[str, Any] | bytes] = [line(n) for n in range(1, 2501)]
    lines[1499] = line(1)                                     # batch 2 repeats a review of batch 1
    lines[2099] = line(2, text="Edited in batch 3")           # batch 3 updates one of batch 1
    lines[2100] = line(2, text="Edited in batch 3")           # ... and repeats it at once
    lines[1999] = with_rating("fulfillment", 9)              # last line of batch 2 is bad
    lines[2499] = line(2501, order_id="O-3")                  # order of batch 1 on another offer

    result = import_lines(runner, tmp_path, lines)

    assert result.exit_code == 1
    assert summary(result) == "imported 2495, updated 1, unchanged 2, rejected 2"
    assert result.stderr == ("line 2000: ratings.fulfillment is 9, outside 1-5\n"
                             "line 2500: order O-3 belongs to another offer or buyer\n")
    assert count(app, Review) == 2495
    assert count(app, Offer) == 20
    assert count(app, Buyer) == 50
    assert count(app, User) == len(sellers)
    assert stored_review(app, "R-2").text == "Edited in batch 3"
    review = stored_review(app, "R-1234")
    assert review.order.offer.external_id == "OF-14"
    assert review.order.offer.seller.email == sellers[0]
    assert review.seller_id == review.order.offer.seller_id

    again = import_lines(runner, tmp_path, lines)

    # R-2 appears with its old text in batch 1 and its new text in batch 3: both are
    # changes to what the database holds at that point, and the last line wins.
    assert summary(again) == "imported 0, updated 2, unchanged 2496, rejected 2"
    assert count(app, Review) == 2495
    assert stored_review(app, "R-2").text == "Edited in batch 3"


def test_an_import_that_crashes_midway_is_still_audited_and_keeps_committed_batches(
        app, runner, tmp_path, monkeypatch, small_batches):
    real_apply = apply_batch
    calls = []

    def apply_then_crash(batch, stats, reject):
        calls.append(len(batch))
        if len(calls) == 2:
            raise RuntimeError("database went away")
        real_apply(batch, stats, reject)

    monkeypatch.setattr(marketplace_cli, "apply_batch", apply_then_crash)
    result = import_lines(runner, tmp_path, [record(n) for n in range(1, BATCH_SIZE + 6)])

    assert result.exit_code == 1
    assert isinstance(result.exception, RuntimeError)
    assert len(review_ids(app)) == BATCH_SIZE
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "marketplace.imported")).one()
        details = json.loads(event.details)
    assert details["aborted"] == "RuntimeError"
    assert details["imported"] == BATCH_SIZE
