"""Usage by UTC day, product service, kind (feature or program) and item, with subtotals.

NULL in service, kind or item means all. Events without consent count in events, duration
and bytes, but not in users: they have no pseudonym.
"""

from __future__ import annotations

from aggregates.disclosure import Disclosure
from aggregates.periods import Periods

DISCLOSURE: Disclosure | None = Disclosure(
    fixed=("event_date",), rollup=("service", "kind", "item"), labels=("title",)
)

READS: tuple[str, ...] = ("clean_analytics",)
PERIODS: Periods | None = Periods(start="event_date")

SQL = """
with events as (
    select
        event_date,
        coalesce(properties.service, '(none)') as service,
        if(event_type = 'usage.feature_used', 'feature', 'program') as kind,
        coalesce(properties.feature, properties.program_id, '(none)') as item,
        properties.program_title as title,
        subject.user_id as user_pseudonym,
        coalesce(properties.duration_ms / 1000.0, properties.duration_s) as duration_s,
        properties.bytes as bytes
    from clean_analytics
    where event_type in ('usage.feature_used', 'usage.media_played')
)
select
    event_date,
    service,
    kind,
    item,
    if(grouping(item) = 0, max(title), null) as title,
    count(*) as events,
    count(distinct user_pseudonym) as users,
    sum(duration_s) as duration_s,
    sum(bytes)::bigint as bytes,
    count(distinct user_pseudonym) as _subjects
from events
group by event_date, rollup (service, kind, item)
order by event_date, service nulls first, kind nulls first, item nulls first
"""
