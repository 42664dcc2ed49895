"""`/set-password/<token>`: the one-time link a manager hands out, opened by its owner. It works
once, for 24 hours, until a newer link replaces it; every link that does not work gets the same
page; the token is stored hashed and appears in no table and no audit event; and a link that
does not work costs a read, never a write."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select, update

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models.users import PasswordLink, Role, User
from tests.helpers.clients import page_text, signed_in
from tests.helpers.stored import audit_details, load
from tests.helpers.team import event_count, shown_link, user_by_email

NEW_PASSWORD = "my own long passphrase"
NOT_VALID = "This link does not work"


def invite(manager_client, email: str = "new.agent@example.com", role: str = "agent") -> str:
    response = manager_client.post_form("/team", {"email": email, "role": role})
    assert response.status_code == 303, page_text(response)
    return shown_link(manager_client.get(response.location))


def choose(client, link: str, password: str = NEW_PASSWORD, confirm: str | None = None):
    return client.post_form(link, {"password": password,
                                   "password_confirm": password if confirm is None else confirm})


def password_hash(app, email: str) -> str | None:
    return user_by_email(app, email).password_hash


def expire_links(app, by: timedelta = timedelta(seconds=1)) -> None:
    """As if 24 hours had passed: every link's expiry moved to just before now."""
    with app.app_context():
        for link in db.session.scalars(select(PasswordLink)):
            link.expires_at = link.created_at - by
        db.session.commit()


def test_the_new_user_chooses_a_password_once_and_signs_in_with_it(app, client, manager_client):
    link = invite(manager_client)

    form = client.get(link)
    assert form.status_code == 200
    assert "new.agent@example.com" in page_text(form)
    response = choose(client, link)

    assert response.status_code == 303 and response.location == "/login"
    assert "Your password is set" in page_text(client.get("/login"))
    assert client.sign_in("new.agent@example.com", NEW_PASSWORD).status_code == 302
    user = user_by_email(app, "new.agent@example.com")
    assert audit_details(app, "user.password_set") == [
        {"user_id": user.id, "email": user.email, "via": "link"}]
    # Not twice.
    again = choose(app.test_client(), link, "an attacker's passphrase")
    assert again.status_code == 404 and NOT_VALID in page_text(again)
    assert app.test_client().sign_in("new.agent@example.com", NEW_PASSWORD).status_code == 302
    assert len(audit_details(app, "user.password_set")) == 1


@pytest.mark.parametrize("password, confirm, message", [
    (NEW_PASSWORD, "my own long passphrasE", "The two passwords are not the same."),
    ("short", "short", "at least 12 characters"),
    ("", "", "Choose a password."),
    ("x" * 257, "x" * 257, "Field cannot be longer than 256 characters."),
])
def test_a_refused_password_changes_nothing_and_the_link_still_works(
        app, client, manager_client, password, confirm, message):
    link = invite(manager_client)
    before = event_count(app)

    response = choose(client, link, password, confirm)

    assert response.status_code == 422
    assert message in page_text(response)
    assert password_hash(app, "new.agent@example.com") is None
    assert event_count(app) == before
    assert choose(client, link).status_code == 303


def test_a_link_does_not_work_after_24_hours(app, client, manager_client):
    link = invite(manager_client)
    expire_links(app)

    for response in (client.get(link), choose(client, link)):
        assert response.status_code == 404
        assert NOT_VALID in page_text(response)
    assert password_hash(app, "new.agent@example.com") is None


def test_a_link_still_works_a_minute_before_its_expiry(app, client, manager_client):
    link = invite(manager_client)
    with app.app_context():
        db.session.execute(update(PasswordLink).values(expires_at=utcnow() + timedelta(minutes=1)))
        db.session.commit()

    assert choose(client, link).status_code == 303


def test_an_older_link_stops_working_when_a_newer_one_is_made(app, client, agent, manager_client):
    manager_client.post_form(f"/team/{agent.id}/reset-password")
    older = shown_link(manager_client.get(f"/team/{agent.id}"))
    manager_client.post_form(f"/team/{agent.id}/reset-password")
    newer = shown_link(manager_client.get(f"/team/{agent.id}"))

    assert older != newer
    assert choose(client, older).status_code == 404
    assert choose(client, newer).status_code == 303


def test_a_deactivated_users_link_does_not_work(app, client, manager_client):
    link = invite(manager_client)
    user = user_by_email(app, "new.agent@example.com")
    manager_client.post_form(f"/team/{user.id}/deactivate")
    manager_client.post_form(f"/team/{user.id}/reactivate")

    assert choose(client, link).status_code == 404
    assert password_hash(app, "new.agent@example.com") is None


def test_unknown_used_and_expired_links_get_the_very_same_page(app, client, manager_client):
    used = invite(manager_client, "used@example.com")
    choose(client, used)
    expired = invite(manager_client, "expired@example.com")
    expire_links(app)

    pages = [app.test_client().get(link) for link in
             (used, expired, "/set-password/unknown-token", "/set-password/" + "a" * 43)]

    assert {page.status_code for page in pages} == {404}
    assert len({page.get_data() for page in pages}) == 1


def test_the_token_is_stored_hashed_and_is_in_no_table_and_no_audit_event(app, client, agent,
                                                                          manager_client):
    tokens = [invite(manager_client).rsplit("/", 1)[1]]
    manager_client.post_form(f"/team/{agent.id}/reset-password")
    tokens.append(shown_link(manager_client.get(f"/team/{agent.id}")).rsplit("/", 1)[1])
    choose(client, f"/set-password/{tokens[0]}")

    with app.app_context():
        everything = " ".join(str(row) for table in db.metadata.sorted_tables
                              for row in db.session.execute(select(table)))
    assert all(token not in everything for token in tokens)
    assert "user.password_reset_link" in everything and "user.password_set" in everything


@pytest.mark.parametrize("link", ["/set-password/unknown-token", "/set-password/" + "x" * 5000])
def test_a_link_that_does_not_work_costs_one_read_and_no_write(app, client, manager, link):
    token = client.csrf_token()
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement.split(None, 1)[0].upper() + " " + statement[:60])

    event.listen(engine, "before_cursor_execute", record)
    try:
        responses = [client.get(link),
                     client.post(link, data={"csrf_token": token, "password": NEW_PASSWORD,
                                             "password_confirm": NEW_PASSWORD})]
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert [response.status_code for response in responses] == [404, 404]
    writes = [s for s in statements if s.split()[0] in {"INSERT", "UPDATE", "DELETE"}
              or "IMMEDIATE" in s]
    assert writes == []
    # The lookup by hash, once per request; the second query of the long token's request would
    # be none (it is refused by its length before the database is asked).
    lookups = [s for s in statements if s.startswith("SELECT") and "password_links" in s]
    assert len(lookups) == (2 if len(link) < 100 else 0)


def test_setting_a_password_through_a_link_ends_the_owners_other_sessions(app, agent, agent_client,
                                                                          manager_client):
    # The reset ended the sessions open then; one opened since (the old password still works
    # until the link is used) ends when the new password is set.
    manager_client.post_form(f"/team/{agent.id}/reset-password")
    link = shown_link(manager_client.get(f"/team/{agent.id}"))
    fresh = signed_in(app, agent)

    assert choose(app.test_client(), link).status_code == 303

    assert fresh.get("/queue").status_code == 302
    assert load(app, User, agent.id).role is Role.AGENT
