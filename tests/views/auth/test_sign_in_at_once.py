"""Sign-ins and password confirmations arriving at the same moment: nobody gets a 500, every
sign-in is on the record, the throttle gives an account exactly its limit of password checks
whatever the spelling, and a request that fails leaves the browser's session as it was."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from flask import Flask

from moderation_app.models.users import Role, User
from tests.helpers.accounts import PASSWORD, make_user
from tests.helpers.clients import FormClient, signed_in
from tests.helpers.stored import audit_events

WRONG = "not-the-password-at-all"


def at_once(clients: list[FormClient], send: Callable[[int, FormClient], object]) -> list:
    """Each client sends one request, all released together (tokens fetched beforehand)."""
    barrier = threading.Barrier(len(clients), timeout=30)

    def run(index: int):
        barrier.wait()
        return send(index, clients[index])

    with ThreadPoolExecutor(len(clients)) as pool:
        return list(pool.map(run, range(len(clients))))


def clients_with_tokens(app: Flask, count: int) -> list[tuple[FormClient, str]]:
    clients = [app.test_client() for _ in range(count)]
    return [(client, client.csrf_token()) for client in clients]


def sign_in_at_once(app: Flask, attempts: list[tuple[str, str]]) -> tuple[list, list[FormClient]]:
    prepared = clients_with_tokens(app, len(attempts))

    def send(index: int, client: FormClient):
        email, password = attempts[index]
        return client.post("/login", data={"email": email, "password": password,
                                           "csrf_token": prepared[index][1]})

    clients = [client for client, _ in prepared]
    return at_once(clients, send), clients


def test_ten_simultaneous_sign_ins_of_one_account_all_succeed_and_each_is_on_the_record(app, agent):
    responses, clients = sign_in_at_once(app, [(agent.email, PASSWORD)] * 10)

    assert [response.status_code for response in responses] == [302] * 10
    assert all(response.location.endswith("/queue") for response in responses)
    assert len(audit_events(app, "auth.login")) == 10
    assert all(client.get("/queue").status_code == 200 for client in clients)


def test_eight_agents_signing_in_at_the_same_moment_all_get_in(app):
    agents = [make_user(app, f"agent{number}@example.com", Role.AGENT) for number in range(8)]

    responses, _ = sign_in_at_once(app, [(agent.email, PASSWORD) for agent in agents])

    assert [response.status_code for response in responses] == [302] * 8
    assert sorted(event.actor_email for event in audit_events(app, "auth.login")) == sorted(
        agent.email for agent in agents)


def test_fifteen_simultaneous_wrong_passwords_get_exactly_ten_password_checks(app, seller):
    responses, _ = sign_in_at_once(app, [(seller.email, WRONG)] * 15)

    assert Counter(response.status_code for response in responses) == {200: 10, 429: 5}
    failures = audit_events(app, "auth.login_failed")
    assert [event.actor_email for event in failures] == [seller.email] * 10


def test_every_spelling_of_an_address_counts_against_the_same_account(app, client):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per 15 minutes"
    make_user(app, "thr@example.com", Role.SELLER)
    for _ in range(3):
        assert client.sign_in("thr@example.com", WRONG).status_code == 200

    fullwidth, soft_hyphen = "thr@ex\uff41mple.com", "thr@exam\u00adple.com"
    assert client.sign_in(fullwidth, WRONG).status_code == 429
    assert client.sign_in(soft_hyphen, WRONG).status_code == 429
    assert client.sign_in(fullwidth, PASSWORD).status_code == 429
    assert client.sign_in("THR@Example.com", PASSWORD).status_code == 429
    assert client.get("/seller/reviews").status_code == 302  # still not signed in


def test_failed_sign_ins_are_recorded_under_the_address_the_lookup_uses(app, client, seller):
    client.sign_in("  " + seller.email.upper().replace("EXAMPLE", "EX\uff21MPLE"), WRONG)
    client.sign_in(seller.email.replace("@", "\u00ad@"), WRONG)

    assert [event.actor_email for event in audit_events(app, "auth.login_failed")] == [
        seller.email, seller.email]


def test_a_correct_password_clears_the_accounts_failures(app, client, seller):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per 15 minutes"
    for _ in range(2):
        client.sign_in(seller.email, WRONG)
    assert client.sign_in(seller.email).status_code == 302
    client.post_form("/logout")

    assert [client.sign_in(seller.email, WRONG).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_fifteen_simultaneous_wrong_confirmations_get_exactly_ten_password_checks(app, manager):
    clients = [signed_in(app, manager) for _ in range(15)]
    tokens = [client.csrf_token() for client in clients]

    def send(index: int, client: FormClient):
        return client.post("/reauthenticate", data={"password": WRONG, "csrf_token": tokens[index]})

    responses = at_once(clients, send)

    assert Counter(response.status_code for response in responses) == {200: 10, 429: 5}
    assert len(audit_events(app, "auth.reauthentication_failed")) == 10


def test_a_sign_in_whose_record_cannot_be_written_signs_nobody_in(app, client, agent, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr("moderation_app.auth.routes.record_sign_in", broken)
    response = client.sign_in(agent.email)

    assert response.status_code == 500
    assert "Set-Cookie" not in response.headers
    assert client.get("/queue").status_code == 302
    assert audit_events(app, "auth.login") == []


def test_a_confirmation_whose_record_cannot_be_written_confirms_nothing(app, manager, monkeypatch):
    client = signed_in(app, manager)
    with client.session_transaction() as session:
        session["password_at"] = 0  # long ago: exports ask again
    token = client.csrf_token()

    def broken(*args, **kwargs):
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr("moderation_app.auth.routes.record_event", broken)
    response = client.post("/reauthenticate", data={"password": PASSWORD, "csrf_token": token})

    assert response.status_code == 500
    assert "Set-Cookie" not in response.headers
    assert "/reauthenticate" in client.get("/audit/export.csv").location


def test_an_error_page_sends_no_session_cookie_even_when_the_request_changed_the_session(
        app, agent, monkeypatch):
    client = signed_in(app, agent)
    before = client.get_cookie("moderation_session").value

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("moderation_app.staff.routes.queue_page", broken)
    response = client.get("/queue")

    assert response.status_code == 500
    assert "Set-Cookie" not in response.headers
    assert client.get_cookie("moderation_session").value == before


def test_sign_in_refused_by_the_throttle_checks_no_password(app, client, monkeypatch):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "1 per 15 minutes"
    user = make_user(app, "once@example.com", Role.SELLER)
    client.sign_in(user.email, WRONG)
    checked = []
    monkeypatch.setattr(User, "check_password", lambda self, password: checked.append(password))

    assert client.sign_in(user.email, PASSWORD).status_code == 429
    assert checked == []
