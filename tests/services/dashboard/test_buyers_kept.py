"""The buyers signal keeps its answer for the period's past hours (services/dashboard/buyers.py): it
must equal a fresh count after any write — new requests in the current hour and in past ones,
deletes, a request moved to another time, buyer or seller by the ORM or raw SQL, rolled-back writes
— and `counters rebuild` must make every process recount. On SQLite and PostgreSQL alike."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, text, update

from moderation_app.extensions import db
from moderation_app.models.counters import RequestHourChanges
from moderation_app.models.marketplace import Buyer
from moderation_app.models.requests import DeletionRequest
from moderation_app.models.users import Role
from moderation_app.services.dashboard.buyers import SIGNAL_ROWS, reported_buyers
from moderation_app.services.dashboard.period import Period
from tests.helpers.accounts import make_user
from tests.helpers.dashboard import NOW, DeskData

TODAY = NOW.date()
PERIOD = Period(TODAY - timedelta(days=9), TODAY)


def shown(app, period: Period = PERIOD) -> list[tuple[str, int, int]]:
    with app.app_context():
        result = [(b.username, b.sellers, b.requests) for b in reported_buyers(period, NOW)]
        db.session.rollback()
        return result


def counted(app, period: Period = PERIOD) -> list[tuple[str, int, int]]:
    """The signal worked out in Python from every request row."""
    with app.app_context():
        rows = db.session.execute(select(Buyer.username, DeletionRequest.seller_id,
                                         DeletionRequest.submitted_at)
                                  .join(Buyer, Buyer.id == DeletionRequest.buyer_id)).all()
    sellers, requests = defaultdict(set), defaultdict(int)
    for username, seller, submitted in rows:
        if period.start <= submitted < period.end:
            sellers[username].add(seller)
            requests[username] += 1
    ranked = sorted(((name, len(sellers[name]), requests[name]) for name in sellers
                     if len(sellers[name]) >= 2), key=lambda row: (-row[1], -row[2], row[0]))
    return ranked[:SIGNAL_ROWS]


@pytest.fixture
def people(app):
    desk = DeskData(app)
    sellers = [make_user(app, f"kept{number}@example.com", Role.SELLER, password=None).id
               for number in range(5)]
    buyers = [desk.buyer(f"buyer-{number:02}") for number in range(14)]
    return desk, sellers, buyers


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_the_kept_answer_equals_a_fresh_count_after_any_write(app, people, seed):
    desk, sellers, buyers = people
    rng = random.Random(seed)

    def moment(days_back: int):
        """A time `days_back` days before NOW (12:00), or with -1 in NOW's own hour."""
        if days_back < 0:
            return NOW + timedelta(minutes=rng.randrange(60))
        return NOW - timedelta(days=days_back, hours=rng.randrange(12), minutes=rng.randrange(60))

    ids = [desk.request(rng.choice(sellers), moment(rng.randrange(-1, 12)),
                        buyer_id=rng.choice(buyers)) for _ in range(40)]
    assert shown(app) == counted(app)
    for _ in range(30):
        operation = rng.choice(["this hour", "past", "delete", "redate", "rebuyer", "reseller",
                                "raw", "noop"])
        if operation in ("this hour", "past"):
            ids.append(desk.request(rng.choice(sellers), moment(-1 if operation == "this hour" else
                                                                rng.randrange(12)),
                                    buyer_id=rng.choice(buyers)))
        else:
            with app.app_context():
                target = rng.choice(ids)
                if operation == "delete":
                    db.session.execute(delete(DeletionRequest).where(DeletionRequest.id == target))
                elif operation == "redate":
                    db.session.get(DeletionRequest, target).submitted_at = moment(
                        rng.randrange(-1, 12))
                elif operation == "rebuyer":
                    db.session.execute(update(DeletionRequest).where(DeletionRequest.id == target)
                                       .values(buyer_id=rng.choice(buyers)))
                elif operation == "reseller":
                    db.session.execute(update(DeletionRequest).where(DeletionRequest.id == target)
                                       .values(seller_id=rng.choice(sellers)))
                elif operation == "raw":
                    db.session.execute(text("UPDATE deletion_requests SET buyer_id = :buyer "
                                            "WHERE id = :id"),
                                       {"buyer": rng.choice(buyers), "id": target})
                else:  # a change the signal does not read: the kept answer stays
                    db.session.execute(update(DeletionRequest).where(DeletionRequest.id == target)
                                       .values(explanation="Edited."))
                if rng.random() < .2:
                    db.session.rollback()
                else:
                    db.session.commit()
                    if operation == "delete":
                        ids.remove(target)
        assert shown(app) == counted(app), operation
    # A period wholly in the past, and one of today only, are counted alike.
    assert shown(app, Period(TODAY - timedelta(days=11), TODAY - timedelta(days=3))) == counted(
        app, Period(TODAY - timedelta(days=11), TODAY - timedelta(days=3)))
    assert shown(app, Period(TODAY, TODAY)) == counted(app, Period(TODAY, TODAY))


def test_a_write_with_the_triggers_off_is_seen_after_counters_rebuild(app, people, runner):
    """As after a restore or a bulk load with triggers disabled: `counters rebuild` adds to every
    hour's changes, so every process's kept answer is recounted."""
    desk, sellers, buyers = people
    first = desk.request(sellers[0], NOW - timedelta(days=2), buyer_id=buyers[0])
    desk.request(sellers[1], NOW - timedelta(days=3), buyer_id=buyers[0])
    assert shown(app) == [("buyer-00", 2, 2)]
    with app.app_context():  # the triggers' count put back, as if they had been off
        before = db.session.execute(select(RequestHourChanges.hour,
                                           RequestHourChanges.changes)).all()
        db.session.execute(update(DeletionRequest).where(DeletionRequest.id == first)
                           .values(buyer_id=buyers[1]))
        for hour, changes in before:
            db.session.execute(update(RequestHourChanges).where(RequestHourChanges.hour == hour)
                               .values(changes=changes))
        db.session.commit()
    assert shown(app) == [("buyer-00", 2, 2)]      # kept: nothing told it
    result = runner.invoke(args=["counters", "rebuild"])
    assert result.exit_code == 0, result.output
    assert shown(app) == counted(app) == []
