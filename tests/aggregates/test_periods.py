"""Periods of dated aggregates: the days, ISO weeks and months a changed day touches."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from usage_pipeline.aggregates.periods import DAY, MONTH, WEEK, Periods, period_days, period_start

D = dt.date


def test_a_day_belongs_to_its_iso_week_from_monday_and_its_calendar_month():
    sunday = D(2026, 11, 29)
    assert period_start(WEEK, sunday) == D(2026, 11, 23)
    assert period_start(MONTH, sunday) == D(2026, 11, 1)
    assert period_start(DAY, sunday) == sunday


def test_a_period_holds_every_one_of_its_days():
    assert len(period_days(MONTH, D(2028, 2, 1))) == 29
    assert period_days(MONTH, D(2026, 12, 1))[-1] == D(2026, 12, 31)
    assert period_days(WEEK, D(2026, 11, 30)) == [
        D(2026, 11, 30) + dt.timedelta(n) for n in range(7)
    ]


def test_a_changed_day_touches_its_day_week_and_month_rows_and_reads_all_their_days():
    spec = Periods(start="period_start", units=(DAY, WEEK, MONTH), unit_column="period")
    touched = spec.touched([D(2026, 12, 1)])
    table = pa.table(
        {
            "period": ["day", "day", "week", "week", "month", "month"],
            "period_start": [
                D(2026, 12, 1),
                D(2026, 11, 30),
                D(2026, 11, 30),
                D(2026, 12, 7),
                D(2026, 12, 1),
                D(2026, 11, 1),
            ],
        }
    )
    assert spec.mask(table, touched).to_pylist() == [True, False, True, False, True, False]
    inputs = spec.inputs(touched)
    assert min(inputs) == D(2026, 11, 30) and max(inputs) == D(2026, 12, 31)
