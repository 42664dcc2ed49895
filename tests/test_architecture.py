"""Which parts of moderation_app may import which: the package map of docs/design.md, checked.

The source is read with `ast`, never imported, so every import counts: at the top, inside a
function, under `if TYPE_CHECKING:`, relative or absolute. LAYERS and MAY_IMPORT are the map's
table in code; a new top-level module fails here until it is placed in both.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "moderation_app"


def find_package_dir() -> Path:
    # Walk up rather than count levels, so the test keeps working from a subfolder of tests/.
    for folder in Path(__file__).resolve().parents:
        if (folder / PACKAGE / "__init__.py").is_file():
            return folder / PACKAGE
    raise RuntimeError(f"no {PACKAGE}/ above {__file__}")


PACKAGE_DIR = find_package_dir()
ROOT = PACKAGE_DIR.parent

# The first name after `moderation_app.` decides the layer; `moderation_app` itself is create_app.
LAYERS = {
    "database": "core", "extensions": "core",
    "models": "models",
    "services": "services",
    "config": "settings", "settings": "settings",
    "web": "web", "permissions": "web", "sessions": "web", "throttle": "web",
    "security_log": "web", "forms": "web", "transactions": "web",
    "account": "blueprint", "auth": "blueprint", "seller": "blueprint", "staff": "blueprint", "evidence": "blueprint",
    "audit": "blueprint", "health": "blueprint",
    "team": "blueprint",
    "notifications": "blueprint",
    "webhooks": "blueprint",
    "replies": "blueprint",
    "api": "blueprint",
    "dashboard": "blueprint",
    "cli": "cli",
    "jobs": "jobs",
    "demo": "demo",
}
APP = "app"

# Settings (config.py from the environment, settings.py from current_app) sit above services: they
# hand services plain values, and services never reach for them. Only cli (and scripts outside the
# package) may reach demo: demo data never leaks into a request.
MAY_IMPORT = {
    "core": {"core"},
    "models": {"core", "models"},
    "services": {"core", "models", "services"},
    "settings": {"core", "models", "services"},
    "web": {"core", "models", "services", "settings", "web"},
    "blueprint": {"core", "models", "services", "settings", "web", "jobs"},  # + its own package, no other
    "cli": {"core", "models", "services", "settings", "cli", "demo", "jobs"},
    "demo": {"core", "models", "services", "settings", "demo"},
    # Jobs are entry points like views: settings, services, their own commits (transactions.py).
    "jobs": {"core", "models", "services", "settings", "web", "jobs"},
    APP: {"core", "models", "services", "settings", "web", "blueprint", "cli", "jobs", APP},
}

# Third-party packages a layer must not touch, by top-level name (`flask` is not `flask_login`).
# Models and services know nothing of a request: no current_app, request, session, g, url_for, flash.
FORBIDDEN_PACKAGES = {
    "models": {"flask"},
    "services": {"flask", "flask_login", "flask_wtf", "wtforms"},
}


def module_name(path: Path) -> tuple[str, bool]:
    """Dotted name of a source file, and whether it is a package's __init__."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


SOURCE_FILES = sorted(PACKAGE_DIR.rglob("*.py"))
KNOWN_MODULES = {module_name(path)[0] for path in SOURCE_FILES}


