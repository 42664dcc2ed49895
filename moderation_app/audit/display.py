"""How an audit event reads in the viewer: its details as key/value pairs, long values folded.

Display only: the stored details stay the canonical JSON the hash covers, and the exports carry
them raw. Values are returned as plain text; the template escapes them like any other text."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Past this many characters a value is shown folded, with its start as the summary.
LONG_VALUE = 80
SUMMARY_LENGTH = 60


@dataclass(frozen=True)
class DetailItem:
    key: str
    value: str

    @property
    def is_long(self) -> bool:
        return len(self.value) > LONG_VALUE

    @property
    def summary(self) -> str:
        return self.value[:SUMMARY_LENGTH].rstrip() + "…"


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value if value else "(empty)"
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


def detail_items(details: str) -> list[DetailItem]:
    """The event's details column as (key, text) pairs in key order; a nested object or list is
    written as compact JSON. Anything that is not a JSON object shows as one `value` item."""
    try:
        parsed = json.loads(details)
    except ValueError:
        return [DetailItem("value", details)]
    if not isinstance(parsed, dict):
        return [DetailItem("value", _text(parsed))]
    return [DetailItem(str(key), _text(parsed[key])) for key in sorted(parsed)]
