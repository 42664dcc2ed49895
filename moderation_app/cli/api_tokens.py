"""`flask --app wsgi api-tokens create|list|revoke`: the marketplace's API tokens (docs/api.md)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from moderation_app.extensions import db
from moderation_app.services.api_tokens import TokenRefused, create_token, list_tokens, revoke_token

api_tokens_cli = AppGroup("api-tokens", help="Manage the marketplace's API tokens.")


@api_tokens_cli.command("create")
@click.argument("name")
def api_tokens_create(name: str) -> None:
    """Create a token and print it, once: only its hash is kept."""
    try:
        issued = create_token(name)
    except TokenRefused as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"created token {issued.name} ({issued.prefix}…); it is shown only now:", err=True)
    # The token alone on stdout, so `… api-tokens create NAME > file` keeps just the secret.
    click.echo(issued.token)


@api_tokens_cli.command("list")
def api_tokens_list() -> None:
    """Every token: name, prefix, created, last used, revoked (UTC)."""
    def moment(value) -> str:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else "-"

    tokens = list_tokens()
    if not tokens:
        click.echo("no API tokens")
        return
    click.echo(f"{'name':<24} {'prefix':<14} {'created':<20} {'last used':<20} revoked")
    for token in tokens:
        click.echo(f"{token.name:<24} {token.prefix + '…':<14} {moment(token.created_at):<20} "
                   f"{moment(token.last_used_at):<20} {moment(token.revoked_at)}")


@api_tokens_cli.command("revoke")
@click.argument("name")
def api_tokens_revoke(name: str) -> None:
    """Revoke a token: its next call is refused."""
    try:
        token = revoke_token(name)
    except TokenRefused as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"revoked token {token.name} ({token.prefix}…)")
