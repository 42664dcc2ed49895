"""The audit viewer's date and actor filters find exactly the events they name, page after page by
the `before` links, newest first, and a clock that steps back cannot hide an event from the dates."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models.audit import AuditEvent
from moderation_app.services.audit import log as log_module
from moderation_app.services.audit.log import record_event

ROW_ID = re.compile(r'<td data-label="#">(\d+)</td>')
NEXT = re.compile(r'href="(/audit\?[^"]*before=[^"]*)"')
# After the fixtures' own events (sign-ins happen now): times only go forward along the chain.
FIRST_DAY = date(2090, 3, 1)
# Few events for some actors, many for others, so that a page mixes them and a rare one is far apart.
ACTORS = ["ana.agent@example.com", "Bo.Manager@Example.com", "carl@example.org", "rare@example.net"]


def ids_on_pages(client, query: str) -> list[int]:
    """Every event id the viewer lists for a query, following `before` links to the end."""
    found: list[int] = []
    url = f"/audit?{query}"
    for _ in range(20):
        response = client.get(url)
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        rows = [int(number) for number in ROW_ID.findall(body.split("<tbody>")[-1])]
        assert len(rows) <= 50
        found += rows
        following = [link for link in NEXT.findall(body) if "before=" in link]
        if not following:
            return found
        url = html.unescape(following[-1])
    raise AssertionError("more pages than events")


@pytest.fixture
def spread(app, monkeypatch):
    """130 events over six days, four actors, times set by a clock the test moves."""
    clock = [datetime.combine(FIRST_DAY, datetime.min.time(), UTC)]
    monkeypatch.setattr(log_module, "utcnow", lambda: clock[0])
    with app.app_context():
        for n in range(130):
            clock[0] = (datetime.combine(FIRST_DAY, datetime.min.time(), UTC)
                        + timedelta(days=n // 22, minutes=n))
            actor = ACTORS[3] if n in (5, 77, 128) else ACTORS[n % 3]
            record_event("test.spread", actor_email=actor, actor_role="agent", details={"n": n})
        db.session.commit()
    monkeypatch.undo()


def expected(app, *, since: date | None = None, until: date | None = None, actor: str = "") -> list[int]:
    with app.app_context():
        rows = db.session.execute(select(AuditEvent.id, AuditEvent.occurred_at, AuditEvent.actor_email)
                                  .order_by(AuditEvent.id.desc())).all()
    return [row.id for row in rows
            if (since is None or row.occurred_at.date() >= since)
            and (until is None or row.occurred_at.date() <= until)
            and actor.lower() in row.actor_email.lower()]


@pytest.mark.parametrize("since, until", [
    (FIRST_DAY, FIRST_DAY), (FIRST_DAY + timedelta(days=1), FIRST_DAY + timedelta(days=3)),
    (FIRST_DAY + timedelta(days=2), None), (None, FIRST_DAY + timedelta(days=4)),
    (FIRST_DAY + timedelta(days=5), FIRST_DAY + timedelta(days=5)),
    (FIRST_DAY + timedelta(days=6), None),  # after the last event: nothing
    (None, FIRST_DAY - timedelta(days=1)),  # before the spread: the fixtures' own events
    (date(2001, 1, 1), date(2001, 1, 2)),  # before the first event: nothing
])
def test_a_date_range_lists_exactly_its_events_across_pages(app, manager_client, spread, since, until):
    query = "&".join(f"{name}={day.isoformat()}" for name, day in (("since", since), ("until", until)) if day)

    listed = ids_on_pages(manager_client, query)

    assert listed == expected(app, since=since, until=until)


def test_a_busy_day_is_paged_whole(app, manager_client, spread):
    day = FIRST_DAY + timedelta(days=1)
    listed = ids_on_pages(manager_client, f"since={day}&until={FIRST_DAY + timedelta(days=3)}")
    assert len(listed) == 66 and len(set(listed)) == 66


@pytest.mark.parametrize("actor", ["ana", "EXAMPLE.COM", "bo.manager@", "rare", "example.org", "nobody",
                                   "@example.", "%", "_"])
def test_an_actor_lists_exactly_its_events_across_pages(app, manager_client, spread, actor):
    listed = ids_on_pages(manager_client, f"actor={actor}")

    assert listed == expected(app, actor=actor)


def test_actor_and_dates_together_list_exactly_their_events(app, manager_client, spread):
    since, until = FIRST_DAY + timedelta(days=1), FIRST_DAY + timedelta(days=4)
    for actor in ("rare", "carl", "example"):
        listed = ids_on_pages(manager_client, f"actor={actor}&since={since}&until={until}")
        assert listed == expected(app, since=since, until=until, actor=actor)


def test_a_clock_that_steps_back_cannot_hide_an_event_from_its_day(app, manager_client, spread,
                                                                  monkeypatch):
    # The newest event is on the sixth day; the clock now says the first day.
    monkeypatch.setattr(log_module, "utcnow",
                        lambda: datetime.combine(FIRST_DAY, datetime.min.time(), UTC))
    with app.app_context():
        late = record_event("test.late", actor_email="late@example.com", actor_role="agent").id
        db.session.commit()
    monkeypatch.undo()

    last_day = FIRST_DAY + timedelta(days=5)
    assert late in ids_on_pages(manager_client, f"since={last_day}&until={last_day}")
    assert late not in ids_on_pages(manager_client, f"until={FIRST_DAY}")
    assert ids_on_pages(manager_client, f"since={last_day}") == expected(app, since=last_day)
