"""Share of subjects granting or withdrawing each purpose, per UTC day of effective_at.

A subject counts under the last decision of its day (status NULL = either), as a share of
the subjects with any decision on record for that purpose by the end of the day. From the
service output's consent.changed events; a withdrawal at the same instant as a grant wins.
"""

from __future__ import annotations

from usage_pipeline.aggregates.disclosure import Disclosure
from usage_pipeline.aggregates.periods import Periods

DISCLOSURE: Disclosure | None = Disclosure(fixed=("event_date", "purpose"), rollup=("status",))

READS: tuple[str, ...] = ("clean_service",)
PERIODS: Periods | None = None
DAILY: str | None = None

SQL = """
with changes as (
    select
        subject.user_id as subject_pseudonym,
        properties.purpose as purpose,
        properties.status as status,
        properties.effective_at as effective_at,
        properties.effective_at::date as event_date
    from clean_service
    where event_type = 'consent.changed'
),
last_of_day as (
    select
        event_date,
        purpose,
        subject_pseudonym,
        arg_max(status, epoch_us(effective_at) * 2 + (status = 'withdrawn')::int) as status
    from changes
    group by all
),
first_decisions as (
    select purpose, min(event_date) as event_date from changes group by purpose, subject_pseudonym
),
decided as (
    select
        purpose,
        event_date,
        (sum(count(*)) over (partition by purpose order by event_date))::bigint as decided
    from first_decisions
    group by purpose, event_date
),
counts as (
    select event_date, purpose, status, count(*) as subjects
    from last_of_day
    group by event_date, purpose, rollup (status)
)
-- The share's denominator is looked up for the few counted cells, not for every subject.
select
    c.event_date,
    c.purpose,
    c.status,
    c.subjects,
    c.subjects / d.decided as share,
    c.subjects as _subjects
from counts as c
asof join decided as d on c.purpose = d.purpose and c.event_date >= d.event_date
order by c.event_date, c.purpose, c.status nulls first
"""
