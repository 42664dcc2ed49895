"""Where a seller's list (reviews, requests) starts, from the query string: `after=<cursor>` the
rows older than the cursor (the next page down), `before=<cursor>` those newer than it (the page
above), `page=last` the oldest rows; `page=N` is what links said before the pages were keyed, kept
so old bookmarks still open. Anything unreadable means the newest rows, never a 500.
"""

from __future__ import annotations

from collections.abc import Mapping

from moderation_app.services.keyset import Position, Start, decode_cursor

# Old numbered links are an OFFSET, so only the first pages are honoured: 40 pages of 25 is a
# thousand rows skipped along the index, about a millisecond. A deeper number opens the newest
# page with a note (such a link came from a list that has changed since anyway).
MAX_NUMBERED_PAGE = 40
LIST_ARGS = ("after", "before", "page")


def list_position(args: Mapping[str, str], page_size: int) -> tuple[Position, str | None]:
    """The page asked for, and a note for the viewer when an old page number was too deep."""
    for name, start in (("after", Start.OLDER), ("before", Start.NEWER)):
        if name in args:
            cursor = decode_cursor(args.get(name))
            return (Position(start, cursor) if cursor else Position()), None
    raw = (args.get("page") or "").strip()
    if raw == "last":
        return Position(Start.OLDEST), None
    if not (raw.isascii() and raw.isdigit()) or raw.lstrip("0") in ("", "1"):  # no sign, no "１"
        return Position(), None
    if len(raw) > 6 or int(raw) > MAX_NUMBERED_PAGE:
        return Position(), (f"Pages are no longer numbered, and old links open only up to page "
                            f"{MAX_NUMBERED_PAGE}, so this is the newest page. To go further back, use "
                            "“Older” or “Oldest” below the list.")
    return Position(Start.OFFSET, offset=(int(raw) - 1) * page_size), None
