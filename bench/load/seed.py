"""Creates the run's accounts inside the app, in one transaction: `python -m bench.load.seed < spec`.

Runs with the server's environment (DATABASE_URL, SECRET_KEY), through the real
services.accounts.create_user. The spec carries each account's password and its scrypt hash, made
once for both runs on every core (fixtures.password_hashes): 73 hashes at ~0.3 s each would
otherwise take half a minute per run. The app's hashing function is given the ready hash instead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from moderation_app import create_app  # noqa: E402
from moderation_app.extensions import db  # noqa: E402
from moderation_app.models import users  # noqa: E402
from moderation_app.services.accounts import create_user  # noqa: E402


def main() -> None:
    spec = json.load(sys.stdin)
    ready = {account["password"]: account["password_hash"] for account in spec["accounts"]}
    users.generate_password_hash = lambda password, method: ready[password]  # type: ignore[assignment]
    app = create_app()
    with app.app_context():
        for account in spec["accounts"]:
            create_user(account["email"], users.Role(account["role"]), account["password"])
        db.session.commit()
    print(f"created {len(spec['accounts'])} accounts")


if __name__ == "__main__":
    main()
