"""The dashboard's figures on known data, written as rows with exact times, against values worked
out by hand; on SQLite and on PostgreSQL (TEST_DATABASE_URL) alike."""

from __future__ import annotations

import random
import statistics
from datetime import date, timedelta

import pytest

from moderation_app.extensions import db
from moderation_app.models.requests import Decision, Reason, RequestStatus
from moderation_app.models.users import Role
from moderation_app.services.dashboard.figures import dashboard_figures
from moderation_app.services.dashboard.period import Period
from tests.helpers.accounts import make_user
from tests.helpers.dashboard import NOW, DeskData, at

TARGET = timedelta(hours=48)
MAY = Period(date(2026, 5, 2), date(2026, 5, 31))
APPROVE, REJECT, ASK = Decision.APPROVE, Decision.REJECT, Decision.REQUEST_INFO


@pytest.fixture
def desk(app) -> DeskData:
    return DeskData(app)


@pytest.fixture
def shop(app) -> int:
    return make_user(app, "shop@example.com", Role.SELLER, password=None).id


def staff(app, email: str) -> int:
    return make_user(app, email, Role.AGENT, password=None).id


def figures(app, period: Period = MAY, target: timedelta = TARGET, agent_id: int | None = None):
    with app.app_context():
        result = dashboard_figures(period, NOW, target, agent_id)
        db.session.rollback()
        return result


# --- backlog -----------------------------------------------------------------------------------

def test_backlog_counts_open_requests_by_reason_status_and_age_band_with_edges_in_the_middle(
        app, desk, shop):
    agent = staff(app, "agent@example.com")
    desk.request(shop, NOW - timedelta(seconds=1), reason=Reason.WRONG_OFFER)
    desk.request(shop, NOW - timedelta(hours=24) + timedelta(seconds=1))
    desk.request(shop, NOW - timedelta(hours=24), reason=Reason.COMPETITOR_ATTACK,
                 assignee_id=agent, lease_expires_at=NOW + timedelta(minutes=10))
    desk.request(shop, NOW - timedelta(hours=48), assignee_id=agent, lease_expires_at=NOW)
    desk.request(shop, NOW - timedelta(hours=48, seconds=1), reason=Reason.WRONG_OFFER,
                 assignee_id=agent, lease_expires_at=NOW - timedelta(minutes=1))
    oldest = desk.request(shop, NOW - timedelta(hours=100), status=RequestStatus.NEEDS_INFO)
    # An appeal's age counts from the appeal, not from its filing long ago.
    desk.request(shop, NOW - timedelta(hours=400), status=RequestStatus.APPEALED,
                 appealed_at=NOW - timedelta(hours=30))
    # Closed requests are no backlog, however old.
    for status in (RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.WITHDRAWN):
        desk.request(shop, NOW - timedelta(days=30), status=status)

    backlog = figures(app).backlog

    assert backlog.open == 7
    assert backlog.by_status == {RequestStatus.SUBMITTED: 5, RequestStatus.NEEDS_INFO: 1,
                                 RequestStatus.APPEALED: 1}
    assert backlog.by_reason == {Reason.COMPETITOR_ATTACK: 1, Reason.WRONG_OFFER: 2,
                                 Reason.BLACKMAIL: 4, Reason.UNRELATED_FEEDBACK: 0}
    assert list(backlog.by_reason) == list(Reason)
    assert backlog.by_age == {"<24h": 2, "24-48h": 3, ">48h": 2}
    # Only the lease that runs past now is a claim; one ending at this very moment has lapsed.
    assert (backlog.claimed, backlog.unclaimed) == (1, 6)
    assert backlog.oldest_open_id == oldest
    assert backlog.oldest_open_since == NOW - timedelta(hours=100)


def test_age_bands_follow_the_response_target(app, desk, shop):
    desk.request(shop, NOW - timedelta(hours=5))
    desk.request(shop, NOW - timedelta(hours=10, seconds=1))

    assert figures(app, target=timedelta(hours=10)).backlog.by_age == {
        "<5h": 0, "5-10h": 1, ">10h": 1}


def test_an_empty_desk_has_an_empty_backlog_and_no_oldest_request(app):
    result = figures(app)

    assert (result.backlog.open, result.backlog.claimed, result.backlog.unclaimed) == (0, 0, 0)
    assert result.backlog.oldest_open_id is None
    assert result.speed.count == 0 and result.speed.p50 is None and result.speed.within_target is None
    assert result.outcomes["all"].approval_rate is None
    assert result.agents == []
    assert [day.submitted + day.decided for day in result.flow] == [0] * 30


