"""`flask users …` and `flask seed-demo`: accounts made and changed from the shell, checked through
the real login form."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from moderation_app.extensions import db
from moderation_app.models.audit import AuditEvent
from moderation_app.models.marketplace import Review
from moderation_app.models.users import Role, User
from moderation_app.services.marketplace.ratings import seller_rating
from tests.helpers.accounts import PASSWORD
from tests.helpers.stored import audit_details

NEW_PASSWORD = "a brand new passphrase"
LOGIN_FAILED = b"Email or password is not correct."
DEMO_LOGIN_LINE = re.compile(r"^\s+(seller|agent|manager)\s+(\S+@\S+)\s+(\S+)$")


def create(runner, email: str, role: str, password: str | None = None):
    args = ["users", "create", email, "--role", role]
    if password is None:
        return runner.invoke(args=args)
    return runner.invoke(args=[*args, "--password-stdin"], input=password + "\n")


def set_password(runner, email: str, password: str):
    return runner.invoke(args=["users", "set-password", email, "--password-stdin"], input=password + "\n")


def users(app) -> list[tuple[str, Role, bool]]:
    with app.app_context():
        return [(email, role, password_hash is not None) for email, role, password_hash in
                db.session.execute(select(User.email, User.role, User.password_hash).order_by(User.id))]


def assert_login_refused(client, email: str, password: str) -> None:
    response = client.sign_in(email, password)
    assert response.status_code == 200
    assert LOGIN_FAILED in response.data


# --- users create ------------------------------------------------------------------------------


@pytest.mark.parametrize("role, home", [("seller", "/seller/reviews"), ("agent", "/queue"),
                                        ("manager", "/dashboard")])
def test_created_user_signs_in_with_the_password_from_stdin(app, runner, client, role, home):
    result = runner.invoke(args=["users", "create", "New.User@Example.com", "--role", role,
                                 "--password-stdin"], input=PASSWORD + "\nnot part of the password\n")

    assert result.exit_code == 0, result.output
    assert result.stdout == f"created {role} new.user@example.com\n"
    assert users(app) == [("new.user@example.com", Role(role), True)]
    response = client.sign_in("new.user@example.com", PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == home


def test_only_the_first_line_of_stdin_is_the_password(app, runner, client):
    create(runner, "agent@example.com", "agent", PASSWORD + "\nsecond line")

    assert_login_refused(client, "agent@example.com", PASSWORD + "\nsecond line")
    assert client.sign_in("agent@example.com", PASSWORD).status_code == 302


def test_creating_a_user_is_audited_without_the_password(app, runner):
    create(runner, "agent@example.com", "agent", PASSWORD)
    create(runner, "seller@example.com", "seller")

    details = audit_details(app, "user.created")
    assert [(d["email"], d["role"], d["has_password"]) for d in details] == [
        ("agent@example.com", "agent", True), ("seller@example.com", "seller", False),
    ]
    with app.app_context():
        assert not any(PASSWORD in text for text in db.session.scalars(select(AuditEvent.details)))


def test_user_created_without_password_stdin_exists_but_cannot_sign_in(app, runner, client):
    result = create(runner, "seller@example.com", "seller")

    assert result.exit_code == 0, result.output
    assert result.stdout == "created seller seller@example.com (no password yet)\n"
    assert users(app) == [("seller@example.com", Role.SELLER, False)]
    assert_login_refused(client, "seller@example.com", PASSWORD)


@pytest.mark.parametrize("email", ["seller@example.com", "  SELLER@Example.com "])
def test_duplicate_email_is_refused_and_changes_nothing(app, runner, client, seller, email):
    before = users(app)

    result = create(runner, email, "manager", NEW_PASSWORD)

    assert result.exit_code == 1
    assert result.stderr == "Error: A user with email seller@example.com already exists.\n"
    assert users(app) == before
    assert audit_details(app, "user.created") == [
        {"user_id": seller.id, "email": "seller@example.com", "role": "seller", "has_password": True},
    ]
    assert_login_refused(client, "seller@example.com", NEW_PASSWORD)
    assert client.sign_in("seller@example.com", PASSWORD).headers["Location"] == "/seller/reviews"


@pytest.mark.parametrize("role", ["admin", "Seller", ""])
def test_invalid_role_is_refused(app, runner, role):
    result = create(runner, "someone@example.com", role, PASSWORD)

    assert result.exit_code == 2
    assert "Invalid value for '--role'" in result.stderr
    assert users(app) == []


def test_role_is_required(app, runner):
    result = runner.invoke(args=["users", "create", "someone@example.com"])

    assert result.exit_code == 2
    assert "Missing option '--role'" in result.stderr
    assert users(app) == []


@pytest.mark.parametrize("password", ["x" * 11, "short pass!"])
def test_password_shorter_than_12_characters_is_refused_and_no_user_is_created(app, runner, password):
    result = create(runner, "agent@example.com", "agent", password)

    assert result.exit_code == 1
    assert result.stderr == "Error: Password must be at least 12 characters.\n"
    assert users(app) == []
    assert audit_details(app, "user.created") == []


def test_password_of_exactly_12_characters_is_accepted(app, runner, client):
    result = create(runner, "agent@example.com", "agent", "x" * 12)

    assert result.exit_code == 0, result.output
    assert client.sign_in("agent@example.com", "x" * 12).status_code == 302


def test_password_longer_than_256_characters_is_refused(app, runner):
    result = create(runner, "agent@example.com", "agent", "x" * 257)

    assert result.exit_code == 1
    assert result.stderr == "Error: Password must be at most 256 characters.\n"
    assert users(app) == []


def test_empty_stdin_is_refused_when_a_password_was_promised(app, runner):
    result = runner.invoke(args=["users", "create", "agent@example.com", "--role", "agent",
                                 "--password-stdin"], input="")

    assert result.exit_code == 1
    assert result.stderr == "Error: No password on standard input.\n"
    assert users(app) == []


@pytest.mark.parametrize("email", ["not-an-email", "agent@", "@example.com", "agent@@example.com"])
def test_invalid_email_is_refused(app, runner, email):
    result = create(runner, email, "agent", PASSWORD)

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Invalid email address: ")
    assert users(app) == []


# --- users set-password ------------------------------------------------------------------------


def test_set_password_replaces_the_password_and_is_audited(app, runner, client, seller):
    result = set_password(runner, "Seller@Example.com", NEW_PASSWORD)

    assert result.exit_code == 0, result.output
    assert result.stdout == "password set for seller@example.com\n"
    assert_login_refused(client, "seller@example.com", PASSWORD)
    assert client.sign_in("seller@example.com", NEW_PASSWORD).status_code == 302
    assert audit_details(app, "user.password_set") == [
        {"user_id": seller.id, "email": "seller@example.com"},
    ]


def test_set_password_ends_sessions_signed_in_before(app, runner, seller_client):
    assert seller_client.get("/seller/reviews").status_code == 200

    assert set_password(runner, "seller@example.com", NEW_PASSWORD).exit_code == 0

    response = seller_client.get("/seller/reviews")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_set_password_gives_a_password_to_an_account_created_without_one(app, runner, client):
    create(runner, "seller@example.com", "seller")

    assert set_password(runner, "seller@example.com", NEW_PASSWORD).exit_code == 0

    assert client.sign_in("seller@example.com", NEW_PASSWORD).headers["Location"] == "/seller/reviews"


def test_set_password_for_an_unknown_email_is_an_error(app, runner, seller):
    result = set_password(runner, "Nobody@Example.com", NEW_PASSWORD)

    assert result.exit_code == 1
    assert result.stderr == "Error: No user with email nobody@example.com.\n"
    assert users(app) == [("seller@example.com", Role.SELLER, True)]
    assert audit_details(app, "user.password_set") == []


def test_short_new_password_is_refused_and_the_old_one_keeps_working(app, runner, seller_client, client):
    result = set_password(runner, "seller@example.com", "too short")

    assert result.exit_code == 1
    assert result.stderr == "Error: Password must be at least 12 characters.\n"
    assert seller_client.get("/seller/reviews").status_code == 200
    assert client.sign_in("seller@example.com", PASSWORD).status_code == 302
    assert audit_details(app, "user.password_set") == []


def test_set_password_requires_password_stdin(app, runner, seller):
    result = runner.invoke(args=["users", "set-password", "seller@example.com"], input=NEW_PASSWORD + "\n")

    assert result.exit_code == 2
    assert "--password-stdin" in result.stderr


# --- users deactivate --------------------------------------------------------------------------


def test_deactivate_ends_the_session_and_refuses_later_logins(app, runner, seller, seller_client, client):
    assert seller_client.get("/seller/reviews").status_code == 200

    result = runner.invoke(args=["users", "deactivate", "seller@example.com"])

    assert result.exit_code == 0, result.output
    assert result.stdout == "deactivated seller@example.com\n"
    response = seller_client.get("/seller/reviews")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert_login_refused(client, "seller@example.com", PASSWORD)
    assert audit_details(app, "user.deactivated") == [{"user_id": seller.id, "email": "seller@example.com"}]


def test_deactivating_an_unknown_email_is_an_error(app, runner):
    result = runner.invoke(args=["users", "deactivate", "nobody@example.com"])

    assert result.exit_code == 1
    assert result.stderr == "Error: No user with email nobody@example.com.\n"
    assert audit_details(app, "user.deactivated") == []


def test_the_last_active_manager_cannot_be_deactivated_from_the_cli(app, runner, manager):
    result = runner.invoke(args=["users", "deactivate", manager.email])

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "manager" in result.stderr
    assert audit_details(app, "user.deactivated") == []


# --- seed-demo ---------------------------------------------------------------------------------


def demo_logins(stdout: str) -> list[tuple[str, str, str]]:
    return [match.groups() for match in map(DEMO_LOGIN_LINE.match, stdout.splitlines()) if match]


def review_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Review))


def test_seed_demo_loads_data_and_prints_the_demo_logins(app, runner):
    result = runner.invoke(args=["seed-demo"])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == ["demo data: loaded", "demo logins (development only):"]
    logins = demo_logins(result.stdout)
    assert {role for role, _, _ in logins} == {"seller", "agent", "manager"}
    assert {(email, Role(role), True) for role, email, _ in logins} <= set(users(app))
    assert review_count(app) > 100


def test_seed_demo_twice_reports_already_present_and_adds_nothing(app, runner):
    first = runner.invoke(args=["seed-demo"])
    reviews, accounts = review_count(app), users(app)

    second = runner.invoke(args=["seed-demo"])

    assert second.exit_code == 0, second.output
    assert second.stdout.splitlines()[0] == "demo data: already present"
    assert demo_logins(second.stdout) == demo_logins(first.stdout)
    assert review_count(app) == reviews
    assert users(app) == accounts


def test_every_printed_demo_login_signs_in(app, runner):
    logins = demo_logins(runner.invoke(args=["seed-demo"]).stdout)

    assert len(logins) == 5
    for _, email, password in logins:
        assert app.test_client().sign_in(email, password).status_code == 302, email


def test_printed_demo_seller_sees_their_reviews_and_rating(app, runner, client):
    logins = demo_logins(runner.invoke(args=["seed-demo"]).stdout)
    _, email, password = next(entry for entry in logins if entry[0] == "seller")
    with app.app_context():
        seller_id = db.session.scalar(select(User.id).where(User.email == email))
        rating = seller_rating(seller_id)
        newest = db.session.scalar(select(Review.external_id).where(Review.seller_id == seller_id)
                                   .order_by(Review.created_at.desc(), Review.id.desc()).limit(1))
        someone_elses = db.session.scalar(select(Review.external_id)
                                          .where(Review.seller_id != seller_id).limit(1))

    response = client.sign_in(email, password)
    assert response.headers["Location"] == "/seller/reviews"
    page = client.get("/seller/reviews").get_data(as_text=True)

    assert rating.review_count > 0
    assert f"from {rating.review_count} visible reviews" in page
    assert f'<span class="big-number">{rating.overall:.2f}</span>' in page
    assert f">{newest}</span>" in page
    assert f">{someone_elses}</span>" not in page


def test_seed_demo_makes_the_printed_login_work_for_a_seller_an_import_created(app, runner, client):
    from moderation_app.demo.seed import DEMO_LOGINS

    email, _, password = DEMO_LOGINS[0]
    assert runner.invoke(args=["users", "create", email, "--role", "seller"]).exit_code == 0

    result = runner.invoke(args=["seed-demo"])

    assert result.exit_code == 0, result.output
    assert client.sign_in(email, password).status_code == 302
