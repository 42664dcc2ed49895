"""The dashboard's reused evidence read from the marks set when files are stored: reuse of a file
older than the period is found, requests are counted over every file of the hash, files marked
after the period do not count; end to end through the seller's upload and the manager's JSON; and
the migration that marks the files (and copies each request's buyer) on an existing desk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask_migrate import upgrade
from sqlalchemy import column, insert, select, table

from moderation_app.extensions import db
from moderation_app.models.evidence import Evidence
from moderation_app.models.marketplace import Review
from moderation_app.models.requests import DeletionRequest
from moderation_app.models.users import Role, User
from moderation_app.services.dashboard.figures import dashboard_figures
from moderation_app.services.dashboard.period import Period, default_period
from tests.helpers.accounts import make_user
from tests.helpers.dashboard import NOW, DeskData, at
from tests.helpers.database import database_at_revision
from tests.helpers.images import image_bytes
from tests.helpers.marketplace import add_review
from tests.helpers.requests import file_request

MAY = Period(at("2026-05-02 00:00").date(), at("2026-05-31 00:00").date())
SHA = "a" * 64


def reused(app, period: Period = MAY):
    with app.app_context():
        result = dashboard_figures(period, NOW, timedelta(hours=48)).signals.reused_evidence
        db.session.rollback()
        return [(entry.kind, entry.value, entry.requests, entry.request_ids) for entry in result]


def shop(app) -> int:
    return make_user(app, "shop@example.com", Role.SELLER, password=None).id


def test_reuse_of_a_file_from_before_the_period_is_found(app):
    desk, seller = DeskData(app), shop(app)
    old = desk.request(seller, at("2026-03-01 12:00"))
    new = desk.request(seller, at("2026-05-02 00:00"))
    desk.evidence(old, at("2026-03-01 12:00"), sha256=SHA)
    desk.evidence(new, at("2026-05-02 00:00"), sha256=SHA)   # the period's first moment

    assert reused(app) == [("sha256", SHA, 2, [new, old])]


def test_requests_are_counted_over_every_file_of_the_hash(app):
    desk, seller = DeskData(app), shop(app)
    older = [desk.request(seller, at("2026-01-10 12:00")) for _ in range(3)]
    for request_id in older:
        desk.evidence(request_id, at("2026-01-10 12:00"), phash="00000000000000ff")
    new = desk.request(seller, at("2026-05-20 12:00"))
    desk.evidence(new, at("2026-05-20 12:00"), phash="00000000000000ff")

    assert reused(app) == [("phash", "00000000000000ff", 4, [new, *reversed(older)])]


def test_a_period_shows_reuse_made_in_it_not_before_nor_after(app):
    desk, seller = DeskData(app), shop(app)
    first, copy = desk.request(seller, at("2026-04-01 12:00")), desk.request(seller, NOW)
    desk.evidence(first, at("2026-04-01 12:00"), sha256=SHA)
    desk.evidence(copy, at("2026-06-01 00:00"), sha256=SHA)   # the moment after the period

    assert reused(app) == []
    assert reused(app, Period(at("2026-06-01 00:00").date(), at("2026-06-01 00:00").date())) == [
        ("sha256", SHA, 2, [copy, first])]


def test_a_screenshot_filed_again_after_months_shows_on_the_managers_dashboard(
        app, seller, other_seller, seller_client, other_seller_client, manager_client):
    long_ago = datetime(2024, 1, 1, tzinfo=UTC)
    assert long_ago < default_period(datetime.now(UTC).date()).start
    screenshot = [(image_bytes("PNG", seed=9), "chat.png")]
    old = file_request(seller_client, add_review(app, seller), files=screenshot)
    with app.app_context():
        db.session.get(DeletionRequest, old).submitted_at = long_ago
        for row in db.session.scalars(select(Evidence).where(Evidence.request_id == old)):
            row.created_at = long_ago
        db.session.commit()
    new = file_request(other_seller_client, add_review(app, other_seller), files=screenshot)

    signals = manager_client.get("/dashboard.json").get_json()["signals"]

    assert [(row["kind"], row["requests"], row["request_ids"])
            for row in signals["reused_evidence"]] == [("sha256", 2, [new, old]),
                                                       ("phash", 2, [new, old])]


# --- the migration -------------------------------------------------------------------------------

# The evidence columns before the migration (the model's would add the new ones).
OLD_EVIDENCE = table("evidence", *(column(name) for name in (
    "request_id", "uploaded_by_id", "original_filename", "stored_name", "thumbnail_name", "format",
    "width", "height", "byte_size", "sha256", "perceptual_hash", "phash_band_0", "phash_band_1",
    "phash_band_2", "phash_band_3", "created_at")))


def old_file(request_id: int, seller_id: int, number: int, sha256: str, phash: str) -> None:
    db.session.execute(insert(OLD_EVIDENCE).values(
        request_id=request_id, uploaded_by_id=seller_id, original_filename="chat.png",
        stored_name=f"old-{number}", thumbnail_name=f"old-t-{number}", format="png", width=10,
        height=10, byte_size=100, sha256=sha256, perceptual_hash=phash, phash_band_0=0,
        phash_band_1=0, phash_band_2=0, phash_band_3=number, created_at=NOW))


def test_the_migration_copies_buyers_and_marks_files_stored_after_another_requests(tmp_path):
    with database_at_revision("d4b8f2a61c22", tmp_path) as app:
        with app.app_context():
            # timezone: NOT NULL until migration b2d9e4f60a17, and today's model leaves it None.
            seller = User(email="seller@example.com", role=Role.SELLER, timezone="UTC")
            db.session.add(seller)
            db.session.commit()
            seller_id = seller.id
        desk = DeskData(app)
        troll = desk.buyer("troll")
        first, second, third = (desk.request(seller_id, NOW, buyer_id=troll if number else None)
                                for number in range(3))
        with app.app_context():
            old_file(first, seller_id, 1, SHA, "00000000000000ff")
            old_file(first, seller_id, 2, SHA, "00000000000000ff")       # its own again: no
            old_file(second, seller_id, 3, "b" * 64, "00000000000000ff")  # the picture again
            old_file(third, seller_id, 4, SHA, "0000000000000001")        # the file again
            old_file(second, seller_id, 5, "c" * 64, "0000000000000002")  # new
            db.session.commit()
            upgrade()
            db.session.remove()

        with app.app_context():
            requests = {row.id: row for row in db.session.scalars(select(DeletionRequest))}
            reviews = {row.id: row for row in db.session.scalars(select(Review))}
            files = [(row.sha256_reused, row.phash_reused)
                     for row in db.session.scalars(select(Evidence).order_by(Evidence.id))]
            db.session.remove()

    assert {request_id: row.buyer_id for request_id, row in requests.items()} == {
        request_id: reviews[row.review_id].buyer_id for request_id, row in requests.items()}
    assert requests[second].buyer_id == requests[third].buyer_id == troll
    assert requests[first].buyer_id != troll
    assert files == [(False, False), (False, False), (False, True), (True, False), (False, False)]
