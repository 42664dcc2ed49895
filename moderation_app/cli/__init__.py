"""Command-line tools, one module per area; `register` adds them all to `flask --app wsgi`."""

from __future__ import annotations

from flask import Flask

from moderation_app.cli.api_tokens import api_tokens_cli
from moderation_app.cli.audit import audit_cli
from moderation_app.cli.counters import counters_cli
from moderation_app.cli.evidence import evidence_cli
from moderation_app.cli.jobs import jobs_cli
from moderation_app.cli.marketplace import import_marketplace, seed_demo_command
from moderation_app.cli.notifications import notifications_cli
from moderation_app.cli.users import users_cli
from moderation_app.cli.webhooks import webhooks_cli


def register(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(counters_cli)
    app.cli.add_command(evidence_cli)
    app.cli.add_command(import_marketplace)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(notifications_cli)
    app.cli.add_command(webhooks_cli)
    app.cli.add_command(api_tokens_cli)
    app.cli.add_command(jobs_cli)
