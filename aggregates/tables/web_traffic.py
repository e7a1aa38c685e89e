"""Web traffic per UTC day by one dimension at a time, with the day's total (value NULL).

Dimensions: host, browser family, OS family, device class, UTC hour of day. Visitors are
the traffic output's daily visitor ids, never a person across days.
"""

from __future__ import annotations

from aggregates.disclosure import Disclosure
from aggregates.periods import Periods

DISCLOSURE: Disclosure | None = Disclosure(fixed=("event_date", "dimension"), rollup=("value",))

READS: tuple[str, ...] = ("clean_traffic",)
PERIODS: Periods | None = Periods(start="event_date")

SQL = """
with requests as (
    select
        event_date,
        coalesce(context.host, '(none)') as host,
        coalesce(context.user_agent.browser_family, '(none)') as browser_family,
        coalesce(context.user_agent.os_family, '(none)') as os_family,
        coalesce(context.user_agent.device_class, '(none)') as device_class,
        lpad(hour(occurred_at)::varchar, 2, '0') as hour_of_day,
        context.visitor_id as visitor,
        coalesce(properties.page_view, false) as page_view,
        properties.response_bytes as response_bytes
    from clean_traffic
),
-- One grouping set per dimension, each over the requests themselves: distinct visitors of
-- one value need the rows of that value only. The day's total is the same for every
-- dimension, so it is counted once and repeated, not once per dimension.
per_value as (
    select
        event_date,
        case 0
            when grouping(host) then 'host'
            when grouping(browser_family) then 'browser_family'
            when grouping(os_family) then 'os_family'
            when grouping(device_class) then 'device_class'
            else 'hour_of_day'
        end as dimension,
        -- Values are never NULL (see requests): the one grouped is the one not NULL.
        coalesce(host, browser_family, os_family, device_class, hour_of_day) as value,
        count(*) as requests,
        count(*) filter (where page_view) as page_views,
        count(distinct visitor) as unique_visitors,
        sum(response_bytes)::bigint as response_bytes
    from requests
    group by grouping sets (
        (event_date, host),
        (event_date, browser_family),
        (event_date, os_family),
        (event_date, device_class),
        (event_date, hour_of_day)
    )
),
per_day as (
    select
        event_date,
        count(*) as requests,
        count(*) filter (where page_view) as page_views,
        count(distinct visitor) as unique_visitors,
        sum(response_bytes)::bigint as response_bytes
    from requests
    group by event_date
),
dimensions as (
    select unnest(['host', 'browser_family', 'os_family', 'device_class', 'hour_of_day'])
        as dimension
),
cells as (
    select * from per_value
    union all by name
    select * from per_day, dimensions
)
select
    event_date,
    dimension,
    value,
    requests,
    page_views,
    unique_visitors,
    response_bytes,
    unique_visitors as _subjects
from cells
order by event_date, dimension, value nulls first
"""
