"""Every page's SQL statements are independent of the data's volume and the page's size (issue
14): each page is loaded on a small desk and again after the desk grew past a page of everything
it lists (reviews, requests in every status, evidence, messages, audit events, e-mails), and must
send the same number of statements. A query per row (N+1) or per item fails here. The dashboard's
own check is in tests/views/dashboard/test_dashboard.py."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models import Reason, RequestStatus, Role
from moderation_app.models.requests import MessageKind, RequestMessage
from tests.helpers.accounts import make_user
from tests.helpers.appeals import appeal, decide
from tests.helpers.clients import signed_in
from tests.helpers.database import counted_statements
from tests.helpers.images import image_bytes
from tests.helpers.marketplace import add_review
from tests.helpers.pages import pager_links
from tests.helpers.requests import add_request, answer, file_request

PAGE_SIZE = 5


def grow(app, seller, seller_client, agent_client, manager_client, rounds: int) -> list[int]:
    """`rounds` of activity: requests filed with two screenshots through the form, asked, answered,
    rejected and appealed, decided; more reviews; requests in every status written directly."""
    filed = []
    for number in range(rounds):
        request_id = file_request(seller_client, add_review(app, seller), reason="blackmail",
                                  files=[(image_bytes("PNG", seed=number), "chat.png"),
                                         (image_bytes("PNG", seed=number + 50), "order.png")])
        filed.append(request_id)
        step = number % 3
        if step == 0:
            decide(agent_client, request_id, "request_info", "Please add the buyer's demand.")
            answer(seller_client, request_id)
        elif step == 1:
            decide(agent_client, request_id, "reject")
            appeal(seller_client, request_id)
        else:
            decide(manager_client, request_id, "approve", "The demand is plain.")
        for status in RequestStatus:
            add_request(app, seller, add_review(app, seller), status=status, reason=Reason.BLACKMAIL)
    return filed


def statements(app, client, url: str) -> int:
    with counted_statements(app) as sent:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    return len(sent)


@pytest.fixture
def desk(app, seller, seller_client, agent, agent_client, manager):
    app.config["PAGE_SIZE"] = PAGE_SIZE
    manager_client = signed_in(app, manager)
    first = grow(app, seller, seller_client, agent_client, manager_client, rounds=3)[0]
    return app, seller_client, agent_client, manager_client, first


PAGES = {
    "seller": ["/seller/reviews", "/seller/reviews?stars=1", "/seller/requests",
               "/seller/requests/{first}",
               # The bottom of the lists and an old numbered link: as deep as the data goes.
               "/seller/reviews?page=last", "/seller/reviews?stars=1&page=last", "/seller/reviews?page=3",
               "/seller/requests?page=last", "/seller/requests?status=closed&page=last"],
    "agent": ["/queue", *(f"/queue?status={status.value}" for status in RequestStatus),
              "/queue?reason=blackmail", "/queue?assignee=me", "/queue?assignee=unassigned",
              "/queue?seller=seller"],
    "manager": ["/audit", "/audit?action=request.decided", "/audit?request={first}", "/audit?actor=agent",
                "/notifications", "/team", "/reply-templates"],
}


@pytest.mark.parametrize("role", list(PAGES))
def test_no_page_sends_more_statements_for_more_data(desk, seller, agent_client, role):
    app, seller_client, _, manager_client, first = desk
    client = {"seller": seller_client, "agent": agent_client, "manager": manager_client}[role]
    urls = [url.format(first=first) for url in PAGES[role]]
    small = {url: statements(app, client, url) for url in urls}

    # Past several pages of everything, other sellers' activity included.
    other = make_user(app, "other.shop@example.com", Role.SELLER)
    grow(app, seller, seller_client, agent_client, manager_client, rounds=2 * PAGE_SIZE)
    grow(app, other, signed_in(app, other), agent_client, manager_client, rounds=3)
    large = {url: statements(app, client, url) for url in urls}

    assert large == small


# The request page with every context signal, issue 14's ceiling: 9 on SQLite (its explicit BEGIN
# counts), 8 on PostgreSQL; an appeal's page reads the decision appealed too (10 and 9).
REQUEST_PAGE_CEILING = 10


def _first_appeal(app) -> int:
    """The first request appealed through the seller's form (with its rejection and message)."""
    with app.app_context():
        return db.session.scalar(
            select(RequestMessage.request_id).where(RequestMessage.kind == MessageKind.APPEAL)
            .order_by(RequestMessage.request_id).limit(1))


@pytest.mark.parametrize("which", ["answered", "appealed"])
def test_the_request_page_sends_as_many_statements_for_more_data(desk, seller, which):
    app, seller_client, agent_client, manager_client, first = desk
    request_id = first if which == "answered" else _first_appeal(app)
    small = statements(app, agent_client, f"/requests/{request_id}")

    grow(app, seller, seller_client, agent_client, manager_client, rounds=2 * PAGE_SIZE)

    assert statements(app, agent_client, f"/requests/{request_id}") == small
    assert small <= REQUEST_PAGE_CEILING


@pytest.mark.parametrize("url", ["/seller/reviews", "/seller/reviews?stars=1", "/seller/requests",
                                 "/seller/requests?status=closed"])
def test_the_sellers_lists_send_as_many_statements_on_every_page(desk, url):
    """Keyset pages (services/keyset.py): the newest page, the pages reached by "Older", "Newer"
    and "Oldest", and an old numbered link send the same statements as the first."""
    app, seller_client, *_ = desk
    first = statements(app, seller_client, url)
    links = pager_links(seller_client.get(url).get_data(as_text=True))
    newer = pager_links(seller_client.get(links["Oldest"]).get_data(as_text=True))["Newer"]
    pages = (links["Older"], links["Oldest"], newer, f"{url}{'&' if '?' in url else '?'}page=2")

    assert {page: statements(app, seller_client, page) for page in pages} == dict.fromkeys(pages, first)
