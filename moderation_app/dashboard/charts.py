"""Chart geometry for the dashboard's server-rendered SVG: plain numbers in, coordinates out.

The templates draw what these return (templates/dashboard/_charts.html). SVG drawn on the server
needs no script and no chart library, so the strict CSP stays as it is, and every chart sits next
to a table with the same numbers for screen readers and for copying.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from moderation_app.models.requests import Reason
from moderation_app.services.dashboard.figures import ALL, DashboardFigures, Outcome

# Drawing units of the viewBox; the SVG scales to its container's width. Bar charts sit in half
# the page (about 500 px), the flow chart across all of it (about 1,100 px), so text keeps its size.
WIDTH = 480
FLOW_WIDTH = 1000
LABEL_WIDTH = 150     # room for the category names left of horizontal bars ("Unrelated feedback")
BAR_HEIGHT = 22
BAR_GAP = 10
AXIS_HEIGHT = 24      # room for the value ticks under the bars
LINE_HEIGHT = 220
LINE_LEFT = 44
LINE_BOTTOM = 28
LINE_TOP = 10


def nice_ceiling(value: float) -> int:
    """The axis maximum: the smallest 1, 2 or 5 × 10^k at or above `value` (at least 1), so
    ticks land on round numbers."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return int(step * magnitude)
    raise AssertionError("unreachable: 10 × magnitude is always enough")


def ticks(maximum: int, most: int = 5) -> list[int]:
    """Ticks from 0 to `maximum` (a nice_ceiling) on the smallest round step (1, 2 or 5 × 10^k)
    that divides it into at most `most` steps."""
    steps = (unit * 10 ** power for power in range(20) for unit in (1, 2, 5))
    step = next(step for step in steps if maximum % step == 0 and maximum // step <= most)
    return list(range(0, maximum + 1, step))


@dataclass(frozen=True)
class Segment:
    """One coloured piece of a bar; `style` names a CSS class (chart-…) that also sets a pattern,
    so series differ by more than colour."""

    value: int
    x: float
    width: float
    style: str


@dataclass(frozen=True)
class Bar:
    label: str
    y: float
    segments: list[Segment]
    total: int
    note: str = ""        # e.g. an approval rate, written after the bar


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    ticks: list[tuple[float, int]]   # (x, value)
    height: float
    maximum: int
    width: int = WIDTH
    label_width: int = LABEL_WIDTH
    bar_height: int = BAR_HEIGHT

    @property
    def plot_width(self) -> int:
        return self.width - self.label_width - 60   # room for the note after the longest bar

    @property
    def axis_y(self) -> float:
        return self.height - AXIS_HEIGHT


def bar_chart(rows: Sequence[tuple[str, Sequence[tuple[int, str]], str]]) -> BarChart:
    """Horizontal bars, one per (label, [(value, style), …], note); several values stack."""
    maximum = nice_ceiling(max((sum(v for v, _ in parts) for _, parts, _ in rows), default=0))
    plot_width = WIDTH - LABEL_WIDTH - 60
    scale = plot_width / maximum
    bars = []
    for index, (label, parts, note) in enumerate(rows):
        x = float(LABEL_WIDTH)
        segments = []
        for value, style in parts:
            segments.append(Segment(value, x, value * scale, style))
            x += value * scale
        bars.append(Bar(label, BAR_GAP + index * (BAR_HEIGHT + BAR_GAP), segments,
                        sum(v for v, _ in parts), note))
    height = BAR_GAP + len(rows) * (BAR_HEIGHT + BAR_GAP) + AXIS_HEIGHT
    return BarChart(bars, [(LABEL_WIDTH + tick * scale, tick) for tick in ticks(maximum)],
                    height, maximum)


@dataclass(frozen=True)
class Series:
    name: str
    style: str
    points: str                      # the polyline's "x,y x,y …"
    dots: list[tuple[float, float, int]]   # markers where there are few enough days to show them


@dataclass(frozen=True)
class LineChart:
    series: list[Series]
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, int]]
    width: int
    height: int
    left: int
    bottom: float
    right: float


def line_chart(days: Sequence[date], series: Sequence[tuple[str, str, Sequence[int]]]) -> LineChart:
    """One line per (name, style, values per day) over the same days."""
    maximum = nice_ceiling(max((max(values, default=0) for _, _, values in series), default=0))
    right = FLOW_WIDTH - 10
    bottom = LINE_HEIGHT - LINE_BOTTOM
    step = (right - LINE_LEFT) / max(1, len(days) - 1)

    def y(value: int) -> float:
        return round(bottom - (bottom - LINE_TOP) * value / maximum, 1)

    def x(index: int) -> float:
        # A single day sits in the middle instead of on the axis.
        return round(LINE_LEFT + (index * step if len(days) > 1 else (right - LINE_LEFT) / 2), 1)

    drawn = []
    for name, style, values in series:
        points = " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(values))
        dots = [(x(i), y(v), v) for i, v in enumerate(values)] if len(days) <= 62 else []
        drawn.append(Series(name, style, points, dots))
    # About eight date labels, whatever the period's length.
    every = max(1, math.ceil(len(days) / 8))
    x_ticks = [(x(i), day.strftime("%b %d").replace(" 0", " ")) for i, day in enumerate(days)
               if i % every == 0]
    y_ticks = [(y(tick), tick) for tick in ticks(maximum)]
    return LineChart(drawn, x_ticks, y_ticks, FLOW_WIDTH, LINE_HEIGHT, LINE_LEFT, bottom, right)


def percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.0f}%"


@dataclass(frozen=True)
class DashboardCharts:
    flow: LineChart
    backlog_by_reason: BarChart
    backlog_by_age: BarChart
    outcomes: BarChart


def dashboard_charts(figures: DashboardFigures) -> DashboardCharts:
    """The four charts of the dashboard, from its figures."""
    flow = line_chart([day.day for day in figures.flow], [
        ("Submitted", "chart-submitted", [day.submitted for day in figures.flow]),
        ("Decided", "chart-decided", [day.decided for day in figures.flow]),
    ])
    by_reason = bar_chart([(reason.short_label, [(count, "chart-open")], str(count))
                           for reason, count in figures.backlog.by_reason.items()])
    bands = list(figures.backlog.by_age.items())
    by_age = bar_chart([(band, [(count, "chart-overdue" if index == len(bands) - 1
                                 else "chart-open")], str(count))
                        for index, (band, count) in enumerate(bands)])
    outcomes = bar_chart([
        (label, [(outcome.approved, "chart-approved"), (outcome.rejected, "chart-rejected")],
         percent(outcome.approval_rate))
        for label, outcome in outcome_rows(figures.outcomes)])
    return DashboardCharts(flow, by_reason, by_age, outcomes)


def outcome_rows(outcomes: dict[str, Outcome]) -> list[tuple[str, Outcome]]:
    """(label, Outcome) per reason, then all reasons together."""
    return [(Reason(key).short_label if key != ALL else "All reasons", outcome)
            for key, outcome in outcomes.items()]
