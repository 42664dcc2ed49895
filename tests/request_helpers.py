"""Helpers shared by the deletion-request HTTP tests: reviews through the real import service,
real images made with Pillow, multipart posts, and what the database and UPLOAD_DIR hold."""

from __future__ import annotations

import io
import json
import random
import re
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any

from flask import Flask
from PIL import Image, ImageDraw
from sqlalchemy import func, select, update

from conftest import FormClient, login
from moderation_app.extensions import db
from moderation_app.models import (
    AuditEvent, DeletionRequest, Evidence, MessageKind, OrderStatus, Reason, RequestMessage,
    RequestStatus, Review, User,
)
from moderation_app.services.requests.filing import review_snapshot
from moderation_app.services.marketplace.importer import ImportStats, apply_batch, parsed_batches

EXPLANATION = "The buyer wrote about a logo, but this order was a website. The chat shows it."
QUESTION = "Please show the chat where the buyer names the other offer."
REQUEST_URL = re.compile(r"^/seller/requests/(\d+)$")
REQUEST_LINK = re.compile(r'href="/seller/requests/(\d+)"')
OPEN = [RequestStatus.SUBMITTED, RequestStatus.NEEDS_INFO]
CLOSED = [RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.WITHDRAWN]
_serial = count(1)


def signed_in(app: Flask, user: User) -> FormClient:
    client = app.test_client()
    assert login(client, user.email).status_code == 302, "test user could not sign in"
    return client


# --- images --------------------------------------------------------------------------------------

def picture(size: tuple[int, int] = (160, 100), seed: int = 1) -> Image.Image:
    """A little screenshot-like picture with structure, so perceptual hashes differ by seed."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (245, 245, 245))
    draw = ImageDraw.Draw(image)
    for _ in range(10):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        draw.rectangle((x0, y0, x0 + rng.randrange(10, 60), y0 + rng.randrange(5, 30)),
                       fill=tuple(rng.randrange(256) for _ in range(3)))
    return image


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (160, 100), seed: int = 1) -> bytes:
    buffer = io.BytesIO()
    picture(size, seed).save(buffer, fmt)
    return buffer.getvalue()


def noisy_png(size: tuple[int, int] = (96, 96)) -> bytes:
    """Incompressible pixels: a PNG big enough to cut in half or to exceed a small byte limit."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, random.Random(3).randbytes(size[0] * size[1] * 3)).save(buffer, "PNG")
    return buffer.getvalue()


# --- reviews -------------------------------------------------------------------------------------

def review_line(seller: User, *, text: str = "Awful work, never again.",
                order_status: str = "finished") -> dict[str, Any]:
    serial = next(_serial)
    return {
        "review_id": f"R-{1000 + serial}", "order_id": f"O-{1000 + serial}",
        "order_status": order_status, "offer_id": f"F-{1000 + serial}",
        "offer_title": "Three-page website", "seller_email": seller.email,
        "buyer": f"buyer{serial}",
        "ratings": {"fulfillment": 1, "start_time": 2, "communication": 1},
        "text": text, "created_at": datetime(2026, 3, 1, 12, 0, tzinfo=UTC).isoformat(),
    }


def import_reviews(app: Flask, lines: list[dict[str, Any]]) -> list[str]:
    """Through the real import service, one commit per batch; returns the review ids."""
    rejected: list[tuple[int, str]] = []
    stats = ImportStats()
    numbered = [(number, json.dumps(line).encode()) for number, line in enumerate(lines, 1)]
    with app.app_context():
        for batch in parsed_batches(numbered, stats, lambda n, why: rejected.append((n, why))):
            apply_batch(batch, stats, lambda n, why: rejected.append((n, why)))
            db.session.commit()
    assert rejected == []
    return [line["review_id"] for line in lines]


def add_review(app: Flask, seller: User, **fields: Any) -> str:
    return import_reviews(app, [review_line(seller, **fields)])[0]


def hide_review(app: Flask, review_id: str) -> None:
    with app.app_context():
        db.session.execute(update(Review).where(Review.external_id == review_id).values(is_visible=False))
        db.session.commit()


def set_order_status(app: Flask, review_id: str, status: OrderStatus) -> None:
    with app.app_context():
        review = db.session.scalars(select(Review).where(Review.external_id == review_id)).one()
        review.order.status = status
        db.session.commit()


def add_request(app: Flask, seller: User, review_id: str, *,
                status: RequestStatus = RequestStatus.SUBMITTED,
                submitted_at: datetime | None = None, reason: Reason = Reason.WRONG_OFFER) -> int:
    """A request written straight to the database (for lists and states the UI cannot reach)."""
    with app.app_context():
        review = db.session.scalars(select(Review).where(Review.external_id == review_id)).one()
        deletion_request = DeletionRequest(
            review=review, seller_id=seller.id, reason=reason, explanation=EXPLANATION,
            review_snapshot=review_snapshot(review), status=status,
            submitted_at=submitted_at or datetime.now(UTC))
        db.session.add(deletion_request)
        db.session.commit()
        return deletion_request.id


