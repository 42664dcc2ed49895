"""The moderation desk: create_app() builds a configured Flask application."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from moderation_app import (
    account,
    api,
    audit,
    auth,
    dashboard,
    evidence,
    health,
    models,  # noqa: F401  (every model: complete metadata for Alembic)
    notifications,
    replies,
    seller,
    staff,
    team,
    webhooks,
)
from moderation_app.cli import register as register_cli
from moderation_app.config import PROJECT_ROOT, base_settings, check_settings
from moderation_app.database import configure_sqlite
from moderation_app.extensions import csrf, db, login_manager, migrate
from moderation_app.models.audit import guard_audit_events
from moderation_app.permissions import enforce_access, refuse_cookies_to_api
from moderation_app.services.accounts import load_user_by_session_token
from moderation_app.services.evidence.images import configure_pillow
from moderation_app.sessions import DeskSessionInterface, enforce_session_lifetime
from moderation_app.throttle import LoginThrottle
from moderation_app.transactions import begins_immediately
from moderation_app.web import (
    DeskRequest,
    RowIdConverter,
    add_security_headers,
    register_error_handlers,
    register_template_helpers,
)

BLUEPRINTS = (account.bp, api.bp, audit.bp, auth.bp, dashboard.bp, evidence.bp, health.bp, seller.bp,
              staff.bp, team.bp, notifications.bp, replies.bp, webhooks.bp)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(base_settings(app.instance_path))
    app.config.from_prefixed_env()
    if test_config is not None:
        app.config.from_mapping(test_config)
    check_settings(app.config, testing=app.testing, debug=app.debug)
    if app.config["PROXY_COUNT"]:
        # Behind N trusted proxies: take client address, scheme and host from their headers.
        count = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=count, x_proto=count, x_host=count)

    register_extensions(app)
    configure_libraries()
    app.url_map.converters["int"] = RowIdConverter
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    register_request_hooks(app)
    register_cli(app)
    return app


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    LoginThrottle(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_user_by_session_token)
    with app.app_context():
        configure_sqlite(db.engine, begins_immediately)


def configure_libraries() -> None:
    """Process-wide settings the rules rely on, made here rather than on import."""
    guard_audit_events(db.session)
    configure_pillow()


def register_request_hooks(app: Flask) -> None:
    app.request_class = DeskRequest
    app.session_interface = DeskSessionInterface()
    # The API refuses cookies before any session is looked at (expired, renewed or used).
    app.before_request(refuse_cookies_to_api)
    # Expiry first, so an expired session meets the access check as an anonymous visitor.
    app.before_request(enforce_session_lifetime)
    app.before_request(enforce_access)
    app.after_request(add_security_headers)
    register_error_handlers(app)
    register_template_helpers(app)
