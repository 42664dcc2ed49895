"""SQL pieces the dashboard's queries share: counting rows that match a condition, and integers
written into a statement."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Integer, case, func, literal_column


def count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows of the group meet `condition` (0, not NULL, for none)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def number(value: int) -> ColumnElement[int]:
    """An integer written into the statement: integer arithmetic on both databases, and a value
    the planner sees (the ranks asked for, which it may compare as it reads)."""
    return literal_column(str(int(value)), Integer)
