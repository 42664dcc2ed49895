"""`/team` as a manager sees it: every account, staff first, filters, pages, the empty state and
last sign-in; managers only, on every team route."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models.users import Role, User
from moderation_app.services.accounts import create_user
from tests.helpers.accounts import make_user
from tests.helpers.clients import page_text, signed_in
from tests.helpers.stored import load

TEAM_ROUTES = [("GET", "/team"), ("POST", "/team"), ("GET", "/team/{id}"),
               ("POST", "/team/{id}/deactivate"), ("POST", "/team/{id}/reactivate"),
               ("POST", "/team/{id}/role"), ("POST", "/team/{id}/reset-password")]


def add_accounts(app, *accounts: tuple[str, Role]) -> None:
    with app.app_context():
        for email, role in accounts:
            create_user(email, role)
        db.session.commit()


def emails_in_order(page: str, emails: list[str]) -> list[str]:
    """The `emails` the list's rows show, in their order (the top bar names the manager too)."""
    rows = page[page.index("<tbody>"):page.index("</tbody>")] if "<tbody>" in page else ""
    return sorted((email for email in emails if f">{email}<" in rows),
                  key=lambda email: rows.index(f">{email}<"))


def send(client, method: str, url: str):
    return client.get(url) if method == "GET" else client.post_form(url, {"role": "agent"})


@pytest.mark.parametrize("method, url", TEAM_ROUTES)
@pytest.mark.parametrize("identity", ["seller", "agent"])
def test_sellers_and_agents_are_refused_every_team_route_and_nothing_changes(
        app, identity, method, url, seller, agent, manager):
    client = signed_in(app, seller if identity == "seller" else agent)

    response = send(client, method, url.format(id=seller.id))

    assert response.status_code == 403
    assert load(app, User, seller.id).role is Role.SELLER and load(app, User, seller.id).active


@pytest.mark.parametrize("method, url", TEAM_ROUTES)
def test_anonymous_visitors_are_sent_to_sign_in_or_refused(app, client, manager, method, url):
    response = send(client, method, url.format(id=manager.id))

    if method == "GET":
        assert response.status_code == 302 and response.location.startswith("/login?next=")
    else:
        assert response.status_code == 401
    assert load(app, User, manager.id).active


def test_the_team_link_is_in_the_managers_top_bar_only(app, manager_client, agent_client):
    assert 'href="/team"' in page_text(manager_client.get("/queue"))
    assert 'href="/team"' not in page_text(agent_client.get("/queue"))


def test_every_account_is_listed_staff_first_then_sellers(app, manager_client, manager):
    add_accounts(app, ("a.seller@example.com", Role.SELLER), ("z.agent@example.com", Role.AGENT),
                 ("b.agent@example.com", Role.AGENT), ("y.manager@example.com", Role.MANAGER))

    page = page_text(manager_client.get("/team"))

    assert emails_in_order(page, ["a.seller@example.com", "b.agent@example.com",
                                  "manager@example.com", "y.manager@example.com",
                                  "z.agent@example.com"]) == \
        ["manager@example.com", "y.manager@example.com", "b.agent@example.com",
         "z.agent@example.com", "a.seller@example.com"]


@pytest.mark.parametrize("query, expected", [
    ("role=agent", ["b.agent@example.com", "z.agent@example.com"]),
    ("role=seller", ["a.seller@example.com"]),
    ("role=manager&active=1", ["manager@example.com"]),
    ("active=0", ["z.agent@example.com"]),
    ("role=agent&active=1", ["b.agent@example.com"]),
    ("q=SELLER", ["a.seller@example.com"]),
    # Values the list does not know are ignored: everyone.
    ("role=admin&active=maybe&q=%00", ["manager@example.com", "b.agent@example.com",
                                        "z.agent@example.com", "a.seller@example.com"]),
])
def test_the_list_filters_by_role_status_and_address(app, manager_client, manager, query, expected):
    add_accounts(app, ("a.seller@example.com", Role.SELLER), ("z.agent@example.com", Role.AGENT),
                 ("b.agent@example.com", Role.AGENT))
    with app.app_context():
        db.session.scalar(select(User).where(User.email == "z.agent@example.com")).active = False
        db.session.commit()

    response = manager_client.get(f"/team?{query}")

    assert response.status_code == 200
    everyone = ["manager@example.com", "b.agent@example.com", "z.agent@example.com",
                "a.seller@example.com"]
    assert emails_in_order(page_text(response), everyone) == expected


def test_a_filter_that_matches_nobody_shows_the_empty_state(app, manager_client):
    response = manager_client.get("/team?role=seller&active=0")

    assert response.status_code == 200
    assert "Nobody matches" in page_text(response)
    assert "Clear the filters" in page_text(response)


def test_the_list_is_paged_by_the_page_size_setting(app, manager_client, manager):
    app.config["PAGE_SIZE"] = 2
    add_accounts(app, *[(f"seller{n}@example.com", Role.SELLER) for n in range(1, 5)])

    pages = [page_text(manager_client.get(f"/team?role=seller&page={n}")) for n in (1, 2, 3)]

    emails = [f"seller{n}@example.com" for n in range(1, 5)]
    assert [emails_in_order(page, emails) for page in pages] == \
        [emails[:2], emails[2:], []]
    assert "Page 1 of 2" in pages[0] and 'href="/team?page=2&amp;role=seller"' in pages[0]


def test_last_sign_in_is_set_by_a_real_sign_in_and_shown(app, manager_client, manager):
    newcomer = make_user(app, "newcomer@example.com", Role.AGENT)
    assert load(app, User, newcomer.id).last_sign_in_at is None
    assert "Never" in page_text(manager_client.get(f"/team/{newcomer.id}"))

    before = datetime.now(UTC)
    signed_in(app, newcomer)
    after = datetime.now(UTC)

    signed_in_at = load(app, User, newcomer.id).last_sign_in_at
    assert before <= signed_in_at <= after
    assert signed_in_at.strftime("%Y-%m-%d %H:%M") in page_text(manager_client.get("/team?role=agent"))


def test_a_failed_sign_in_does_not_count_as_a_sign_in(app, client, agent):
    client.sign_in(agent.email, "not the password at all")

    assert load(app, User, agent.id).last_sign_in_at is None


def test_an_unknown_account_answers_404(manager_client):
    assert manager_client.get("/team/999999").status_code == 404
    assert manager_client.post_form("/team/999999/deactivate").status_code == 404