def imported_modules(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, module) for each import; `from pkg import sub` names pkg.sub when that is a module."""
    package = module if is_package else module.rpartition(".")[0]
    found: dict[tuple[int, str], None] = {}  # ordered, and `from m import (a, b)` counts once
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(((node.lineno, alias.name), None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[:len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found[node.lineno, submodule if submodule in KNOWN_MODULES else base] = None
    return sorted(found)


def layer_of(module: str) -> str | None:
    if module == PACKAGE:
        return APP
    return LAYERS.get(module.split(".")[1])


def violations(module: str, source: str, path: str, is_package: bool = False) -> list[str]:
    """Every import in `source` that the map forbids to `module`, as `path:line: …`."""
    layer = layer_of(module)
    if layer is None:
        return [f"{path}:1: {module} is in no layer; add it to LAYERS and to docs/design.md"]
    found = []
    for line, target in imported_modules(ast.parse(source, path), module, is_package):
        top = target.split(".")[0]
        if top != PACKAGE:
            if top in FORBIDDEN_PACKAGES.get(layer, ()):
                found.append(f"{path}:{line}: {module} imports {target}; {layer} may not import {top}")
            continue
        target_layer = layer_of(target)
        if target_layer is None:
            found.append(f"{path}:{line}: {module} imports {target}, which is in no layer")
        elif layer == target_layer == "blueprint":
            if target.split(".")[1] != module.split(".")[1]:
                found.append(f"{path}:{line}: {module} imports {target}; a blueprint imports no other")
        elif target_layer not in MAY_IMPORT[layer]:
            found.append(f"{path}:{line}: {module} imports {target}; {layer} may not import {target_layer}")
    return found


def test_every_module_imports_only_what_its_layer_may():
    assert len(SOURCE_FILES) > 30, f"found only {SOURCE_FILES} under {PACKAGE_DIR}"
    found = []
    for path in SOURCE_FILES:
        module, is_package = module_name(path)
        found += violations(module, path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)),
                            is_package)
    assert not found, "imports against the package map in docs/design.md:\n" + "\n".join(found)


def case(case_id: str, module: str, *rest):
    return pytest.param(f"moderation_app.{module}", *rest, id=case_id)


@pytest.mark.parametrize(("module", "source", "line"), [
    case("services-from-flask", "services.requests.claims", "from flask import current_app\n", 1),
    case("services-import-flask", "services.queue.listing", "import os\nimport flask\n", 2),
    case("services-flask-submodule", "services.audit.log", "import flask.globals as globals_\n", 1),
    case("services-lazy-import", "services.accounts", "def f():\n    from flask import url_for\n", 2),
    case("services-type-checking", "services.accounts",
         "if TYPE_CHECKING:\n    from flask_login import current_user\n", 2),
    case("services-relative-permissions", "services.requests.filing", "from ...permissions import can_view\n", 1),
    case("services-blueprint", "services.requests.filing", "from moderation_app import seller\n", 1),
    case("services-web", "services.accounts", "from moderation_app.web import DeskRequest\n", 1),
    case("services-sessions", "services.accounts", "from moderation_app.sessions import start_session\n", 1),
    case("services-cli", "services.accounts", "from moderation_app.cli.users import users_cli\n", 1),
    case("services-demo", "services.accounts", "from moderation_app.demo.seed import seed_demo\n", 1),
    case("services-create-app", "services.accounts", "from moderation_app import create_app\n", 1),
    case("services-settings", "services.requests.claims", "from moderation_app.settings import claim_lease\n", 1),
    case("models-settings", "models.requests", "from moderation_app.settings import page_size\n", 1),
    case("services-config", "services.evidence.images", "from moderation_app.config import MB\n", 1),
    case("core-services", "extensions", "from moderation_app.services.accounts import find_user\n", 1),
    case("models-services", "models.users", "from moderation_app.services.accounts import find_user\n", 1),
    case("models-flask", "models.users", "from flask import request\n", 1),
    case("models-blueprint", "models.requests", "from moderation_app.staff import routes\n", 1),
    case("blueprint-demo", "seller.routes", "from moderation_app.demo.seed import DEMO_LOGINS\n", 1),
    case("web-demo", "web", "from moderation_app.demo import seed\n", 1),
    case("blueprint-other-blueprint", "seller.routes", "from moderation_app.staff.forms import NoteForm\n", 1),
    case("cli-blueprint", "cli.users", "from moderation_app.auth.routes import login\n", 1),
    case("module-in-no-layer", "brand_new", "import os\n", 1),
])
def test_a_forbidden_import_is_reported_with_file_and_line(module, source, line):
    assert [v.split(" ")[0] for v in violations(module, source, "fake.py")] == [f"fake.py:{line}:"]


@pytest.mark.parametrize(("module", "source"), [
    case("services-models-core-services-werkzeug", "services.requests.filing",
         "from moderation_app.services.evidence.storage import EvidenceStore\n"
         "from moderation_app.models.users import User\nfrom moderation_app.extensions import db\n"
         "from ..errors import DomainError\nimport flask_sqlalchemy\nfrom werkzeug.security import safe_join\n"),
    case("models-flask-login-core", "models.users", "from flask_login import UserMixin\nfrom ..database import utcnow\n"),
    case("blueprint-own-package-web-flask", "staff.routes",
         "from moderation_app.staff import bp\nfrom . import forms\nfrom flask import request\n"
         "from moderation_app.permissions import can_view\n"),
    case("cli-demo-settings-flask", "cli.marketplace",
         "from moderation_app.demo.seed import seed_demo\nfrom flask import current_app\n"
         "from ..settings import evidence_store\n"),
    case("demo-services-demo", "demo.seed",
         "from moderation_app.services.accounts import create_user\nfrom .requests import seed_demo_requests\n"),
])
def test_an_allowed_import_is_not_reported(module, source):
    assert violations(module, source, "fake.py") == []


def test_every_forbidden_import_in_a_file_is_reported():
    source = "from flask import current_app\nimport os\nfrom moderation_app.web import DeskRequest\n"
    found = violations("moderation_app.services.queue.listing", source, "fake.py")
    assert [v.split(" ")[0] for v in found] == ["fake.py:1:", "fake.py:3:"]
