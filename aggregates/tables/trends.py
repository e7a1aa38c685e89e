"""The main daily series with day-over-day and week-over-week change and rolling averages.

Read from the published (already suppressed) aggregates. A day without rows counts 0; a
suppressed day is NULL, and so is every change and average whose window holds it, so
nothing here recovers a suppressed value.
"""

from __future__ import annotations

from usage_pipeline.aggregates.periods import Periods

DISCLOSURE = None

READS: tuple[str, ...] = ("active_subjects", "usage", "web_traffic")
PERIODS: Periods | None = None
DAILY: str | None = None

SQL = """
with series as (
    select 'active_users' as series, period_start as event_date,
        active_users::double as value, suppressed
    from active_subjects where period = 'day'
    union all
    select 'usage_events', event_date, events::double, suppressed
    from usage where service is null
    union all
    select 'page_views', event_date, page_views::double, suppressed
    from web_traffic where dimension = 'host' and value is null
    union all
    select 'unique_visitors', event_date, unique_visitors::double, suppressed
    from web_traffic where dimension = 'host' and value is null
),
spans as (
    select series, min(event_date) as first_day, max(event_date) as last_day
    from series group by series
),
days as (
    select series, unnest(generate_series(first_day, last_day, interval 1 day))::date as event_date
    from spans
),
filled as (
    select
        d.series,
        d.event_date,
        if(s.suppressed, null, coalesce(s.value, 0)) as value,
        coalesce(s.suppressed, false) as suppressed
    from days as d
    left join series as s using (series, event_date)
)
select
    series,
    event_date,
    value,
    value - lag(value) over by_day as day_over_day,
    (value - lag(value) over by_day) / nullif(lag(value) over by_day, 0) as day_over_day_pct,
    value - lag(value, 7) over by_day as week_over_week,
    (value - lag(value, 7) over by_day) / nullif(lag(value, 7) over by_day, 0)
        as week_over_week_pct,
    if(count(value) over last_7 = 7, avg(value) over last_7, null) as avg_7d,
    if(count(value) over last_28 = 28, avg(value) over last_28, null) as avg_28d,
    suppressed
from filled
window
    by_day as (partition by series order by event_date),
    last_7 as (by_day rows between 6 preceding and current row),
    last_28 as (by_day rows between 27 preceding and current row)
order by series, event_date
"""
