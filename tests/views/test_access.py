"""Who may use which endpoint: one table for the whole app, checked against the URL map and
through real requests for every (endpoint, identity) pair."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask, url_for
from sqlalchemy import select
from werkzeug.routing import IntegerConverter, Rule, UUIDConverter

from moderation_app.extensions import db
from moderation_app.models import AuditEvent, Evidence
from moderation_app.models.users import Role
from moderation_app.permissions import PUBLIC, TOKEN, access_for
from tests.helpers.accounts import make_user
from tests.helpers.clients import FormClient, signed_in
from tests.helpers.marketplace import add_review
from tests.helpers.requests import file_request

SELLER, AGENT, MANAGER = Role.SELLER, Role.AGENT, Role.MANAGER
EVERY_ROLE = frozenset(Role)

# Every endpoint of the app and who may use it. A new route needs a line here, or
# test_every_endpoint_has_an_entry_in_the_access_table fails.
ACCESS: dict[str, str | frozenset[Role]] = {
    "static": PUBLIC,
    "auth.index": PUBLIC,
    "auth.login": PUBLIC,
    "auth.logout": EVERY_ROLE,
    "account.settings": EVERY_ROLE,
    "account.save_settings": EVERY_ROLE,
    "auth.reauthenticate": EVERY_ROLE,
    "health.healthz": PUBLIC,
    "seller.reviews": frozenset({SELLER}),
    "seller.new_request": frozenset({SELLER}),
    "seller.requests": frozenset({SELLER}),
    "seller.request_detail": frozenset({SELLER}),
    "seller.answer": frozenset({SELLER}),
    "seller.appeal_request": frozenset({SELLER}),
    "seller.withdraw": frozenset({SELLER}),
    # Staff see every file; a seller only their own (the object check answers 404).
    "evidence.full_size": EVERY_ROLE,
    "evidence.thumbnail": EVERY_ROLE,
    "evidence.processing": EVERY_ROLE,
    "staff.queue": frozenset({AGENT, MANAGER}),
    "staff.claim_next": frozenset({AGENT, MANAGER}),
    "staff.request_detail": frozenset({AGENT, MANAGER}),
    "staff.claim_request": frozenset({AGENT, MANAGER}),
    "staff.release_request": frozenset({AGENT, MANAGER}),
    "staff.add_request_note": frozenset({AGENT, MANAGER}),
    "staff.decide_request": frozenset({AGENT, MANAGER}),
    "staff.decide_on_page": frozenset({AGENT, MANAGER}),
    "dashboard.index": frozenset({AGENT, MANAGER}),
    "dashboard.as_json": frozenset({MANAGER}),
    # Agents get their own figures; the signals table answers them 403 inside the view.
    "dashboard.csv": frozenset({AGENT, MANAGER}),
    "audit.index": frozenset({MANAGER}),
    "audit.export_csv": frozenset({MANAGER}),
    "audit.export_jsonl": frozenset({MANAGER}),
    # Prepared exports: a manager's own only (the service answers 404 for another's).
    "audit.exports": frozenset({MANAGER}),
    "audit.create_export": frozenset({MANAGER}),
    "audit.download_export": frozenset({MANAGER}),
    "auth.set_password": PUBLIC,
    "team.index": frozenset({MANAGER}),
    "team.create": frozenset({MANAGER}),
    "team.member": frozenset({MANAGER}),
    "team.deactivate_account": frozenset({MANAGER}),
    "team.reactivate_account": frozenset({MANAGER}),
    "team.change_account_role": frozenset({MANAGER}),
    "team.reset_account_password": frozenset({MANAGER}),
    "notifications.index": frozenset({MANAGER}),
    "notifications.show": frozenset({MANAGER}),
    "notifications.message_html": frozenset({MANAGER}),
    "webhooks.index": frozenset({MANAGER}),
    "webhooks.show": frozenset({MANAGER}),
    "webhooks.retry_event": frozenset({MANAGER}),
    "replies.index": frozenset({MANAGER}),
    "replies.create": frozenset({MANAGER}),
    "replies.template": frozenset({MANAGER}),
    "replies.edit": frozenset({MANAGER}),
    "replies.retire": frozenset({MANAGER}),
    "replies.reactivate": frozenset({MANAGER}),
    # The marketplace's API: a bearer token only; no cookie identity is admitted (tests/views/api).
    "api.receive_reviews": TOKEN,
    "api.changed_request_list": TOKEN,
}

IDENTITIES = ("anonymous", "seller", "agent", "manager")

# Placeholder values for URL arguments, by argument name first, then by converter.
PLACEHOLDER_BY_NAME = {"filename": "css/app.css", "figure": "backlog"}


def placeholder(name: str, rule: Rule) -> object:
    if name in PLACEHOLDER_BY_NAME:
        return PLACEHOLDER_BY_NAME[name]
    converter = rule._converters[name]
    if isinstance(converter, IntegerConverter):
        return 1
    if isinstance(converter, UUIDConverter):
        return "00000000-0000-0000-0000-000000000001"
    return "placeholder"


def rule_for(app: Flask, endpoint: str) -> Rule:
    return next(iter(app.url_map.iter_rules(endpoint)))


def request_endpoint(app: Flask, client: FormClient, endpoint: str):
    rule = rule_for(app, endpoint)
    with app.test_request_context():
        url = url_for(endpoint, **{name: placeholder(name, rule) for name in rule.arguments})
    response = client.get(url) if "GET" in rule.methods else client.post_form(url)
    # Buffer the body, then close: a static file response otherwise leaves its file open.
    response.get_data()
    response.close()
    return url, response


def client_for(app: Flask, identity: str) -> FormClient:
    if identity == "anonymous":
        return app.test_client()
    return signed_in(app, make_user(app, f"{identity}@example.com", Role(identity)))


def is_login_redirect(response) -> bool:
    return response.status_code == 302 and urlsplit(response.location).path == "/login" \
        and "next" in parse_qs(urlsplit(response.location).query)


def test_every_endpoint_has_an_entry_in_the_access_table(app):
    missing = {rule.endpoint for rule in app.url_map.iter_rules()} - set(ACCESS)
    assert not missing, f"endpoints without an entry in ACCESS: {sorted(missing)}"


def test_access_table_names_only_existing_endpoints(app):
    stale = set(ACCESS) - {rule.endpoint for rule in app.url_map.iter_rules()}
    assert not stale, f"ACCESS names endpoints the app does not have: {sorted(stale)}"


@pytest.mark.parametrize("endpoint", sorted(ACCESS))
def test_endpoint_declares_the_access_the_table_expects(app, endpoint):
    assert access_for(endpoint, app) == ACCESS[endpoint]


@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize("endpoint", sorted(ACCESS))
def test_endpoint_admits_exactly_the_identities_in_the_table(app, endpoint, identity):
    client = client_for(app, identity)
    url, response = request_endpoint(app, client, endpoint)
    access = ACCESS[endpoint]
    if access == TOKEN:
        # No token: 401 asking for one; any cookie (a session, or the anonymous CSRF session a
        # form post fetched first) is refused outright, before a session is even looked at.
        assert response.is_json, response.status_code
        assert response.status_code == (401 if identity == "anonymous" and not client.get_cookie(
            app.config["SESSION_COOKIE_NAME"]) else 403)
        return
    allowed = access == PUBLIC or (identity != "anonymous" and Role(identity) in access)

    if allowed:
        assert response.status_code not in (401, 403), response.status_code
        assert not is_login_redirect(response), response.location
    elif identity != "anonymous":
        assert response.status_code == 403
    elif "GET" in rule_for(app, endpoint).methods:
        assert is_login_redirect(response), (response.status_code, response.location)
        assert parse_qs(urlsplit(response.location).query)["next"] == [url]
    else:
        assert response.status_code == 401


@pytest.mark.parametrize("identity", IDENTITIES)
def test_view_without_an_access_declaration_is_refused_to_everyone(app, identity):
    # Routes can only be added before the app's first request, so before anyone signs in.
    app.add_url_rule("/undeclared", "undeclared", lambda: "undeclared view body",
                     methods=["GET", "POST"])
    client = client_for(app, identity)

    for response in (client.get("/undeclared"), client.post_form("/undeclared")):
        assert response.status_code == 403
        assert b"undeclared view body" not in response.data


# --- no state change through GET -----------------------------------------------------------------

# Reading may leave a trace in the audit log (an export is itself audited); nothing else changes.
GET_MAY_RECORD = {"audit.exported"}


def database_snapshot(app: Flask) -> dict[str, list[tuple]]:
    with app.app_context():
        return {table.name: [tuple(row) for row in db.session.execute(
                    select(table).order_by(*table.primary_key.columns))]
                for table in db.metadata.sorted_tables if table.name != "audit_events"}


def audit_actions(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


@pytest.mark.parametrize("identity", IDENTITIES)
def test_no_get_request_changes_anything(app, identity, tmp_path):
    seller = make_user(app, "seller@example.com", Role.SELLER)
    seller_client = signed_in(app, seller)
    review_id = add_review(app, seller)
    request_id = file_request(seller_client, review_id)
    with app.app_context():
        evidence_id = db.session.scalar(select(Evidence.id))
    client = seller_client if identity == "seller" else client_for(app, identity)
    arguments = {"request_id": request_id, "evidence_id": evidence_id, "review_id": review_id,
                 "filename": "css/app.css", "user_id": seller.id, "token": "not-a-live-token", "figure": "flow",
                 "template_id": 1, "notification_id": 1, "event_id": 1, "export_id": 1}
    before, actions_before = database_snapshot(app), audit_actions(app)

    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        with app.test_request_context():
            url = url_for(rule.endpoint, **{name: arguments[name] for name in rule.arguments})
        response = client.get(url, query_string={"next": "/queue"})
        response.get_data()
        response.close()

    assert database_snapshot(app) == before
    assert set(audit_actions(app)[len(actions_before):]) <= GET_MAY_RECORD
