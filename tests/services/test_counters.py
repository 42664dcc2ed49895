"""The request counters the queue reads (issue 14): kept exact by the database's triggers through
any sequence of writes — the app's own flows over HTTP, ORM changes, Core and raw SQL updates,
deletes — on both databases; `counters check` finds drift and `counters rebuild` repairs it,
audited."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, text, update

from moderation_app.extensions import db
from moderation_app.database import utcnow
from moderation_app.models import DeletionRequest, Reason, RequestStatus
from moderation_app.models.counters import (
    AgentDayDecisions,
    RequestCount,
    SellerDayRequests,
    SellerRequestCount,
)
from moderation_app.models.requests import Decision, DecisionRecord
from moderation_app.models.marketplace import Review
from moderation_app.services.counters import counts, drift
from moderation_app.services.marketplace.ratings import rounded_mean, seller_rating
from tests.helpers.appeals import appeal, decide
from tests.helpers.marketplace import add_review
from tests.helpers.requests import add_request, answer, file_request
from tests.helpers.stored import audit_details

STATUSES = list(RequestStatus)
REASONS = list(Reason)
DECISIONS = list(Decision)


def fresh(app, *keys):
    """COUNT(*) of the rows, grouped by `keys` (the truth the counters must equal)."""
    with app.app_context():
        return {tuple(row[:-1]): row[-1] for row in db.session.execute(
            select(*keys, func.count()).group_by(*keys))}


def kept_desk(app) -> dict[tuple, int]:
    with app.app_context():
        return {(status.value, reason.value): count for (status, reason), count in counts().items()}


def kept_sellers(app) -> dict[tuple, int]:
    with app.app_context():
        return {(seller, status, reason): count for seller, status, reason, count in db.session.execute(
            select(SellerRequestCount.seller_id, SellerRequestCount.status, SellerRequestCount.reason,
                   SellerRequestCount.requests)) if count}


def assert_exact(app) -> None:
    request = DeletionRequest
    assert kept_desk(app) == fresh(app, request.status, request.reason)
    assert kept_sellers(app) == fresh(app, request.seller_id, request.status, request.reason)
    with app.app_context():
        assert drift().exact


def test_the_app_s_own_flows_keep_the_counters_exact(app, seller, seller_client, agent_client,
                                                    other_seller, other_seller_client, manager_client):
    asked = file_request(seller_client, add_review(app, seller), reason="blackmail")
    rejected = file_request(seller_client, add_review(app, seller))
    withdrawn = file_request(other_seller_client, add_review(app, other_seller))
    assert_exact(app)

    decide(agent_client, asked, "request_info", "Please show the buyer's demand.")
    answer(seller_client, asked)
    decide(agent_client, rejected, "reject")
    appeal(seller_client, rejected)
    decide(manager_client, rejected, "approve", "The second page shows it.")
    other_seller_client.post_form(f"/seller/requests/{withdrawn}/withdraw", {"reason": "Sorted."})

    assert_exact(app)
    with app.app_context():
        desk = counts()
    assert desk[(RequestStatus.SUBMITTED, Reason.BLACKMAIL)] == 1
    assert desk[(RequestStatus.APPROVED, Reason.WRONG_OFFER)] == 1
    assert desk[(RequestStatus.WITHDRAWN, Reason.WRONG_OFFER)] == 1
    assert (RequestStatus.REJECTED, Reason.WRONG_OFFER) not in desk  # back to zero


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_any_sequence_of_writes_leaves_every_counter_equal_to_a_fresh_count(app, seller, other_seller,
                                                                             seed):
    rng = random.Random(seed)
    sellers = [seller, other_seller]
    ids: list[int] = []
    for step in range(60):
        operation = rng.choice(["insert", "orm", "core", "raw", "reseller", "redate", "delete", "noop"])
        if operation == "insert" or not ids:  # its own review: one open request per review
            person = rng.choice(sellers)
            ids.append(add_request(app, person, add_review(app, person),
                                   status=rng.choice(STATUSES), reason=rng.choice(REASONS)))
            continue
        with app.app_context():
            if operation == "orm":
                row = db.session.get(DeletionRequest, rng.choice(ids))
                row.status, row.reason = rng.choice(STATUSES), rng.choice(REASONS)
            elif operation == "core":  # several rows in one statement
                db.session.execute(update(DeletionRequest)
                                   .where(DeletionRequest.id.in_(rng.sample(ids, min(3, len(ids)))))
                                   .values(status=rng.choice(STATUSES)))
            elif operation == "raw":
                db.session.execute(text("UPDATE deletion_requests SET reason = :reason WHERE id = :id"),
                                   {"reason": rng.choice(REASONS).value, "id": rng.choice(ids)})
            elif operation == "reseller":
                db.session.execute(update(DeletionRequest).where(DeletionRequest.id == rng.choice(ids))
                                   .values(seller_id=rng.choice(sellers).id))
            elif operation == "redate":  # another UTC day, as the demo's back-dating does
                db.session.execute(update(DeletionRequest).where(DeletionRequest.id == rng.choice(ids))
                                   .values(submitted_at=utcnow() - timedelta(hours=rng.randrange(200))))
            elif operation == "delete":
                gone = ids.pop(rng.randrange(len(ids)))
                db.session.execute(delete(DeletionRequest).where(DeletionRequest.id == gone))
            else:  # a change to other columns only
                db.session.execute(update(DeletionRequest).where(DeletionRequest.id == rng.choice(ids))
                                   .values(explanation=f"edited {step}"))
            if rng.random() < .15:
                db.session.rollback()  # an aborted write leaves no count behind either
            else:
                db.session.commit()
        if step % 10 == 9:
            assert_exact(app)
    assert_exact(app)


@pytest.mark.parametrize("seed", [6, 7])
def test_the_agents_day_rollup_follows_any_sequence_of_decision_writes(app, seller, agent, manager,
                                                                       seed):
    """The dashboard reads decisions per (UTC day, agent, reason, decision) from the rollup, and
    how many of them have a claim time: inserts, edits of every column it keys or counts on, and
    deletes, committed or rolled back, leave it equal to a fresh count."""
    rng = random.Random(seed)
    request_id = add_request(app, seller, add_review(app, seller))
    agents, ids = [agent.id, manager.id], []
    for step in range(50):
        operation = rng.choice(["insert", "insert", "edit", "delete"]) if ids else "insert"
        with app.app_context():
            if operation == "insert":
                decided = utcnow() - timedelta(hours=rng.randrange(100))
                record = DecisionRecord(
                    request_id=request_id, agent_id=rng.choice(agents), decision=rng.choice(DECISIONS),
                    reason=rng.choice(REASONS), submitted_at=decided - timedelta(hours=2),
                    claimed_at=None, decided_at=decided, seconds_since_submission=7200,
                    seconds_since_claim=rng.choice([None, 60]))
                db.session.add(record)
                db.session.flush()
                ids.append(record.id)
            elif operation == "edit":
                column, value = rng.choice([
                    ("decided_at", utcnow() - timedelta(hours=rng.randrange(100))),
                    ("agent_id", rng.choice(agents)), ("reason", rng.choice(REASONS)),
                    ("decision", rng.choice(DECISIONS)), ("seconds_since_claim", rng.choice([None, 5])),
                    ("seconds_since_submission", rng.randrange(9000))])
                db.session.execute(update(DecisionRecord)
                                   .where(DecisionRecord.id.in_(rng.sample(ids, min(2, len(ids)))))
                                   .values({column: value}))
            else:
                gone = rng.choice(ids)
                db.session.execute(delete(DecisionRecord).where(DecisionRecord.id == gone))
            if rng.random() < .15:
                db.session.rollback()
                if operation == "insert":
                    ids.pop()
            else:
                db.session.commit()
                if operation == "delete":
                    ids.remove(gone)
        if step % 10 == 9:
            with app.app_context():
                assert drift().agent_days == {}
    with app.app_context():
        assert drift().exact
        kept = db.session.scalar(select(func.sum(AgentDayDecisions.decisions)))
        assert kept == db.session.scalar(select(func.count()).select_from(DecisionRecord)) == len(ids)


def test_check_finds_drift_and_rebuild_repairs_it_audited(app, seller, runner):
    for reason in (Reason.BLACKMAIL, Reason.BLACKMAIL, Reason.WRONG_OFFER):
        add_request(app, seller, add_review(app, seller), reason=reason)
    with app.app_context():  # as a restore, or a write with the triggers disabled, could leave it
        db.session.execute(update(RequestCount).where(RequestCount.reason == "blackmail")
                           .values(requests=7))
        db.session.execute(delete(SellerRequestCount).where(SellerRequestCount.reason == "wrong_offer"))
        db.session.execute(update(SellerDayRequests).values(requests=SellerDayRequests.requests + 1))
        db.session.commit()

    checked = runner.invoke(args=["counters", "check"])
    assert checked.exit_code == 1
    assert "desk submitted/blackmail: kept 7, counted 2" in checked.output
    assert f"seller {seller.id}/submitted/wrong_offer: kept 0, counted 1" in checked.output
    today = utcnow().date().isoformat()
    assert f"seller day {today}/{seller.id}/submitted: kept (4,), counted (3,)" in checked.output
    assert audit_details(app, "counters.rebuilt") == []  # checking changes nothing

    rebuilt = runner.invoke(args=["counters", "rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert ("corrected 1 desk and 1 seller counters, 0 seller ratings, 1 dashboard day rows"
            in rebuilt.output)
    assert_exact(app)
    assert audit_details(app, "counters.rebuilt") == [{"desk_rows_corrected": 1,
                                                      "seller_rows_corrected": 1,
                                                      "ratings_corrected": 0,
                                                      "day_rows_corrected": 1}]
    again = runner.invoke(args=["counters", "check"])
    assert (again.exit_code, again.output.strip()) == (0, "counters exact")


# --- seller ratings --------------------------------------------------------------------------------

def rating_inputs(app, seller_id: int) -> tuple[int, int, int, int]:
    """Visible reviews and their star sums, counted from the rows."""
    with app.app_context():
        row = db.session.execute(
            select(func.count(), func.coalesce(func.sum(Review.rating_fulfillment), 0),
                   func.coalesce(func.sum(Review.rating_start_time), 0),
                   func.coalesce(func.sum(Review.rating_communication), 0))
            .where(Review.seller_id == seller_id, Review.is_visible.is_(True))).one()
        return tuple(int(value) for value in row)


@pytest.mark.parametrize("seed", [4, 5])
def test_the_rating_totals_follow_any_sequence_of_review_writes(app, seller, other_seller, seed):
    rng = random.Random(seed)
    sellers = [seller, other_seller]
    ids: list[int] = []
    for step in range(50):
        operation = rng.choice(["insert", "stars", "hide", "show", "reseller", "delete", "text"])
        if operation == "insert" or not ids:
            external = add_review(app, rng.choice(sellers), stars=tuple(rng.randint(1, 5) for _ in "abc"))
            with app.app_context():
                ids.append(db.session.scalar(select(Review.id).where(Review.external_id == external)))
            continue
        target = rng.choice(ids)
        with app.app_context():
            change = update(Review).where(Review.id == target)
            if operation == "stars":
                db.session.execute(change.values(rating_start_time=rng.randint(1, 5)))
            elif operation in ("hide", "show"):  # the ORM, as a decision hides a review
                db.session.get(Review, target).is_visible = operation == "show"
            elif operation == "reseller":
                db.session.execute(change.values(seller_id=rng.choice(sellers).id))
            elif operation == "delete":
                ids.remove(target)
                db.session.execute(delete(Review).where(Review.id == target))
            else:
                db.session.execute(change.values(text=f"edited {step}"))
            if rng.random() < .15:
                db.session.rollback()
            else:
                db.session.commit()
    for person in sellers:
        with app.app_context():
            rating = seller_rating(person.id)
        count, fulfillment, start_time, communication = rating_inputs(app, person.id)
        assert rating.review_count == count
        assert rating.start_time == (rounded_mean(start_time, count) if count else None)
        assert rating.overall == (rounded_mean(fulfillment + start_time + communication, 3 * count)
                                  if count else None)
    with app.app_context():
        assert drift().exact
