"""Web traffic per UTC day by one dimension at a time, with the day's total (value NULL).

Dimensions: host, browser family, OS family, device class, UTC hour of day. Visitors are
the traffic output's daily visitor ids, never a person across days.
"""

from __future__ import annotations

from aggregates.disclosure import Disclosure

DISCLOSURE: Disclosure | None = Disclosure(fixed=("event_date", "dimension"), rollup=("value",))

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
cells as (
    unpivot requests
    on host, browser_family, os_family, device_class, hour_of_day
    into name dimension value value
)
select
    event_date,
    dimension,
    value,
    count(*) as requests,
    count(*) filter (where page_view) as page_views,
    count(distinct visitor) as unique_visitors,
    sum(response_bytes)::bigint as response_bytes,
    count(distinct visitor) as _subjects
from cells
group by event_date, dimension, rollup (value)
order by event_date, dimension, value nulls first
"""
