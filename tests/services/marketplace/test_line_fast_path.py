"""The importer reads the common line through a fast path (orjson, a few type checks) and leaves every
other line to the strict parser, the reference for what a line means and the source of every
rejection message (services/marketplace/lines.py). The fast path must never accept a line the
strict parser rejects, nor read one differently: checked here on thousands of lines, valid ones and
each field bent in the ways marketplace exports go wrong."""

from __future__ import annotations

import json
import random

import pytest

from moderation_app.models.marketplace import EXTERNAL_ID_LENGTH
from moderation_app.services.marketplace.lines import (
    MAX_BUYER_LENGTH,
    MAX_TEXT_LENGTH,
    MAX_TITLE_LENGTH,
    LineRejected,
    _parse_common,
    _parse_strict,
    parse_line,
)

VALID = {
    "review_id": "R-1", "order_id": "O-1", "order_status": "finished", "offer_id": "OF-1",
    "offer_title": "Offer 1: game service", "seller_email": "seller1@example.com",
    "buyer": "buyer1", "ratings": {"fulfillment": 5, "start_time": 4, "communication": 3},
    "text": "Fast delivery.", "created_at": "2026-10-01T12:00:00Z",
}
# What each field may be bent into: other types, edges of lengths, spaces, controls, unicode.
ODD_VALUES = [
    None, True, False, 0, 1, 5, 6, -1, 1.0, 5.0, 2**64, "", " ", "  x  ", "x ", " x", "\t", "x\ny",
    "\x00", "\x7f", "\u00a0x", "x\u2028", "é", "ß", "😀", "\ud800", "x" * 200, "y" * 256, "z" * 257,
    "R_1.2:3-4", "-R", "R/1", "UPPER@EXAMPLE.COM", "a@b", "not-an-email", "seller@example.com ",
    "2026-10-01T12:00:00", "2026-10-01 12:00:00+02:00", "2026-13-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-10-01", "refund", "canceled",
    "Finished", "paid", [], {}, ["x"], {"fulfillment": 5},
    *(text for limit in (EXTERNAL_ID_LENGTH, MAX_BUYER_LENGTH, MAX_TEXT_LENGTH, MAX_TITLE_LENGTH)
      for text in ("k" * limit, "k" * (limit + 1))),
]
RATING_VALUES = [1, 5, 0, 6, True, 3.0, "3", None, 2**64, -0]


def bent_lines(rng: random.Random, count: int) -> list[bytes]:
    lines = []
    for _ in range(count):
        record = json.loads(json.dumps(VALID))
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            key = rng.choice([*VALID, "ratings.fulfillment", "ratings.start_time",
                              "ratings.communication", "ratings.extra", "extra", "missing"])
            if key.startswith("ratings."):
                if isinstance(record.get("ratings"), dict):
                    record["ratings"][key.split(".")[1]] = rng.choice(RATING_VALUES)
            elif key == "missing":
                record.pop(rng.choice(list(VALID)), None)
            else:
                record[key] = rng.choice(ODD_VALUES)
        text = json.dumps(record, ensure_ascii=rng.random() < .5)
        if rng.random() < .1:
            text = " " + text + " "
        raw = text.encode("utf-8", "surrogatepass")
        if rng.random() < .05:
            raw = b"\xef\xbb\xbf" + raw
        lines.append(raw)
    return lines


def strict(raw: bytes):
    try:
        return _parse_strict(7, raw)
    except LineRejected as error:
        return f"rejected: {error}"


@pytest.mark.parametrize("seed", range(4))
def test_the_fast_path_accepts_only_what_the_strict_parser_accepts_and_reads_it_alike(seed):
    accepted = 0
    for raw in bent_lines(random.Random(seed), 3000):
        fast = _parse_common(7, raw)
        if fast is not None:
            accepted += 1
            assert fast == strict(raw), raw
            assert [type(value) for value in fast] == [type(value) for value in strict(raw)], raw
    assert accepted > 500  # the common line does take the fast path


def test_a_line_the_fast_path_leaves_gets_the_strict_parser_s_message():
    raw = json.dumps({**VALID, "order_status": "paid"}).encode()
    assert _parse_common(7, raw) is None
    with pytest.raises(LineRejected, match="'paid' cannot carry a review"):
        parse_line(7, raw)
