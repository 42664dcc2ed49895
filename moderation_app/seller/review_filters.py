"""The filters of the seller's review list as query parameters: read from a request (anything
unreadable is ignored with a message, never a 500) and written back into links.

`stars` is the review's lowest criterion; `since` and `until` are whole days in the seller's time
zone, the zone the list shows its dates in, both inclusive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from moderation_app.forms import query_day
from moderation_app.models.marketplace import Offer
from moderation_app.services.marketplace.ratings import ReviewFilters
from moderation_app.web import viewer_zone

STAR_CHOICES = (1, 2, 3, 4, 5)
# Days a review can have; far outside, the instants overflow datetime (a 500 for a typed link).
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(9998, 12, 31)


@dataclass(frozen=True)
class ReviewListArgs:
    """What the list was asked for, as typed back into the filter form and the page links."""

    stars: int | None = None
    offer: str = ""
    since: date | None = None
    until: date | None = None

    def query_args(self) -> dict[str, str]:
        values = {"stars": str(self.stars) if self.stars else "", "offer": self.offer,
                  "since": self.since.isoformat() if self.since else "",
                  "until": self.until.isoformat() if self.until else ""}
        return {key: value for key, value in values.items() if value}

    @property
    def active(self) -> bool:
        return bool(self.query_args())


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC)


def review_filters_from(args: Mapping[str, str], offers: Sequence[Offer],
                        timezone: str | None) -> tuple[ReviewListArgs, ReviewFilters, list[str]]:
    """The list's filters from query parameters and the messages for those that were ignored."""
    errors: list[str] = []

    raw_stars = (args.get("stars") or "").strip()
    stars = int(raw_stars) if raw_stars in {str(n) for n in STAR_CHOICES} else None
    if raw_stars and stars is None:
        errors.append(f"“{raw_stars[:20]}” is not a number of stars from 1 to 5; "
                      "showing every rating.")

    raw_offer = (args.get("offer") or "").strip()
    offer = next((item for item in offers if item.external_id == raw_offer), None)
    if raw_offer and offer is None:
        errors.append(f"“{raw_offer[:40]}” is not one of your offers; showing every offer.")

    def day(name: str, label: str) -> date | None:
        return query_day(args, name, FIRST_DAY, LAST_DAY, errors, ignored=f"the {label} date")

    since, until = day("since", "start"), day("until", "end")
    if since and until and since > until:
        errors.append("The start date is after the end date, so no review can match.")
    zone = viewer_zone(timezone)
    listed = ReviewListArgs(stars=stars, offer=offer.external_id if offer else "",
                            since=since, until=until)
    filters = ReviewFilters(
        stars=stars, offer_id=offer.id if offer else None,
        since=_start_of(since, zone) if since else None,
        until=_start_of(until + timedelta(days=1), zone) if until else None,
    )
    return listed, filters, errors
