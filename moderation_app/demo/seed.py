"""Demo data for `make run`: accounts of each role, offers and a few hundred reviews.

Reviews go through the marketplace importer, so demo data obeys the same rules as real data.
Deterministic (fixed random seed and clock) and idempotent.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from moderation_app.demo.replies import seed_demo_templates
from moderation_app.demo.requests import seed_demo_requests
from moderation_app.models.marketplace import CRITERIA
from moderation_app.models.users import Role
from moderation_app.services.accounts import create_user, find_user, set_password
from moderation_app.services.evidence.storage import StagedFiles
from moderation_app.services.marketplace.importer import ImportStats, apply_batch, parsed_batches

# Development-only credentials, printed by `seed-demo`; never use these accounts in production.
DEMO_LOGINS = [
    ("maria.seller@example.com", "seller", "demo-seller-maria"),
    ("kenji.seller@example.com", "seller", "demo-seller-kenji"),
    ("ana.agent@example.com", "agent", "demo-agent-ana-1"),
    ("omar.agent@example.com", "agent", "demo-agent-omar-1"),
    ("lena.manager@example.com", "manager", "demo-manager-lena"),
]
# Review dates are spread over the 240 days before this moment.
DEMO_CLOCK = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

OFFERS = {
    "maria.seller@example.com": [
        "Valorant rank boost: Silver to Gold",
        "League of Legends coaching, 2 hours",
        "Apex Legends badge unlock",
    ],
    "kenji.seller@example.com": [
        "WoW gold, 100k, fast delivery",
        "Diablo IV leveling 1-50",
        "FIFA Ultimate Team coins, 1M",
        "Destiny 2 raid carry",
    ],
    "quickboost.shop@example.com": ["CS2 Premier rating boost", "Dota 2 MMR calibration"],
    "goldsmith.trader@example.com": ["RuneScape gold, 50M", "Lost Ark gold bundle"],
}

GOOD_TEXTS = [
    "Fast and friendly, started within ten minutes. Would buy again.",
    "Exactly as described, great communication throughout.",
    "Delivered ahead of schedule and kept me updated every step.",
    "Solid service, a little slow to reply at night but all done.",
    "",
]
MIXED_TEXTS = [
    "Took longer than promised to start, but the result was fine.",
    "Okay overall. Had to ask twice for an update.",
    "",
]
BAD_TEXTS = [
    "Never started on time and barely answered my messages.",
    "Order was refunded after two days of waiting. Disappointed.",
]
# The four kinds of review a seller may ask to delete, as they look in the wild.
SUSPECT_TEXTS = [
    "SCAM seller, everyone go to quickboost.shop instead, much cheaper and honest!!",
    "The gold arrived but my character was banned, terrible account I bought.",
    "I will change this to 5 stars if you give me another 50% off on my next order.",
    "My internet provider has been down all week, worst experience ever.",
    "Give me a free extra coaching session or this 1 star stays forever.",
]
BUYERS = [f"{name}{number}" for name in
          ("nightowl", "pixelpaladin", "frostbyte", "shadowfox", "lootgoblin", "critmaster",
           "manaflow", "questkeeper", "stormrider", "voidwalker") for number in (7, 21, 88, 404)]


def _demo_lines(rng: random.Random, now: datetime) -> list[bytes]:
    lines = []
    review_number = 1000
    for seller, titles in OFFERS.items():
        for offer_index, title in enumerate(titles):
            offer_id = f"OF-{seller[:4].upper()}-{offer_index + 1}"
            for _ in range(rng.randint(25, 45)):
                review_number += 1
                roll = rng.random()
                if roll < 0.6:
                    stars, texts, status = (4, 5), GOOD_TEXTS, "finished"
                elif roll < 0.8:
                    stars, texts, status = (3, 4), MIXED_TEXTS, "finished"
                elif roll < 0.92:
                    stars, texts, status = (1, 2), BAD_TEXTS, rng.choice(["refund", "canceled"])
                else:
                    stars, texts, status = (1, 1), SUSPECT_TEXTS, rng.choice(["finished", "canceled"])
                created = now - timedelta(days=rng.randint(0, 240), minutes=rng.randint(0, 1439))
                lines.append(json.dumps({
                    "review_id": f"R-{review_number}",
                    "order_id": f"O-{review_number + 50_000}",
                    "order_status": status,
                    "offer_id": offer_id,
                    "offer_title": title,
                    "seller_email": seller,
                    "buyer": rng.choice(BUYERS),
                    "ratings": {criterion: rng.randint(*stars)
                                for criterion in CRITERIA},
                    "text": rng.choice(texts),
                    "created_at": created.isoformat().replace("+00:00", "Z"),
                }).encode())
    return lines


def seed_demo(staged: StagedFiles | None = None, now: datetime | None = None) -> bool:
    """Load whatever part of the demo data is missing. Returns True when anything was added.

    Each piece is idempotent on its own: accounts by email, reviews through the importer, requests
    per seller. Requests (with evidence files) are filed only when `staged` is given; the caller
    commits inside its block."""
    changed = False
    for email, role, password in DEMO_LOGINS:
        user = find_user(email)
        if user is None:
            create_user(email, Role(role), password)
            changed = True
        elif user.password_hash is None:
            # e.g. a demo seller that an import created first: make the printed login true.
            set_password(user, password)
            changed = True
    stats = ImportStats()

    def reject(line_number: int, reason: str) -> None:
        raise RuntimeError(f"demo line {line_number} rejected: {reason}")

    # Fixed clock and seed: the same lines every run, so a second run changes nothing.
    lines = _demo_lines(random.Random(20261128), now or DEMO_CLOCK)
    for batch in parsed_batches(enumerate(lines, 1), stats, reject):
        apply_batch(batch, stats, reject)
    manager = find_user(next(email for email, role, _ in DEMO_LOGINS if role == "manager"))
    templates = seed_demo_templates(manager)
    filed = 0
    if staged is not None:
        agent = find_user(next(email for email, role, _ in DEMO_LOGINS if role == "agent"))
        for email, role, _ in DEMO_LOGINS:
            if role == "seller":
                filed += seed_demo_requests(find_user(email), staged, agent)
    return changed or stats.imported > 0 or stats.updated > 0 or filed > 0 or templates > 0
