"""What a run starts from: screenshots, the accounts and the sellers' reviews (the same every run).

Screenshots are chat captures drawn with Pillow, PNG and JPEG, 50-200 KB, each with a block of noise
(a profile photo) so that they weigh what real ones do and their perceptual hashes differ. Sellers
share the pool, as real sellers share screenshots of the same scammer: the "evidence seen before"
signals of the agents' pages have something to find.
"""

from __future__ import annotations

import io
import json
import random
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from werkzeug.security import generate_password_hash

# The app's own cost: sign-ins cost what they cost in production, and none is rehashed on the way.
from moderation_app.models.users import PASSWORD_HASH_METHOD
DOMAIN = "load.example.com"
SCREENSHOTS = 16
REVIEWS_PER_SELLER = 40
BUYERS = 300
WORDS = ("please refund discount or I leave one star review your offer another shop competitor "
         "account never delivered raid boost carry level gold cheaper wrong server chat").split()


@dataclass(frozen=True)
class Account:
    email: str
    role: str
    password: str


@dataclass(frozen=True)
class Cast:
    agents: list[Account]
    managers: list[Account]
    sellers: list[Account]
    target: Account  # the attacked account: a real agent account nobody else signs in to

    @property
    def everyone(self) -> list[Account]:
        return [*self.agents, *self.managers, *self.sellers, self.target]


def cast(agents: int, managers: int, sellers: int) -> Cast:
    def account(name: str, role: str) -> Account:
        return Account(f"{name}@{DOMAIN}", role, f"load-{name}-password")

    return Cast(
        agents=[account(f"agent{n:02d}", "agent") for n in range(1, agents + 1)],
        managers=[account(f"manager{n}", "manager") for n in range(1, managers + 1)],
        sellers=[account(f"seller{n:02d}", "seller") for n in range(1, sellers + 1)],
        target=account("target.agent", "agent"),
    )


def _hash(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_HASH_METHOD)


def password_hashes(accounts: list[Account], cache: Path) -> dict[str, str]:
    """scrypt at the app's cost takes ~0.4 s a password: hashed on every core, once for both runs,
    and kept in `cache` (bench/out/, ignored by git) for the next run: these passwords are fixtures."""
    known: dict[str, str] = {}
    if cache.exists():
        known = json.loads(cache.read_text())
    keys = {a.email: f"{PASSWORD_HASH_METHOD} {a.password}" for a in accounts}
    missing = [a for a in accounts if keys[a.email] not in known]
    if missing:
        with ProcessPoolExecutor() as pool:
            known.update(zip((keys[a.email] for a in missing), pool.map(_hash, [a.password for a in missing])))
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known, indent=0))
    return {a.email: known[keys[a.email]] for a in accounts}


def seed_spec(people: Cast, hashes: dict[str, str]) -> str:
    return json.dumps({"accounts": [{"email": a.email, "role": a.role, "password": a.password,
                                     "password_hash": hashes[a.email]} for a in people.everyone]})


def marketplace_lines(sellers: list[Account], seed: int = 1) -> str:
    """JSON Lines for `flask import-marketplace`: REVIEWS_PER_SELLER eligible reviews per seller
    (finished, refunded or canceled orders), mostly low ratings, from a shared pool of buyers."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    statuses = ("finished", "finished", "finished", "refund", "canceled")
    lines = []
    for number, seller in enumerate(sellers, 1):
        for review in range(REVIEWS_PER_SELLER):
            stars = [rng.choice((1, 1, 2, 2, 3, 4, 5)) for _ in range(3)]
            lines.append(json.dumps({
                "review_id": f"LR-{number:02d}-{review:03d}",
                "order_id": f"LO-{number:02d}-{review:03d}",
                "order_status": rng.choice(statuses),
                "offer_id": f"LF-{number:02d}-{review % 4}",
                "offer_title": f"Offer {review % 4} of seller {number}",
                "seller_email": seller.email,
                "buyer": f"buyer{rng.randrange(BUYERS):03d}",
                "ratings": dict(zip(("fulfillment", "start_time", "communication"), stars)),
                "text": " ".join(rng.choice(WORDS) for _ in range(rng.randrange(3, 25)))
                        if rng.random() < 0.8 else None,
                "created_at": (now - timedelta(minutes=rng.randrange(60, 60 * 24 * 60)))
                              .strftime("%Y-%m-%dT%H:%M:%SZ"),
            }))
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Screenshot:
    name: str
    mimetype: str
    data: bytes


def _chat_capture(seed: int, fmt: str) -> bytes:
    rng = random.Random(seed)
    width, height = rng.choice([(1280, 800), (1366, 768), (1080, 720), (900, 1200), (720, 480)])
    image = Image.new("RGB", (width, height), (rng.randrange(235, 256),) * 3)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=15)
    draw.rectangle((0, 0, width, 56), fill=(rng.randrange(30, 90), rng.randrange(60, 140),
                                            rng.randrange(120, 200)))
    draw.text((20, 18), f"Chat with buyer{rng.randrange(BUYERS):03d} - order LO-{rng.randrange(10**6)}",
              fill="white", font=font)
    top = 80
    while top < height - 60:
        lines = rng.randrange(1, 4)
        bubble = rng.randrange(width // 4, width * 2 // 3)
        left = 20 if rng.random() < 0.5 else width - bubble - 20
        draw.rounded_rectangle((left, top, left + bubble, top + 22 * lines + 16), 10,
                               fill=(255, 255, 255) if left == 20 else (210, 235, 255))
        for line in range(lines):
            draw.text((left + 12, top + 8 + 22 * line),
                      " ".join(rng.choice(WORDS) for _ in range(bubble // 60)), fill=(20, 20, 20), font=font)
        top += 22 * lines + 30
    side = rng.randrange(100, 200)
    photo = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    image.paste(photo, (width - side - 20, height - side - 20))
    buffer = io.BytesIO()
    if fmt == "PNG":
        image.save(buffer, "PNG")
    else:
        image.save(buffer, "JPEG", quality=rng.randrange(80, 93))
    return buffer.getvalue()


def screenshots(folder: Path, count: int = SCREENSHOTS) -> list[Screenshot]:
    """Made once per run and kept in `folder` (the run's output), so a report can show them."""
    folder.mkdir(parents=True, exist_ok=True)
    shots = []
    for number in range(count):
        fmt, extension, mimetype = (("PNG", "png", "image/png") if number % 2
                                    else ("JPEG", "jpg", "image/jpeg"))
        data = _chat_capture(number, fmt)
        path = folder / f"chat-{number:02d}.{extension}"
        path.write_bytes(data)
        shots.append(Screenshot(path.name, mimetype, data))
    return shots
