"""Which rows of a dated aggregate a set of changed lake days touches, and which days feed them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

DAY = "day"
WEEK = "week"
MONTH = "month"


def period_start(unit: str, day: dt.date) -> dt.date:
    """The first day of the UTC day, ISO week (Monday) or calendar month holding ``day``."""
    if unit == WEEK:
        return day - dt.timedelta(days=day.weekday())
    if unit == MONTH:
        return day.replace(day=1)
    return day


def period_days(unit: str, start: dt.date) -> list[dt.date]:
    """Every day of the period of ``unit`` that starts on ``start``."""
    if unit == WEEK:
        length = 7
    elif unit == MONTH:
        following = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        length = (following - start).days
    else:
        length = 1
    return [start + dt.timedelta(days=offset) for offset in range(length)]


def runs(
    items: Iterable[dt.date], size: Callable[[dt.date], int], limit: int
) -> Iterator[list[dt.date]]:
    """Sorted ``items`` in consecutive runs whose sizes add up to ``limit`` (one item at least)."""
    run: list[dt.date] = []
    total = 0
    for item in sorted(items):
        if run and total + size(item) > limit:
            yield run
            run, total = [], 0
        run.append(item)
        total += size(item)
    if run:
        yield run


@dataclass(frozen=True)
class Periods:
    """How a table's rows follow lake days: each row covers one day, ISO week or month.

    ``start`` is the column holding the period's first day; ``units`` the periods the table
    has; ``unit_column`` the column naming each row's unit when there are several.
    """

    start: str
    units: tuple[str, ...] = (DAY,)
    unit_column: str | None = None

    def touched(self, days: Iterable[dt.date]) -> dict[str, set[dt.date]]:
        """The periods (first days, by unit) whose rows depend on any of ``days``."""
        return {unit: {period_start(unit, day) for day in days} for unit in self.units}

    def inputs(self, touched: dict[str, set[dt.date]]) -> set[dt.date]:
        """The lake days whose rows make up the ``touched`` periods: all of each period."""
        return {
            day
            for unit, starts in touched.items()
            for start in starts
            for day in period_days(unit, start)
        }

    def mask(self, table: pa.Table, touched: dict[str, set[dt.date]]) -> pa.ChunkedArray:
        """True for each row of ``table`` that belongs to a ``touched`` period."""
        hit = pa.chunked_array([pa.repeat(False, table.num_rows)], pa.bool_())
        for unit, starts in touched.items():
            in_period = pc.is_in(table.column(self.start), pa.array(sorted(starts), pa.date32()))
            if self.unit_column is not None:
                in_period = pc.and_(in_period, pc.equal(table.column(self.unit_column), unit))
            hit = pc.or_(hit, pc.fill_null(in_period, False))
        return hit
