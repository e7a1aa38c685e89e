"""Top 5 risers and fallers of the latest complete ISO week against the week before.

Usage items by events and hosts by page views, from published daily cells only: an item
with a suppressed day in either week is left out.
"""

from __future__ import annotations

from usage_pipeline.aggregates.periods import Periods

DISCLOSURE = None

READS: tuple[str, ...] = ("usage", "web_traffic")
PERIODS: Periods | None = None
DAILY: str | None = None

SQL = """
with daily as (
    select 'usage_item' as dimension, service || '/' || kind || '/' || item as item,
        event_date, events as value, suppressed
    from usage where item is not null
    union all
    select 'host', value, event_date, page_views, suppressed
    from web_traffic where dimension = 'host' and value is not null
),
last_day as (
    select max(event_date) as day from daily
),
weeks as (
    -- The week of the last day counts only if it ends on that day (a Sunday).
    select
        date_trunc('week', day)::date - if(isodow(day) = 7, 0, 7) as this_week
    from last_day
),
weekly as (
    select
        dimension,
        item,
        date_trunc('week', event_date)::date as week_start,
        if(bool_or(suppressed), null, sum(value)::bigint) as value
    from daily, weeks
    where event_date >= this_week - 7 and event_date < this_week + 7
    group by all
),
compared as (
    select
        dimension,
        item,
        this_week as week_start,
        coalesce(max(value) filter (where week_start = this_week), 0) as this_week_value,
        coalesce(max(value) filter (where week_start = this_week - 7), 0) as last_week_value,
        bool_or(value is null) as incomplete
    from weekly, weeks
    group by dimension, item, this_week
),
ranked as (
    select
        *,
        this_week_value - last_week_value as change,
        if(this_week_value > last_week_value, 'riser', 'faller') as direction
    from compared
    where not incomplete and this_week_value <> last_week_value
)
select
    dimension,
    direction,
    row_number() over (partition by dimension, direction order by abs(change) desc, item) as rank,
    item,
    week_start,
    this_week_value,
    last_week_value,
    change,
    change / nullif(last_week_value, 0) as change_pct
from ranked
qualify rank <= 5
order by dimension, direction desc, rank
"""
