"""SQL pieces the dashboard's queries share: the UTC day of a timestamp, percentiles that
interpolate between ranks (as PostgreSQL's percentile_cont) computed the same way on SQLite and
PostgreSQL, and counting rows that match a condition.

Percentiles: for k percent of n sorted values v[0..n-1], the position is k(n-1)/100; with
lo = ⌊k(n-1)/100⌋ (integer division) and the remainder r = k(n-1) mod 100, the percentile is
v[lo] + (v[lo+1] - v[lo]) · r/100 (when r is 0, v[lo+1] may not exist and is not needed). The
ranks come from row_number() and count(*) windows over the same partition, so the database sorts
the values and returns one row per partition; nothing is loaded to be sorted in Python. The
partition's size comes from a count the query has anyway (joined in), not from a second window:
SQLite sorts the rows once per distinct window, and the second sort doubled the cost.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    FromClause,
    Integer,
    String,
    case,
    cast,
    func,
    literal_column,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class utc_day(FunctionElement[str]):  # noqa: N801 (an SQL function, named like one)
    """The UTC calendar day of a timestamp column, as text 'YYYY-MM-DD'."""

    type = String()
    name = "utc_day"
    inherit_cache = True


@compiles(utc_day)
def _utc_day_sqlite(element: utc_day, compiler: Any, **kw: Any) -> str:
    # SQLite stores our times as naive UTC text, 'YYYY-MM-DD HH:MM:SS.ffffff' (UTCDateTime), so
    # the day is the first ten characters; cheaper than parsing with date() on every row.
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: Any, **kw: Any) -> str:
    # AT TIME ZONE 'UTC' first: the session's time zone must not move a timestamp to another day.
    return f"to_char({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


def count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows of the group meet `condition` (0, not NULL, for none)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def number(value: int) -> ColumnElement[int]:
    """An integer written into the statement: the same SQL text every time, and integer
    arithmetic (integer division) on both databases."""
    return literal_column(str(int(value)), Integer)


def ranked(value: ColumnElement[Any], *partition_by: ColumnElement[Any]) -> list[ColumnElement[Any]]:
    """Columns for a select whose rows are the values: the value and its 0-based rank in
    ascending order within the partition. Make the select a subquery, join it to the
    partition's size, and aggregate it with `percentile`, grouped by the partition."""
    over = {"partition_by": list(partition_by)} if partition_by else {}
    return [
        value.label("value"),
        (func.row_number().over(order_by=value, **over) - number(1)).label("value_rank"),
    ]


def percentile(rows: FromClause, size: ColumnElement[int], k: int) -> ColumnElement[float]:
    """The k-th percentile of the ranked `rows` (a subquery made with `ranked`) whose group has
    `size` values, in a query grouped by the partition; NULL for an empty group."""
    value, rank = rows.c.value, rows.c.value_rank
    position = number(k) * (size - number(1))
    low_rank = position // number(100)
    low = func.max(case((rank == low_rank, value)))
    high = func.max(case((rank == low_rank + number(1), value)))
    remainder = func.max(position % number(100))
    return (cast(low, Float)
            + cast(func.coalesce(high, low) - low, Float) * cast(remainder, Float)
            / literal_column("100.0", Float))