# --- posting -------------------------------------------------------------------------------------

def evidence_parts(files: list[tuple[bytes, str]]) -> list[tuple[io.BytesIO, str]]:
    return [(io.BytesIO(data), name) for data, name in files]


def submit(client: FormClient, review_id: str, /, *, reason: str | None = "wrong_offer",
           explanation: str | None = EXPLANATION, files: list[tuple[bytes, str]] | None = None,
           **extra: Any):
    """POSTs the deletion-request form; by default one valid PNG. None leaves a field out."""
    if files is None:
        files = [(image_bytes("PNG"), "chat.png")]
    data: dict[str, Any] = {"reason": reason, "explanation": explanation,
                            "evidence": evidence_parts(files), **extra}
    data = {key: value for key, value in data.items() if value is not None}
    return client.post_form(f"/seller/reviews/{review_id}/deletion-request", data,
                            content_type="multipart/form-data")


def submitted_id(response) -> int:
    assert response.status_code in (302, 303), response.get_data(as_text=True)
    match = REQUEST_URL.match(response.location)
    assert match, response.location
    return int(match.group(1))


def file_request(client: FormClient, review_id: str, /, **kwargs: Any) -> int:
    return submitted_id(submit(client, review_id, **kwargs))


def answer(client: FormClient, request_id: int, message: str | None = "Here is the chat.",
           files: list[tuple[bytes, str]] | None = None, **extra: Any):
    data: dict[str, Any] = {"evidence": evidence_parts(files or []), **extra}
    if message is not None:
        data["message"] = message
    return client.post_form(f"/seller/requests/{request_id}/evidence", data,
                            content_type="multipart/form-data")


def ask_for_information(app: Flask, request_id: int, agent: User, body: str = QUESTION) -> None:
    """What an agent's "needs info" will do; there is no agent UI yet."""
    with app.app_context():
        deletion_request = db.session.get(DeletionRequest, request_id)
        deletion_request.status = RequestStatus.NEEDS_INFO
        db.session.add(RequestMessage(request=deletion_request, kind=MessageKind.INFO_REQUESTED,
                                      body=body, author=db.session.get(User, agent.id)))
        db.session.commit()


def set_request_status(app: Flask, request_id: int, status: RequestStatus) -> None:
    with app.app_context():
        db.session.get(DeletionRequest, request_id).status = status
        db.session.commit()


# --- looking at the result -----------------------------------------------------------------------

def page_text(response) -> str:
    return response.get_data(as_text=True)


def page_without_csrf_tokens(page) -> str:
    """A response's (or a body's) text with its CSRF tokens blanked: a token carries the second it
    was signed, so two otherwise identical pages differ when they straddle a second boundary."""
    text = page.decode() if isinstance(page, bytes) else page_text(page)
    return re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value=""', text)


def row_counts(app: Flask) -> dict[str, int]:
    """Everything a filing, an answer or a withdrawal writes."""
    with app.app_context():
        return {
            "requests": db.session.scalar(select(func.count()).select_from(DeletionRequest)),
            "evidence": db.session.scalar(select(func.count()).select_from(Evidence)),
            "messages": db.session.scalar(select(func.count()).select_from(RequestMessage)),
            "request events": db.session.scalar(select(func.count()).select_from(AuditEvent)
                                                .where(AuditEvent.action.like("request.%"))),
        }


NOTHING = {"requests": 0, "evidence": 0, "messages": 0, "request events": 0}


def nothing_stored(app: Flask) -> bool:
    return row_counts(app) == NOTHING and stored_files(app) == []


def stored_files(app: Flask) -> list[str]:
    upload_dir = Path(app.config["UPLOAD_DIR"])
    return sorted(path.name for path in upload_dir.iterdir()) if upload_dir.exists() else []


def load(app: Flask, model: type, object_id: int):
    """One row, detached with its columns loaded."""
    with app.app_context():
        row = db.session.get(model, object_id)
        assert row is not None
        db.session.expunge(row)
        return row


def request_state(app: Flask, request_id: int) -> dict[str, Any]:
    row = load(app, DeletionRequest, request_id)
    return {"status": row.status, "seller_id": row.seller_id, "submitted_at": row.submitted_at,
            "version": row.version}


def evidence_rows(app: Flask) -> list[Evidence]:
    with app.app_context():
        rows = list(db.session.scalars(select(Evidence).order_by(Evidence.id)))
        db.session.expunge_all()
        return rows


def request_events(app: Flask) -> list[AuditEvent]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("request.%"))
                                       .order_by(AuditEvent.id)))
        db.session.expunge_all()
        return rows


