"""One line of the marketplace's JSON Lines export: read it (bounded), check every field, parse it.

Nothing here touches the database; importer.py applies parsed lines in batches.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import IO, Any, NamedTuple

import orjson

from moderation_app.models.marketplace import (
    CRITERIA,
    EXTERNAL_ID_LENGTH,
    REVIEWABLE_ORDER_STATUSES,
    OrderStatus,
)
from moderation_app.services.accounts import normalize_email
from moderation_app.services.errors import DomainError

MAX_LINE_BYTES = 64 * 1024
MAX_TEXT_LENGTH = 10_000
MAX_TITLE_LENGTH = 300
MAX_BUYER_LENGTH = 100
# A review cannot be written after now; a day's slack for a marketplace clock that runs ahead.
FUTURE_SLACK = timedelta(days=1)
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# A review id is one segment of the seller's "Request deletion" link. "/" would split it, "." and
# ".." are resolved away by browsers, and "%", "?", "#", spaces and backslashes are read
# differently by browsers, proxies and logs; an id outside this set could never be challenged.
_ROUTABLE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")
_ORDER_STATUSES = {status.value: status for status in OrderStatus}
_BOM = b"\xef\xbb\xbf"


class LineRejected(Exception):
    """The line cannot be imported; the message says why."""


class ReviewLine(NamedTuple):
    """A checked line. A tuple: a million of them are built per import, at a fraction of the
    cost of a frozen dataclass."""

    line_number: int
    review_id: str
    order_id: str
    order_status: OrderStatus
    offer_id: str
    offer_title: str
    seller_email: str
    buyer: str
    fulfillment: int
    start_time: int
    communication: int
    text: str
    created_at: datetime


# --- reading and checking one line -------------------------------------------------------------

def read_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """(line number, raw bytes) for each line; None for a line longer than MAX_LINE_BYTES,
    which is skipped without ever being held whole in memory."""
    number = 0
    while True:
        chunk = stream.readline(MAX_LINE_BYTES + 1)
        if not chunk:
            return
        number += 1
        if len(chunk) > MAX_LINE_BYTES and not chunk.endswith(b"\n"):
            while chunk and not chunk.endswith(b"\n"):
                chunk = stream.readline(MAX_LINE_BYTES)
            yield number, None
            continue
        yield number, chunk


def _identifier(record: dict[str, Any], key: str, max_length: int = EXTERNAL_ID_LENGTH) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not (value := value.strip()):
        raise LineRejected(f"{key} must be a non-empty string")
    if len(value) > max_length:
        raise LineRejected(f"{key} is longer than {max_length} characters")
    if _CONTROL_CHARACTERS.search(value):
        raise LineRejected(f"{key} contains control characters")
    # NUL is a control character, caught above; only a lone surrogate is left, never in ASCII.
    if not value.isascii():
        _check_storable(value, key)
    return value


def _review_id(record: dict[str, Any]) -> str:
    value = _identifier(record, "review_id")
    if not _ROUTABLE_ID.fullmatch(value):
        raise LineRejected(f"review_id {value!r} cannot be part of a link: use ASCII letters, "
                           "digits and . _ : - (starting with a letter or digit)")
    return value


def _check_storable(value: str, key: str) -> None:
    # JSON can escape what no database takes: a lone surrogate (\ud800) cannot be encoded at all,
    # and PostgreSQL refuses NUL in text. Either would abort the whole import at write time.
    if "\x00" in value:
        raise LineRejected(f"{key} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise LineRejected(f"{key} contains a lone surrogate, which is not valid Unicode") from None


def _rating(ratings: dict[str, Any], key: str) -> int:
    value = ratings.get(key)
    # bool is an int in Python; true/false are not star counts.
    if not isinstance(value, int) or isinstance(value, bool):
        raise LineRejected(f"ratings.{key} must be a whole number from 1 to 5")
    if not 1 <= value <= 5:
        raise LineRejected(f"ratings.{key} is {value}, outside 1-5")
    return value


def _in_the_future(created_at: datetime) -> bool:
    return created_at > datetime.now(UTC) + FUTURE_SLACK


@lru_cache(maxsize=4096)
def _seller_email(raw: str) -> str:
    try:
        return normalize_email(raw)
    except DomainError:
        raise LineRejected(f"seller_email {raw!r} is not a valid email address") from None


def parse_line(line_number: int, raw: bytes) -> ReviewLine:
    """Check one line; raise LineRejected saying why it cannot be imported."""
    return _parse_common(line_number, raw) or _parse_strict(line_number, raw)


_FAST_STATUSES = {status.value: status for status in REVIEWABLE_ORDER_STATUSES}


def _parse_common(line_number: int, raw: bytes) -> ReviewLine | None:
    """The common, valid line in a third of the time of _parse_strict; None for anything else
    (invalid, or merely unusual), which _parse_strict then accepts or rejects with its message.
    So it accepts only what _parse_strict accepts, and with the same values: orjson refuses
    invalid UTF-8 and lone surrogates (escaped or encoded), and a number it would read otherwise
    than the json module (an integer past 64 bits becomes a float) fails a type check here."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(record) is not dict:
        return None
    get = record.get
    order_status = get("order_status")
    ratings = get("ratings")
    text = get("text")
    if text is None:
        text = ""
    raw_created = get("created_at")
    seller_email = get("seller_email")
    review_id = get("review_id")
    order_id, offer_id = get("order_id"), get("offer_id")
    offer_title, buyer = get("offer_title"), get("buyer")
    if not (type(order_status) is str and (order_status := _FAST_STATUSES.get(order_status))
            and type(ratings) is dict and len(ratings) == 3
            and type(text) is str and len(text) <= MAX_TEXT_LENGTH and "\x00" not in text
            and type(raw_created) is str and type(seller_email) is str
            and type(review_id) is str and len(review_id) <= EXTERNAL_ID_LENGTH
            and _ROUTABLE_ID.fullmatch(review_id)
            and type(order_id) is str and 0 < len(order_id) <= EXTERNAL_ID_LENGTH
            and type(offer_id) is str and 0 < len(offer_id) <= EXTERNAL_ID_LENGTH
            and type(offer_title) is str and 0 < len(offer_title) <= MAX_TITLE_LENGTH
            and type(buyer) is str and 0 < len(buyer) <= MAX_BUYER_LENGTH
            # Printable excludes every control character and every space but U+0020, so with
            # no space at either end there is nothing for strip() to take: each value is what
            # _identifier returns.
            and (order_id + offer_id + offer_title + buyer).isprintable()
            and order_id[0] != " " != order_id[-1] and offer_id[0] != " " != offer_id[-1]
            and offer_title[0] != " " != offer_title[-1] and buyer[0] != " " != buyer[-1]):
        return None
    # Three keys, each a whole number 1-5 (bool is not: its type is not int): the known criteria.
    fulfillment = ratings.get("fulfillment")
    start_time = ratings.get("start_time")
    communication = ratings.get("communication")
    if not (type(fulfillment) is int and 1 <= fulfillment <= 5
            and type(start_time) is int and 1 <= start_time <= 5
            and type(communication) is int and 1 <= communication <= 5):
        return None
    try:
        created_at = datetime.fromisoformat(raw_created)
        if created_at.tzinfo is None:
            return None
        created_at = created_at.astimezone(UTC)
        if _in_the_future(created_at):
            return None
        seller_email = _seller_email(seller_email)
    except (ValueError, OverflowError, LineRejected):
        return None
    return ReviewLine(line_number, review_id, order_id, order_status, offer_id, offer_title,
                      seller_email, buyer, fulfillment, start_time, communication, text, created_at)