# --- flow --------------------------------------------------------------------------------------

def test_flow_has_every_day_of_the_period_counting_utc_days_and_only_final_decisions(
        app, desk, shop):
    agent = staff(app, "agent@example.com")
    three_days = Period(date(2026, 5, 28), date(2026, 5, 30))
    desk.request(shop, at("2026-05-27 23:59:59"))          # the day before the period
    desk.request(shop, at("2026-05-28 00:00:00"))
    desk.request(shop, at("2026-05-28 23:59:59"))
    desk.request(shop, at("2026-05-30 23:59:59"))
    desk.request(shop, at("2026-05-31 00:00:00"))          # the day after
    desk.decided(shop, agent, APPROVE, at("2026-05-28 00:00:00"), hours=30)
    desk.decided(shop, agent, REJECT, at("2026-05-30 23:59:59"), hours=30)
    desk.decided(shop, agent, ASK, at("2026-05-30 12:00:00"), hours=30)   # not final
    desk.decided(shop, agent, APPROVE, at("2026-05-31 00:00:00"), hours=30)  # after the period

    flow = figures(app, three_days).flow

    assert [(day.day, day.submitted, day.decided) for day in flow] == [
        (date(2026, 5, 28), 2, 1),
        # Submitted 30 h before their decision: three of the decided requests came in that day.
        (date(2026, 5, 29), 3, 0),
        (date(2026, 5, 30), 1, 1),
    ]


# --- outcomes and speed ------------------------------------------------------------------------

def test_outcomes_count_final_decisions_of_the_period_per_reason_and_overall(app, desk, shop):
    agent = staff(app, "agent@example.com")
    for decision in (APPROVE, APPROVE, REJECT):
        desk.decided(shop, agent, decision, at("2026-05-10 10:00"), reason=Reason.BLACKMAIL)
    desk.decided(shop, agent, REJECT, at("2026-05-11 10:00"), reason=Reason.WRONG_OFFER)
    desk.decided(shop, agent, ASK, at("2026-05-11 11:00"), reason=Reason.WRONG_OFFER)
    desk.decided(shop, agent, APPROVE, at("2026-05-01 23:59:59"), reason=Reason.WRONG_OFFER)

    outcomes = figures(app).outcomes

    assert list(outcomes) == [reason.value for reason in Reason] + ["all"]
    assert (outcomes["blackmail"].approved, outcomes["blackmail"].rejected) == (2, 1)
    assert outcomes["blackmail"].approval_rate == pytest.approx(2 / 3)
    assert (outcomes["wrong_offer"].approved, outcomes["wrong_offer"].rejected,
            outcomes["wrong_offer"].approval_rate) == (0, 1, 0.0)
    assert outcomes["competitor_attack"].approval_rate is None
    assert (outcomes["all"].approved, outcomes["all"].rejected,
            outcomes["all"].approval_rate) == (2, 2, 0.5)


def test_speed_interpolates_percentiles_between_ranks_and_counts_the_target_inclusively(
        app, desk, shop):
    agent = staff(app, "agent@example.com")
    for hours in (10, 1, 4, 3, 2):
        desk.decided(shop, agent, APPROVE if hours % 2 else REJECT, at("2026-05-20 12:00"),
                     hours=hours)
    desk.decided(shop, agent, ASK, at("2026-05-20 12:00"), hours=100)   # not final: not counted

    speed = figures(app, target=timedelta(hours=4)).speed

    assert speed.count == 5
    assert speed.p50 == pytest.approx(3.0)
    assert speed.p90 == pytest.approx(7.6)           # 4 + (10 - 4) × 0.6
    assert speed.within_target == pytest.approx(0.8)  # exactly 4 h is within


@pytest.mark.parametrize(("hours", "p50", "p90"), [
    ((5,), 5.0, 5.0),
    ((1, 3), 2.0, 2.8),
    ((1, 2, 3, 4), 2.5, 3.7),
])
def test_percentiles_of_few_values(app, desk, shop, hours, p50, p90):
    agent = staff(app, "agent@example.com")
    for value in hours:
        desk.decided(shop, agent, APPROVE, at("2026-05-20 12:00"), hours=value)

    speed = figures(app).speed

    assert (speed.p50, speed.p90) == (pytest.approx(p50), pytest.approx(p90))


def test_percentiles_match_linear_interpolation_on_random_durations(app, desk, shop):
    """The reference is Python's inclusive quantiles, which is percentile_cont's definition."""
    agent = staff(app, "agent@example.com")
    rng = random.Random(11)
    seconds = [rng.randrange(60, 7 * 24 * 3600) for _ in range(37)]
    for value in seconds:
        desk.decided(shop, agent, REJECT, at("2026-05-20 12:00"), hours=value / 3600)

    speed = figures(app).speed
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")

    assert speed.p50 == pytest.approx(cuts[49] / 3600)
    assert speed.p90 == pytest.approx(cuts[89] / 3600)


