"""Usage by UTC day, product service, kind (feature or program) and item, with subtotals.

NULL in service, kind or item means all. Events without consent count in events, duration
and bytes, but not in users: they have no pseudonym.

Sums are taken per item, a few thousand cells a day, and rolled up from there. Distinct
users are the expensive part: each user is kept once per item and day, and every coarser
level's users are the distinct users of the level below it, so only the first step reads
the events (measured in bench/aggregates.py, docs/aggregates.md).
"""

from __future__ import annotations

from usage_pipeline.aggregates.disclosure import Disclosure
from usage_pipeline.aggregates.periods import Periods

DISCLOSURE: Disclosure | None = Disclosure(
    fixed=("event_date",), rollup=("service", "kind", "item"), labels=("title",)
)

READS: tuple[str, ...] = ("clean_analytics",)
PERIODS: Periods | None = Periods(start="event_date")
DAILY: str | None = None

SQL = """
with events as not materialized (
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
),
items as (
    select
        event_date,
        service,
        kind,
        item,
        max(title) as title,
        count(*) as events,
        sum(duration_s) as duration_s,
        sum(bytes) as bytes
    from events
    group by all
),
totals as (
    select
        event_date,
        service,
        kind,
        item,
        if(grouping(item) = 0, max(title), null) as title,
        sum(events)::bigint as events,
        sum(duration_s) as duration_s,
        sum(bytes)::bigint as bytes
    from items
    group by event_date, rollup (service, kind, item)
),
item_users as (
    select distinct event_date, service, kind, item, user_pseudonym
    from events
    where user_pseudonym is not null
),
kind_users as (
    select distinct event_date, service, kind, user_pseudonym from item_users
),
service_users as (
    select distinct event_date, service, user_pseudonym from kind_users
),
users as (
    select event_date, service, kind, item, count(*) as users from item_users group by all
    union all
    select event_date, service, kind, null, count(*) from kind_users group by all
    union all
    select event_date, service, null, null, count(*) from service_users group by all
    union all
    select event_date, null, null, null, count(distinct user_pseudonym)
    from service_users
    group by all
)
select
    t.event_date,
    t.service,
    t.kind,
    t.item,
    t.title,
    t.events,
    coalesce(u.users, 0) as users,
    t.duration_s,
    t.bytes,
    coalesce(u.users, 0) as _subjects
from totals as t
left join users as u
    on t.event_date = u.event_date
    and t.service is not distinct from u.service
    and t.kind is not distinct from u.kind
    and t.item is not distinct from u.item
order by t.event_date, t.service nulls first, t.kind nulls first, t.item nulls first
"""
