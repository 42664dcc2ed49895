"""/dashboard, /dashboard.json and /dashboard/<figure>.csv through HTTP: who may see what, the
period in the query string, the JSON's exact keys, the CSV files, and a fixed number of SQL
statements however much data there is."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from moderation_app.models.requests import Decision, Reason
from moderation_app.models.users import Role
from tests.helpers.accounts import make_user
from tests.helpers.clients import page_text, signed_in
from tests.helpers.dashboard import DeskData
from tests.helpers.database import counted_statements

APPROVE, REJECT, ASK = Decision.APPROVE, Decision.REJECT, Decision.REQUEST_INFO
FIGURES = ("backlog", "flow", "outcomes", "speed", "agents", "signals")


def today():
    return datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


@pytest.fixture
def desk(app) -> DeskData:
    return DeskData(app)


@pytest.fixture
def shop(app) -> int:
    return make_user(app, "shop@example.com", Role.SELLER, password=None).id


@pytest.fixture
def colleague(app) -> int:
    return make_user(app, "colleague@example.com", Role.AGENT, password=None).id


def some_decisions(desk: DeskData, shop: int, agent_id: int, colleague: int) -> None:
    """Yesterday: the agent approved one and asked once; the colleague rejected two."""
    yesterday = today() - timedelta(days=1)
    desk.decided(shop, agent_id, APPROVE, yesterday, hours=2, claim_minutes=10)
    desk.decided(shop, agent_id, ASK, yesterday, hours=1, claim_minutes=20)
    desk.decided(shop, colleague, REJECT, yesterday, hours=30, reason=Reason.WRONG_OFFER)
    desk.decided(shop, colleague, REJECT, yesterday, hours=50, reason=Reason.WRONG_OFFER)
    desk.request(shop, today() - timedelta(hours=3))


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(page_text(response))))


# --- who may see what ----------------------------------------------------------------------------

def test_a_seller_may_not_open_any_of_the_dashboard(seller_client):
    for url in ["/dashboard", "/dashboard.json"] + [f"/dashboard/{name}.csv" for name in FIGURES]:
        assert seller_client.get(url).status_code == 403, url


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for url in ["/dashboard", "/dashboard.json", "/dashboard/flow.csv"]:
        response = client.get(url)
        assert response.status_code == 302 and response.location.startswith("/login?next="), url


def test_an_agent_gets_their_own_dashboard_but_not_the_json_nor_the_signals(agent_client):
    assert agent_client.get("/dashboard").status_code == 200
    assert agent_client.get("/dashboard.json").status_code == 403
    assert agent_client.get("/dashboard/signals.csv").status_code == 403
    for name in FIGURES[:-1]:
        assert agent_client.get(f"/dashboard/{name}.csv").status_code == 200, name


def test_a_manager_gets_everything(manager_client):
    for url in ["/dashboard", "/dashboard.json"] + [f"/dashboard/{name}.csv" for name in FIGURES]:
        assert manager_client.get(url).status_code == 200, url


def test_an_unknown_figure_is_not_found(manager_client, agent_client):
    for client in (manager_client, agent_client):
        assert client.get("/dashboard/users.csv").status_code == 404
        assert client.get("/dashboard/..%2Fbacklog.csv").status_code == 404


def test_an_agent_sees_only_their_own_row_and_decisions(app, agent, agent_client, desk, shop,
                                                        colleague):
    some_decisions(desk, shop, agent.id, colleague)

    page = page_text(agent_client.get("/dashboard"))
    rows = csv_rows(agent_client.get("/dashboard/agents.csv"))
    outcomes = csv_rows(agent_client.get("/dashboard/outcomes.csv"))

    assert "agent@example.com" in page and "colleague@example.com" not in page
    assert [row[:5] for row in rows] == [
        ["email", "decisions", "approved", "rejected", "info_requested"],
        ["agent@example.com", "2", "1", "0", "1"]]
    assert outcomes[-1] == ["all", "1", "0", "1.0"]


def test_a_manager_sees_every_agent_and_the_whole_desk(app, agent, manager_client, desk, shop,
                                                       colleague):
    some_decisions(desk, shop, agent.id, colleague)

    figures = manager_client.get("/dashboard.json").get_json()

    assert [(row["email"], row["decisions"]) for row in figures["agents"]] == [
        ("agent@example.com", 2), ("colleague@example.com", 2)]
    assert figures["outcomes"]["all"] == {"approved": 1, "rejected": 2,
                                          "approval_rate": pytest.approx(1 / 3)}
    assert figures["time_to_decision_hours"]["p50"] == pytest.approx(30.0)
    assert figures["backlog"]["by_status"] == {"submitted": 1, "needs_info": 1, "appealed": 0}
    assert "agent@example.com" in page_text(manager_client.get("/dashboard"))


# --- the JSON ------------------------------------------------------------------------------------

def test_the_json_has_exactly_the_documented_keys(manager_client, agent, desk, shop, colleague):
    some_decisions(desk, shop, agent.id, colleague)

    response = manager_client.get("/dashboard.json?since=2026-01-01&until=2026-01-03")
    figures = response.get_json()

    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "application/json"
    assert set(figures) == {"period", "backlog", "flow", "outcomes", "time_to_decision_hours",
                            "agents", "signals", "response_target_hours", "appeals"}
    assert figures["period"] == {"since": "2026-01-01", "until": "2026-01-03"}
    assert set(figures["backlog"]) == {"open", "by_reason", "by_status", "by_age", "unclaimed",
                                       "oldest_open_id"}
    assert list(figures["backlog"]["by_reason"]) == [reason.value for reason in Reason]
    assert list(figures["backlog"]["by_status"]) == ["submitted", "needs_info", "appealed"]
    assert list(figures["backlog"]["by_age"]) == ["<24h", "24-48h", ">48h"]
    assert figures["flow"] == [{"date": f"2026-01-0{day}", "submitted": 0, "decided": 0}
                               for day in (1, 2, 3)]
    assert set(figures["outcomes"]) == {reason.value for reason in Reason} | {"all"}
    assert all(set(outcome) == {"approved", "rejected", "approval_rate"}
               for outcome in figures["outcomes"].values())
    assert set(figures["time_to_decision_hours"]) == {"count", "p50", "p90", "within_target"}
    assert figures["agents"] == []   # nobody decided in January
    assert figures["response_target_hours"] == 48

    agents = manager_client.get("/dashboard.json").get_json()["agents"]
    assert all(list(agent) == ["email", "decisions", "approved", "rejected", "info_requested",
                               "approval_rate", "median_minutes_claim_to_decision", "outlier"]
               for agent in agents) and agents


BAD_PERIODS = [
    ("since=yesterday", "YYYY-MM-DD"),
    ("until=2026-02-30", "not a date"),
    ("since=2026-05-10&until=2026-05-01", "after it ends"),
    ("until=9999-12-31", "between"),
    ("since=0001-01-01&until=0001-01-02", "between"),
    ("since=2024-01-01&until=2026-01-01", "at most 366 days"),
    ("since=%00", "YYYY-MM-DD"),
    ("since=" + "9" * 500, "YYYY-MM-DD"),
]


@pytest.mark.parametrize(("query", "message"), BAD_PERIODS)
def test_a_bad_period_gets_a_400_with_the_reason_in_json(manager_client, query, message):
    response = manager_client.get(f"/dashboard.json?{query}")

    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert list(response.get_json()) == ["error"]


@pytest.mark.parametrize(("query", "message"), BAD_PERIODS)
def test_a_bad_period_on_the_page_says_why_and_shows_the_last_30_days(manager_client, query,
                                                                      message):
    response = manager_client.get(f"/dashboard?{query}")

    assert response.status_code == 200
    assert message in page_text(response)
    since = (today() - timedelta(days=29)).date().isoformat()
    assert f'name="since" value="{since}"' in page_text(response)


def test_a_bad_period_for_a_csv_is_a_400_with_the_reason(manager_client):
    response = manager_client.get("/dashboard/flow.csv?since=2026-05-10&until=2026-05-01")

    assert response.status_code == 400
    assert "after it ends" in page_text(response)


def test_the_page_offers_7_30_and_90_days_and_the_csv_files_of_its_period(manager_client,
                                                                        agent_client):
    page = page_text(manager_client.get("/dashboard?since=2026-03-01&until=2026-03-31"))
    agent_page = page_text(agent_client.get("/dashboard"))

    end = today().date()
    for days in (7, 30, 90):
        since = (end - timedelta(days=days - 1)).isoformat()
        assert f"/dashboard?since={since}&amp;until={end.isoformat()}" in page
    for name in FIGURES:
        assert f"/dashboard/{name}.csv?since=2026-03-01&amp;until=2026-03-31" in page
    assert "/dashboard/signals.csv" not in agent_page


# --- CSV -----------------------------------------------------------------------------------------

def test_each_csv_has_a_header_and_the_figures_of_the_period(manager_client, agent, desk, shop,
                                                             colleague):
    some_decisions(desk, shop, agent.id, colleague)
    yesterday = (today() - timedelta(days=1)).date().isoformat()
    query = f"?since={yesterday}&until={yesterday}"

    flow = manager_client.get(f"/dashboard/flow.csv{query}")
    speed = csv_rows(manager_client.get(f"/dashboard/speed.csv{query}"))
    backlog = csv_rows(manager_client.get(f"/dashboard/backlog.csv{query}"))

    assert flow.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert flow.headers["Content-Disposition"] == (
        f'attachment; filename="dashboard-flow-{yesterday}-to-{yesterday}.csv"')
    assert flow.headers["Cache-Control"] == "no-store"
    # Submitted 1 and 2 hours before their decisions: two of them came in that day too.
    assert csv_rows(flow) == [["date", "submitted", "decided"], [yesterday, "2", "3"]]
    assert speed == [["count", "p50_hours", "p90_hours", "within_target", "response_target_hours"],
                     ["3", "30.0", "46.0", "0.6666666666666666", "48"]]
    assert backlog[:2] == [["group", "key", "requests"], ["open", "all", "2"]]
    assert ["status", "needs_info", "1"] in backlog


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_neutralized(
        app, manager_client, desk):
    sellers = [make_user(app, f"s{number}@example.com", Role.SELLER, password=None).id
               for number in range(2)]
    evil = desk.buyer('=HYPERLINK("http://evil.example","click")')
    for seller in sellers:
        desk.request(seller, today() - timedelta(hours=1), buyer_id=evil)

    rows = csv_rows(manager_client.get("/dashboard/signals.csv"))

    assert ["reported_buyer", "'=HYPERLINK(\"http://evil.example\",\"click\")", "2", "2", "", "",
            "", ""] in rows


# --- statements ----------------------------------------------------------------------------------

def add_activity(desk: DeskData, shop: int, agents: list[int], per_agent: int) -> None:
    for number in range(per_agent):
        for agent_id in agents:
            decision = (APPROVE, REJECT, ASK)[number % 3]
            request_id = desk.decided(shop, agent_id, decision, today() - timedelta(days=number % 20),
                                      hours=1 + number, claim_minutes=5 + number)
            desk.evidence(request_id, today() - timedelta(days=1), sha256="f" * 64)
        desk.request(shop, today() - timedelta(hours=number), buyer_id=None)


def statements_of(app, client, url: str) -> int:
    with counted_statements(app) as statements:
        assert client.get(url).status_code == 200
    return len(statements)


def test_the_dashboard_runs_the_same_number_of_statements_for_more_data(app, desk, shop, manager,
                                                                       agent):
    manager_client, agent_client = signed_in(app, manager), signed_in(app, agent)
    team = [agent.id] + [make_user(app, f"a{number}@example.com", Role.AGENT, password=None).id
                         for number in range(2)]
    add_activity(desk, shop, team[:1], 2)
    small = [statements_of(app, manager_client, "/dashboard.json"),
             statements_of(app, manager_client, "/dashboard"),
             statements_of(app, agent_client, "/dashboard")]

    add_activity(desk, shop, team, 12)
    large = [statements_of(app, manager_client, "/dashboard.json"),
             statements_of(app, manager_client, "/dashboard"),
             statements_of(app, agent_client, "/dashboard")]

    assert manager_client.get("/dashboard.json").get_json()["agents"][2]["decisions"] == 12
    assert large == small
    assert small[0] <= 15