# --- agents ------------------------------------------------------------------------------------

def test_agents_are_counted_with_their_median_minutes_from_claim_and_sorted(app, desk, shop):
    anna = staff(app, "anna@example.com")
    bert = staff(app, "bert@example.com")
    carl = staff(app, "carl@example.com")
    day = at("2026-05-15 09:00")
    for decision, minutes in ((APPROVE, 40), (REJECT, 10), (ASK, 30), (APPROVE, 20), (APPROVE, None)):
        desk.decided(shop, anna, decision, day, claim_minutes=minutes)
    for decision in (REJECT, ASK):
        desk.decided(shop, carl, decision, day)
    desk.decided(shop, bert, ASK, day, claim_minutes=7)
    desk.decided(shop, bert, APPROVE, day, claim_minutes=8)
    desk.decided(shop, bert, APPROVE, at("2026-06-01 00:00"))   # after the period

    agents = figures(app).agents

    assert [(a.email, a.decisions, a.approved, a.rejected, a.info_requested) for a in agents] == [
        ("anna@example.com", 5, 3, 1, 1),
        ("bert@example.com", 2, 1, 0, 1),
        ("carl@example.com", 2, 0, 1, 1),
    ]
    assert agents[0].user_id == anna
    assert agents[0].approval_rate == pytest.approx(0.75)
    assert agents[0].median_minutes_claim_to_decision == pytest.approx(25.0)  # 10 20 | 30 40
    assert agents[1].median_minutes_claim_to_decision == pytest.approx(7.5)
    assert agents[2].median_minutes_claim_to_decision is None
    assert agents[2].approval_rate == 0.0
    assert not any(agent.outlier for agent in agents)


def decisions_for(desk: DeskData, shop: int, agent: int, approved: int, rejected: int,
                  asked: int = 0) -> None:
    for decision, times in ((APPROVE, approved), (REJECT, rejected), (ASK, asked)):
        for _ in range(times):
            desk.decided(shop, agent, decision, at("2026-05-20 12:00"))


def outliers(app) -> dict[str, bool]:
    return {agent.email: agent.outlier for agent in figures(app).agents}


def test_an_agent_20_points_from_the_rest_is_no_outlier_and_21_points_is(app, desk, shop):
    edge = staff(app, "edge@example.com")
    rest = staff(app, "rest@example.com")
    decisions_for(desk, shop, edge, 18, 2)   # 0.90
    decisions_for(desk, shop, rest, 7, 3)    # 0.70: exactly 20 points (0.9 - 0.7 > 0.2 in floats)

    assert outliers(app) == {"edge@example.com": False, "rest@example.com": False}

    decisions_for(desk, shop, rest, 0, 1)    # rest 7/11 = 0.636: 26 points

    assert outliers(app) == {"edge@example.com": True, "rest@example.com": False}


def test_an_outlier_needs_20_decisions_and_information_requests_count(app, desk, shop):
    keen = staff(app, "keen@example.com")
    rest = staff(app, "rest@example.com")
    decisions_for(desk, shop, keen, 10, 0, asked=9)   # 19 decisions, rate 1.0
    decisions_for(desk, shop, rest, 1, 9)             # 0.1

    assert outliers(app)["keen@example.com"] is False

    decisions_for(desk, shop, keen, 0, 0, asked=1)    # the 20th decision

    assert outliers(app)["keen@example.com"] is True


def test_no_outlier_without_a_rest_of_the_team_to_compare_with(app, desk, shop):
    alone = staff(app, "alone@example.com")
    asker = staff(app, "asker@example.com")
    decisions_for(desk, shop, alone, 25, 0)
    decisions_for(desk, shop, asker, 0, 0, asked=30)  # decided nothing final: no rate

    assert outliers(app) == {"alone@example.com": False, "asker@example.com": False}


# --- an agent's own dashboard ------------------------------------------------------------------