def _parse_strict(line_number: int, raw: bytes) -> ReviewLine:
    """Every check in order, with the json module: the reference for what a line means, and
    the message for every line _parse_common leaves to it."""
    try:
        # Decode strictly first: json.loads(bytes) lets UTF-8-encoded surrogates through.
        # (The C utf-8 codec, with the BOM cut by hand: "utf-8-sig" is a slower Python codec.)
        record = json.loads((raw[3:] if raw.startswith(_BOM) else raw).decode("utf-8"))
    except UnicodeDecodeError:
        raise LineRejected("line is not valid UTF-8") from None
    except json.JSONDecodeError as error:
        raise LineRejected(f"invalid JSON ({error.msg})") from None
    except ValueError as error:  # e.g. an integer past Python's 4300-digit conversion limit
        raise LineRejected(f"invalid JSON ({error})") from None
    return parse_record(line_number, record)


def parse_record(line_number: int, record: Any) -> ReviewLine:
    """Check one decoded record (a line's JSON, or an element of the API's array: the same
    rules, in the same order, with the same messages); raise LineRejected saying why."""
    if not isinstance(record, dict):
        raise LineRejected("line must be a JSON object")

    raw_status = record.get("order_status")
    order_status = _ORDER_STATUSES.get(raw_status) if isinstance(raw_status, str) else None
    if order_status is None:
        raise LineRejected(f"order_status {raw_status!r} is not a marketplace order status")
    if order_status not in REVIEWABLE_ORDER_STATUSES:
        raise LineRejected(
            f"order_status {order_status.value!r} cannot carry a review "
            "(only finished, refund or canceled orders can)"
        )

    ratings = record.get("ratings")
    if not isinstance(ratings, dict):
        raise LineRejected("ratings must be an object with fulfillment, start_time and communication")
    unknown = sorted(set(ratings) - set(CRITERIA))
    if unknown:
        raise LineRejected(f"ratings has unknown criteria: {', '.join(map(repr, unknown))}")

    text = record.get("text")
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise LineRejected("text must be a string")
    if len(text) > MAX_TEXT_LENGTH:
        raise LineRejected(f"text is longer than {MAX_TEXT_LENGTH} characters")
    if "\x00" in text or not text.isascii():
        _check_storable(text, "text")

    raw_created = record.get("created_at")
    try:
        created_at = datetime.fromisoformat(raw_created) if isinstance(raw_created, str) else None
    except ValueError:
        created_at = None
    if created_at is None:
        raise LineRejected(f"created_at {raw_created!r} is not an ISO 8601 time")
    if created_at.tzinfo is None:
        raise LineRejected("created_at must include a timezone (e.g. 2026-10-01T12:00:00Z)")
    try:
        created_at = created_at.astimezone(UTC)
    except OverflowError:
        raise LineRejected(f"created_at {raw_created!r} is out of range in UTC") from None
    if _in_the_future(created_at):
        raise LineRejected(f"created_at {raw_created!r} is in the future: a review cannot have "
                           "been written yet")

    seller_email = record.get("seller_email")
    if not isinstance(seller_email, str):
        raise LineRejected("seller_email must be a string")

    # Positional, in field order (the checks run in this order too).
    return ReviewLine(
        line_number,
        _review_id(record),
        _identifier(record, "order_id"),
        order_status,
        _identifier(record, "offer_id"),
        _identifier(record, "offer_title", MAX_TITLE_LENGTH),
        _seller_email(seller_email),
        _identifier(record, "buyer", MAX_BUYER_LENGTH),
        _rating(ratings, "fulfillment"),
        _rating(ratings, "start_time"),
        _rating(ratings, "communication"),
        text,
        created_at,
    )
