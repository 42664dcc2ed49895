"""Lists newest first in keyset pages: a page resumes after (or before) a row's (time, id) instead of
counting the rows above it, so the last page of half a million costs what the first does.

A `Position` says where a page starts: the newest rows, the rows older or newer than a cursor (a
time and an id, opaque to the browser; the staff queue's pages use the same), the oldest rows, or
an old page number (links written before the keyset pages: an OFFSET, bounded by the caller). The
query given must already narrow the list to what the viewer may read: a cursor only says where to
resume, so a forged one can move the page but never widen it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sqlalchemy import Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from moderation_app.database import MAX_ROW_ID
from moderation_app.extensions import db

# A cursor is a timestamp and an id; anything much longer is not one of ours.
MAX_CURSOR_LENGTH = 128


# --- cursor ------------------------------------------------------------------------------------

def encode_cursor(moment: datetime, row_id: int) -> str:
    """The position after a row, opaque to the browser: urlsafe base64 of "iso-time|id"."""
    raw = f"{moment.astimezone(UTC).isoformat()}|{row_id}".encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(raw: str | None) -> tuple[datetime, int] | None:
    """The position encode_cursor wrote, or None for anything else (which means: first page).
    Not signed: a cursor grants nothing, it only says where a list the viewer may read resumes."""
    if not raw or len(raw) > MAX_CURSOR_LENGTH:
        return None
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
        moment_text, id_text = text.split("|")
        if not id_text.isdigit():  # no sign, no spaces, no underscores
            return None
        row_id = int(id_text)
        moment = datetime.fromisoformat(moment_text)
        if moment.tzinfo is None:
            return None
        moment = moment.astimezone(UTC)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        return None
    if not 0 < row_id <= MAX_ROW_ID:
        return None
    return moment, row_id


class Start(Enum):
    NEWEST = "newest"
    OLDER = "older"      # rows older than the cursor: the next page down
    NEWER = "newer"      # rows newer than the cursor: the page above
    OLDEST = "oldest"
    OFFSET = "offset"    # an old ?page=N link


@dataclass(frozen=True)
class Position:
    start: Start = Start.NEWEST
    cursor: tuple[datetime, int] | None = None
    offset: int = 0


@dataclass(frozen=True)
class KeysetPage:
    items: list[Any]
    # Whether rows lie above / below this page (an empty page past the end still has rows above).
    at_newest: bool
    at_oldest: bool
    # Where "Newer" and "Older" lead: None when nothing lies that way, or the page is empty.
    newer_cursor: str | None
    older_cursor: str | None


def newest_first(query: Select, moment: InstrumentedAttribute[datetime], row_id: InstrumentedAttribute[int],
                 position: Position, size: int) -> KeysetPage:
    """One page of `query`'s entities ordered by (moment, id) descending, from `position`. One
    statement: `size + 1` rows are read to know whether more lie beyond the page."""
    size = max(int(size), 1)
    key = tuple_(moment, row_id)
    descending, ascending = (moment.desc(), row_id.desc()), (moment.asc(), row_id.asc())
    start = position.start
    if start in (Start.OLDER, Start.NEWER) and position.cursor is None:
        start = Start.NEWEST
    cursor = position.cursor
    if start is Start.OLDER:
        query = query.where(key < cursor).order_by(*descending)
    elif start is Start.NEWER:
        query = query.where(key > cursor).order_by(*ascending)
    elif start is Start.OLDEST:
        query = query.order_by(*ascending)
    else:
        query = query.order_by(*descending)
        if start is Start.OFFSET and position.offset > 0:
            query = query.offset(position.offset)
    fetched = list(db.session.scalars(query.limit(size + 1)).unique())
    items, more = fetched[:size], len(fetched) > size
    if start in (Start.NEWER, Start.OLDEST):
        items.reverse()  # read upwards from the cursor (or the bottom); shown newest first
        has_newer, has_older = more, start is Start.NEWER
    else:
        has_newer = start is Start.OLDER or (start is Start.OFFSET and position.offset > 0)
        has_older = more

    def cursor_of(item: Any) -> str:
        return encode_cursor(getattr(item, moment.key), getattr(item, row_id.key))

    return KeysetPage(
        items=items,
        at_newest=not has_newer,
        at_oldest=not has_older,
        newer_cursor=cursor_of(items[0]) if has_newer and items else None,
        older_cursor=cursor_of(items[-1]) if has_older and items else None,
    )