def test_an_agents_own_figures_count_only_their_decisions_but_the_whole_backlog(app, desk, shop):
    mine = staff(app, "mine@example.com")
    other = staff(app, "other@example.com")
    decisions_for(desk, shop, mine, 20, 0)
    decisions_for(desk, shop, other, 0, 20)
    desk.decided(shop, other, REJECT, at("2026-05-21 12:00"), hours=50)
    desk.request(shop, NOW - timedelta(hours=1))

    own = figures(app, agent_id=mine)
    everyone = figures(app)

    assert [(agent.email, agent.decisions, agent.outlier) for agent in own.agents] == [
        ("mine@example.com", 20, False)]
    assert {agent.email: agent.outlier for agent in everyone.agents} == {
        "mine@example.com": True, "other@example.com": True}
    assert sum(day.decided for day in own.flow) == 20
    assert sum(day.decided for day in everyone.flow) == 41
    assert (own.outcomes["all"].approved, own.outcomes["all"].rejected) == (20, 0)
    assert own.speed.count == 20 and own.speed.p90 == pytest.approx(1.0)
    assert own.signals is None and everyone.signals is not None
    assert own.backlog == everyone.backlog
    assert own.backlog.open == 1
    # Requests submitted are the desk's flow, not the agent's.
    assert [day.submitted for day in own.flow] == [day.submitted for day in everyone.flow]


# --- signals -----------------------------------------------------------------------------------

def test_top_sellers_are_those_with_most_requests_in_the_period(app, desk):
    sellers = {name: make_user(app, f"{name}@example.com", Role.SELLER, password=None).id
               for name in ("big", "mid", "also-mid", "old")}
    day = at("2026-05-20 12:00")
    for status in (RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.REJECTED,
                   RequestStatus.SUBMITTED):
        desk.request(sellers["big"], day, status=status)
    desk.request(sellers["mid"], day, status=RequestStatus.WITHDRAWN)
    desk.request(sellers["mid"], day)
    desk.request(sellers["also-mid"], day, status=RequestStatus.APPROVED)
    desk.request(sellers["also-mid"], day, status=RequestStatus.APPROVED)
    for _ in range(5):
        desk.request(sellers["old"], at("2026-04-01 12:00"))

    top = figures(app).signals.top_sellers

    assert [(s.email, s.requests, s.approved, s.rejected, s.approval_rate) for s in top] == [
        ("big@example.com", 4, 1, 2, pytest.approx(1 / 3)),
        ("also-mid@example.com", 2, 2, 0, 1.0),
        ("mid@example.com", 2, 0, 0, None),
    ]


def test_buyers_reported_by_several_sellers_come_most_sellers_first(app, desk):
    sellers = [make_user(app, f"s{number}@example.com", Role.SELLER, password=None).id
               for number in range(3)]
    troll, pest, loner, past = (desk.buyer(name) for name in ("troll", "pest", "loner", "past"))
    day = at("2026-05-20 12:00")
    for seller in sellers:
        desk.request(seller, day, buyer_id=troll)
    for seller in (sellers[0], sellers[1], sellers[1]):
        desk.request(seller, day, buyer_id=pest)
    for _ in range(3):
        desk.request(sellers[0], day, buyer_id=loner)       # one seller only
    for seller in sellers:
        desk.request(seller, at("2026-04-20 12:00"), buyer_id=past)   # before the period

    buyers = figures(app).signals.buyers

    assert [(b.username, b.sellers, b.requests) for b in buyers] == [("troll", 3, 3), ("pest", 2, 3)]
    assert buyers[0].buyer_id == troll


def test_reused_evidence_is_a_hash_found_on_several_requests_among_the_periods_files(
        app, desk, shop):
    day, long_ago = at("2026-05-20 12:00"), at("2025-01-01 12:00")
    requests = [desk.request(shop, day) for _ in range(8)]
    old = desk.request(shop, long_ago)
    desk.evidence(requests[0], day, sha256="a" * 64)
    desk.evidence(requests[1], at("2026-05-31 23:59:59"), sha256="a" * 64)
    for request_id in requests[1:8]:                          # seven requests, one picture
        desk.evidence(request_id, day, phash="00000000000000ff")
    desk.evidence(requests[0], day, sha256="b" * 64)          # twice on one request: not reuse
    desk.evidence(requests[0], day, sha256="b" * 64)
    desk.evidence(requests[2], day, sha256="c" * 64)          # once in the period, once long ago
    desk.evidence(old, long_ago, sha256="c" * 64)
    desk.evidence(requests[3], day, sha256="d" * 64)          # once in it, once the day after
    desk.evidence(requests[4], at("2026-06-01 00:00:00"), sha256="d" * 64)

    reused = figures(app).signals.reused_evidence

    assert [(r.kind, r.value, r.requests) for r in reused] == [
        ("phash", "00000000000000ff", 7), ("sha256", "a" * 64, 2)]
    assert reused[0].request_ids == sorted(requests[3:8], reverse=True)
    assert reused[1].request_ids == [requests[1], requests[0]]
