"""Web traffic per UTC day by one dimension at a time, with the day's total (value NULL).

Dimensions: host, browser family, OS family, device class, UTC hour of day. Visitors are
the traffic output's daily visitor ids, never a person across days.

Sums are taken per combination of all five dimensions (a few thousand cells a day) and
added up per dimension. Distinct visitors are counted from each visitor's values of the
day: a visitor id hashes IP, user agent and host with the day's salt, so a visitor mostly
has one host, browser, OS and device class a day, and those rows are few. Hours vary
within a day, so visitors per hour are counted from the requests.
"""

from __future__ import annotations

from usage_pipeline.aggregates.disclosure import Disclosure
from usage_pipeline.aggregates.periods import Periods

DISCLOSURE: Disclosure | None = Disclosure(fixed=("event_date", "dimension"), rollup=("value",))

READS: tuple[str, ...] = ("clean_traffic",)
PERIODS: Periods | None = Periods(start="event_date")
DAILY: str | None = None

SQL = """
with requests as not materialized (
    select
        event_date,
        coalesce(context.host, '(none)') as host,
        coalesce(context.user_agent.browser_family, '(none)') as browser_family,
        coalesce(context.user_agent.os_family, '(none)') as os_family,
        coalesce(context.user_agent.device_class, '(none)') as device_class,
        hour(occurred_at) as hour,
        context.visitor_id as visitor,
        coalesce(properties.page_view, false) as page_view,
        properties.response_bytes as response_bytes
    from clean_traffic
),
combinations as (
    select
        event_date,
        host,
        browser_family,
        os_family,
        device_class,
        lpad(hour::varchar, 2, '0') as hour_of_day,
        count(*) as requests,
        count(*) filter (where page_view) as page_views,
        sum(response_bytes) as response_bytes
    from requests
    group by all
),
-- Values are never NULL (see requests): in each grouping set the one value not NULL is
-- the one grouped, and a row with every value NULL is the day's total.
sums as (
    select
        event_date,
        case 0
            when grouping(host) then 'host'
            when grouping(browser_family) then 'browser_family'
            when grouping(os_family) then 'os_family'
            when grouping(device_class) then 'device_class'
            when grouping(hour_of_day) then 'hour_of_day'
        end as dimension,
        coalesce(host, browser_family, os_family, device_class, hour_of_day) as value,
        sum(requests)::bigint as requests,
        sum(page_views)::bigint as page_views,
        sum(response_bytes)::bigint as response_bytes
    from combinations
    group by grouping sets (
        (event_date, host),
        (event_date, browser_family),
        (event_date, os_family),
        (event_date, device_class),
        (event_date, hour_of_day),
        (event_date)
    )
),
visitor_values as (
    select distinct event_date, host, browser_family, os_family, device_class, visitor
    from requests
    where visitor is not null
),
visitor_hours as (
    select distinct event_date, hour, visitor
    from requests
    where visitor is not null
),
visitors as (
    select
        event_date,
        case 0
            when grouping(host) then 'host'
            when grouping(browser_family) then 'browser_family'
            when grouping(os_family) then 'os_family'
            when grouping(device_class) then 'device_class'
        end as dimension,
        coalesce(host, browser_family, os_family, device_class) as value,
        count(distinct visitor) as unique_visitors
    from visitor_values
    group by grouping sets (
        (event_date, host),
        (event_date, browser_family),
        (event_date, os_family),
        (event_date, device_class),
        (event_date)
    )
    union all
    select event_date, 'hour_of_day', lpad(hour::varchar, 2, '0'), count(*)
    from visitor_hours
    group by all
),
dimensions as (
    select unnest(['host', 'browser_family', 'os_family', 'device_class', 'hour_of_day'])
        as dimension
),
cells as (
    select
        s.event_date,
        s.dimension,
        s.value,
        s.requests,
        s.page_views,
        coalesce(v.unique_visitors, 0) as unique_visitors,
        s.response_bytes
    from sums as s
    left join visitors as v
        on s.event_date = v.event_date
        and s.dimension is not distinct from v.dimension
        and s.value is not distinct from v.value
)
select
    c.event_date,
    d.dimension,
    c.value,
    c.requests,
    c.page_views,
    c.unique_visitors,
    c.response_bytes,
    c.unique_visitors as _subjects
from cells as c
-- The day's total (no dimension) is repeated for every dimension.
join dimensions as d on coalesce(c.dimension, d.dimension) = d.dimension
order by c.event_date, d.dimension, c.value nulls first
"""
