"""The dashboard's SVG charts: round axes, bars and lines in proportion to the numbers, and on the
page every chart next to a table with the same numbers."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from moderation_app.dashboard.charts import bar_chart, line_chart, nice_ceiling, ticks
from moderation_app.models.requests import Decision
from moderation_app.models.users import Role
from tests.helpers.accounts import make_user
from tests.helpers.clients import page_text
from tests.helpers.dashboard import DeskData


@pytest.mark.parametrize(("largest", "axis", "expected_ticks"), [
    (0, 1, [0, 1]),
    (3, 5, [0, 1, 2, 3, 4, 5]),
    (7, 10, [0, 2, 4, 6, 8, 10]),
    (45, 50, [0, 10, 20, 30, 40, 50]),
    (120, 200, [0, 50, 100, 150, 200]),
    (999, 1000, [0, 200, 400, 600, 800, 1000]),
])
def test_axes_end_on_a_round_number_with_round_ticks(largest, axis, expected_ticks):
    assert nice_ceiling(largest) == axis
    assert ticks(axis) == expected_ticks


def test_stacked_bars_are_in_proportion_and_start_where_the_last_piece_ends():
    chart = bar_chart([("Blackmail", [(30, "chart-approved"), (10, "chart-rejected")], "75%"),
                       ("Another offer", [(5, "chart-approved"), (0, "chart-rejected")], "100%")])

    first, second = chart.bars
    approved, rejected = first.segments
    assert chart.maximum == 50
    assert approved.width == pytest.approx(3 * rejected.width)
    assert rejected.x == pytest.approx(approved.x + approved.width)
    assert second.segments[0].width == pytest.approx(approved.width / 6)
    assert (first.total, second.total) == (40, 5)
    assert second.y > first.y


def test_a_line_has_a_point_per_day_and_the_highest_value_at_the_top():
    days = [date(2026, 5, 1) + timedelta(days=offset) for offset in range(10)]
    chart = line_chart(days, [("Submitted", "chart-submitted", [0, 1, 2, 3, 4, 5, 6, 7, 8, 10])])

    (series,) = chart.series
    points = [tuple(map(float, point.split(","))) for point in series.points.split()]
    assert len(points) == 10
    assert [x for x, _ in points] == sorted(x for x, _ in points)
    assert points[0][1] == chart.bottom          # 0 sits on the axis
    assert points[-1][1] == min(y for _, y in points) == chart.y_ticks[-1][0]


def test_every_chart_on_the_page_has_a_title_and_a_table_beside_it(app, manager_client):
    desk = DeskData(app)
    shop = make_user(app, "shop@example.com", Role.SELLER, password=None).id
    agent = make_user(app, "agent@example.com", Role.AGENT, password=None).id
    now = datetime.now(UTC)
    desk.decided(shop, agent, Decision.APPROVE, now - timedelta(days=1), hours=3)
    desk.request(shop, now - timedelta(hours=60))

    page = page_text(manager_client.get("/dashboard"))

    charts = re.findall(r'<svg class="chart"[^>]*role="img"[^>]*aria-labelledby="([^"]+)"', page)
    assert len(charts) == 4
    for label_id in charts:
        assert f'<title id="{label_id}">' in page
    # The flow table has a row per day of the default 30-day period.
    assert len(re.findall(r'<tr><th scope="row">\d{4}-\d\d-\d\d</th>', page)) == 30
    assert page.count('<caption class="sr-only">') >= 5
