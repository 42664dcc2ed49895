"""The seller's navigation counts their requests waiting on their answer to a question, with one
read of their counters per page, never of their requests; staff pages run none."""

from __future__ import annotations

import re

from tests.helpers.clients import page_text
from tests.helpers.database import counted_statements
from tests.helpers.notifications import decided, filed
from tests.helpers.requests import answer

# One read of the seller's counters (a few rows by primary key); parameters as "?".
WAITING_COUNT = ("SELECT coalesce(sum(seller_request_counts.requests), ?) AS coalesce_1 \n"
                 "FROM seller_request_counts \n"
                 "WHERE seller_request_counts.seller_id = ? AND seller_request_counts.status = ?")
PARAMETER = re.compile(r"%\(\w+\)s(::\w+)?")


def is_waiting_count(sql: str) -> bool:
    return "FROM seller_request_counts \nWHERE seller_request_counts.seller_id = " in sql and \
        "seller_request_counts.status = " in sql


def waiting_link(page: str) -> str | None:
    marker = 'class="nav-count"'
    if marker not in page:
        return None
    return page.split(marker, 1)[1].split("</a>", 1)[0].split(">", 1)[1]


def test_the_count_follows_questions_and_answers(app, seller, seller_client, agent_client,
                                                 other_seller, other_seller_client):
    asked, also_asked, untouched = (filed(app, seller_client, seller) for _ in range(3))
    decided(agent_client, asked, "request_info", note="Show the chat.")
    decided(agent_client, also_asked, "request_info", note="Show the order.")
    elsewhere = filed(app, other_seller_client, other_seller)
    decided(agent_client, elsewhere, "request_info", note="Show the chat.")

    assert waiting_link(page_text(seller_client.get("/seller/reviews"))) == "2 waiting for your answer"

    answer(seller_client, asked, "Here is the chat.")
    assert waiting_link(page_text(seller_client.get("/seller/requests"))) == "1 waiting for your answer"

    answer(seller_client, also_asked, "Here is the order.")
    assert waiting_link(page_text(seller_client.get("/seller/requests"))) is None
    assert untouched


def test_the_count_costs_one_query_and_staff_pages_none(app, seller, seller_client, agent_client,
                                                        manager_client):
    decided(agent_client, filed(app, seller_client, seller), "request_info", note="Show the chat.")

    with counted_statements(app) as statements:
        page = page_text(seller_client.get("/seller/reviews"))

    assert waiting_link(page) == "1 waiting for your answer"
    assert [PARAMETER.sub("?", sql) for sql in statements if is_waiting_count(sql)] == [WAITING_COUNT]

    # The requests page reads all the seller's counters for its tabs: they answer the count too.
    with counted_statements(app) as statements:
        page = page_text(seller_client.get("/seller/requests"))
    assert waiting_link(page) == "1 waiting for your answer"
    assert not [sql for sql in statements if is_waiting_count(sql)]

    with counted_statements(app) as statements:
        manager_client.get("/dashboard")
        agent_client.get("/queue")
    assert not [sql for sql in statements if is_waiting_count(sql)]
