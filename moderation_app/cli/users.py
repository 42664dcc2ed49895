"""`flask --app wsgi users create|set-password|deactivate`."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from moderation_app.extensions import db
from moderation_app.models.users import Role
from moderation_app.services.accounts import create_user, deactivate, find_user, set_password
from moderation_app.services.errors import DomainError

users_cli = AppGroup("users", help="Manage desk accounts.")


def _read_password() -> str:
    # One line from stdin, so `printf '%s\n' "$PW" | flask users …` keeps it out of argv and history.
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise click.ClickException("No password on standard input.")
    return password


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice([role.value for role in Role]), required=True)
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input; without it the account cannot sign in yet.")
def users_create(email: str, role: str, password_stdin: bool) -> None:
    """Create an account."""
    password = _read_password() if password_stdin else None
    try:
        user = create_user(email, Role(role), password)
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"created {user.role.value} {user.email}" + ("" if password else " (no password yet)"))


@users_cli.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the new password from standard input.")
def users_set_password(email: str, password_stdin: bool) -> None:
    """Set or replace an account's password; its open sessions end."""
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"No user with email {email.strip().lower()}.")
    try:
        set_password(user, _read_password())
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"password set for {user.email}")


@users_cli.command("deactivate")
@click.argument("email")
def users_deactivate(email: str) -> None:
    """Stop an account from signing in and end its sessions at once."""
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"No user with email {email.strip().lower()}.")
    try:
        deactivate(user)
    except DomainError as error:  # e.g. the last active manager
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"deactivated {user.email}")
