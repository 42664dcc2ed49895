"""Marketplace review records as `import-marketplace` and the API take them: a good one
(`record`), its bytes as a line (`encode`), and the bad lines each refused with its reason
(`REJECTED_LINES`), shared so the file import and the API are held to the same rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest


def record(number: int = 1001, **overrides: Any) -> dict[str, Any]:
    """One review line as the marketplace exports it; `number` keys review and order."""
    line = {
        "review_id": f"R-{number}",
        "order_id": f"O-{number}",
        "order_status": "finished",
        "offer_id": "OF-9",
        "offer_title": "Valorant rank boost: Silver to Gold",
        "seller_email": "s@example.com",
        "buyer": "nightowl7",
        "ratings": {"fulfillment": 5, "start_time": 4, "communication": 2},
        "text": "Fast and friendly.",
        "created_at": "2026-10-01T12:00:00Z",
    }
    line.update(overrides)
    return line


def encode(line: dict[str, Any] | str | bytes) -> bytes:
    if isinstance(line, bytes):
        return line
    if isinstance(line, str):
        return line.encode()
    return json.dumps(line).encode()


def without(key: str) -> bytes:
    line = record(2002)
    del line[key]
    return encode(line)


def with_overrides(**overrides: Any) -> bytes:
    return encode(record(2002, **overrides))


def with_rating(key: str, value: Any) -> bytes:
    ratings = {"fulfillment": 5, "start_time": 4, "communication": 2, key: value}
    return with_overrides(ratings=ratings)


# Past the day of slack allowed for a marketplace clock that runs ahead (lines.FUTURE_SLACK).
TWO_DAYS_AHEAD = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0).isoformat()

REJECTED_LINES = [
    pytest.param(b'{"review_id": "R-2002", ', "invalid JSON (", id="invalid-json"),
    pytest.param(b"[1, 2, 3]", "line must be a JSON object", id="array-not-object"),
    pytest.param(b'"R-2002"', "line must be a JSON object", id="string-not-object"),
    pytest.param(b"null", "line must be a JSON object", id="null-not-object"),
    pytest.param(b'{"review_id": "R-2002", "text": "caf\xe9"}', "line is not valid UTF-8",
                 id="latin-1-byte"),
    pytest.param(b"\xff\xfe{}", "line is not valid UTF-8", id="invalid-utf-8-start"),
    # A surrogate encoded as UTF-8 bytes (CESU-8) is not UTF-8 either.
    pytest.param(with_overrides(text="x").replace(b'"x"', b'"\xed\xa0\x80"'), "line is not valid UTF-8",
                 id="utf-8-encoded-surrogate"),
    pytest.param(without("review_id"), "review_id must be a non-empty string", id="missing-review_id"),
    pytest.param(without("order_id"), "order_id must be a non-empty string", id="missing-order_id"),
    pytest.param(without("order_status"), "order_status None is not a marketplace order status",
                 id="missing-order_status"),
    pytest.param(without("offer_id"), "offer_id must be a non-empty string", id="missing-offer_id"),
    pytest.param(without("offer_title"), "offer_title must be a non-empty string",
                 id="missing-offer_title"),
    pytest.param(without("seller_email"), "seller_email must be a string", id="missing-seller_email"),
    pytest.param(without("buyer"), "buyer must be a non-empty string", id="missing-buyer"),
    pytest.param(without("ratings"), "ratings must be an object", id="missing-ratings"),
    pytest.param(without("created_at"), "created_at None is not an ISO 8601 time", id="missing-created_at"),
    pytest.param(with_overrides(ratings={"fulfillment": 5, "start_time": 4}),
                 "ratings.communication must be a whole number from 1 to 5", id="missing-rating"),
    pytest.param(with_overrides(review_id="   "), "review_id must be a non-empty string", id="blank-review_id"),
    pytest.param(with_overrides(review_id=2002), "review_id must be a non-empty string", id="numeric-review_id"),
    pytest.param(with_overrides(order_id="O-" + "9" * 63), "order_id is longer than 64 characters",
                 id="order_id-too-long"),
    pytest.param(with_overrides(offer_title="Boost\x1b[2J"), "offer_title contains control characters",
                 id="control-character-in-title"),
    pytest.param(with_overrides(buyer="night\nowl"), "buyer contains control characters",
                 id="newline-in-buyer"),
    pytest.param(with_rating("fulfillment", 0), "ratings.fulfillment is 0, outside 1-5", id="rating-0"),
    pytest.param(with_rating("start_time", 6), "ratings.start_time is 6, outside 1-5", id="rating-6"),
    pytest.param(with_rating("communication", -1), "ratings.communication is -1, outside 1-5",
                 id="rating-negative"),
    pytest.param(with_rating("fulfillment", "5"), "ratings.fulfillment must be a whole number from 1 to 5",
                 id="rating-string"),
    pytest.param(with_rating("fulfillment", True),
                 "ratings.fulfillment must be a whole number from 1 to 5", id="rating-true"),
    pytest.param(with_rating("start_time", 4.5), "ratings.start_time must be a whole number from 1 to 5",
                 id="rating-fraction"),
    pytest.param(with_rating("start_time", None), "ratings.start_time must be a whole number from 1 to 5",
                 id="rating-null"),
    pytest.param(with_overrides(ratings="{}").replace(b'"{}"', b'{"fulfillment": ' + b"9" * 5000 + b"}"),
                 "invalid JSON (", id="rating-with-5000-digits"),
    pytest.param(with_rating("speed", 5), "ratings has unknown criteria: 'speed'", id="unknown-rating-key"),
    pytest.param(with_overrides(ratings=[5, 4, 2]), "ratings must be an object", id="ratings-as-list"),
    pytest.param(with_overrides(order_status="in_progress"),
                 "order_status 'in_progress' cannot carry a review (only finished, refund or canceled "
                 "orders can)", id="status-in_progress"),
    pytest.param(with_overrides(order_status="paid"), "order_status 'paid' cannot carry a review",
                 id="status-paid"),
    pytest.param(with_overrides(order_status="shipped"), "order_status 'shipped' is not a marketplace order status",
                 id="status-unknown"),
    pytest.param(with_overrides(order_status="FINISHED"), "order_status 'FINISHED' is not a marketplace order status",
                 id="status-wrong-case"),
    pytest.param(with_overrides(created_at="2026-10-01T12:00:00"),
                 "created_at must include a timezone (e.g. 2026-10-01T12:00:00Z)", id="created_at-naive"),
    pytest.param(with_overrides(created_at="yesterday"), "created_at 'yesterday' is not an ISO 8601 time",
                 id="created_at-not-a-time"),
    pytest.param(with_overrides(created_at=1759320000), "created_at 1759320000 is not an ISO 8601 time",
                 id="created_at-number"),
    pytest.param(with_overrides(created_at="0001-01-01T00:00:00+01:00"), "created_at '0001-01-01T00:00:00+01:00' "
                 "is out of range in UTC", id="created_at-before-year-1-in-utc"),
    pytest.param(with_overrides(created_at="2999-01-01T00:00:00Z"), "created_at '2999-01-01T00:00:00Z' is "
                 "in the future: a review cannot have been written yet", id="created_at-far-ahead"),
    pytest.param(with_overrides(created_at=TWO_DAYS_AHEAD), f"created_at '{TWO_DAYS_AHEAD}' is in the future",
                 id="created_at-two-days-ahead"),
    pytest.param(with_overrides(seller_email="not-an-email"),
                 "seller_email 'not-an-email' is not a valid email address", id="invalid-email"),
    pytest.param(with_overrides(seller_email="s@"), "seller_email 's@' is not a valid email address",
                 id="email-without-domain"),
    pytest.param(with_overrides(seller_email=["s@example.com"]), "seller_email must be a string", id="email-as-list"),
    pytest.param(with_overrides(text=5), "text must be a string", id="text-number"),
    pytest.param(with_overrides(text="x" * 10_001), "text is longer than 10000 characters", id="text-too-long"),
    # Valid JSON escapes that no database column can hold; they used to abort the whole import.
    pytest.param(with_overrides(text="a\u0000b"), "text contains a NUL character", id="nul-in-text"),
    pytest.param(with_overrides(text="\ud83d"), "text contains a lone surrogate", id="lone-surrogate-in-text"),
    pytest.param(with_overrides(offer_title="Boost \udc00"), "offer_title contains a lone surrogate",
                 id="lone-surrogate-in-title"),
]
