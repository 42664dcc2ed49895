"""SQL pieces the dashboard's queries share: counting rows that match a condition, and integers
written into a statement."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Integer, case, func, literal_column


def sum_where(condition: ColumnElement[bool],
              value: ColumnElement[int] | int = 1) -> ColumnElement[int]:
    """The sum of `value` over the group's rows that meet `condition` (0, not NULL, for none):
    with the default 1, how many rows meet it."""
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def number(value: int) -> ColumnElement[int]:
    """An integer written into the statement: integer arithmetic on both databases, and a value
    the planner sees (the ranks asked for, which it may compare as it reads)."""
    return literal_column(str(int(value)), Integer)
