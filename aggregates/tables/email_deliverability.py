"""Deliverability per ISO week and recipient domain, with the week's total (domain NULL).

From the partner_sharing output, which keeps only the recipient's domain: the figures the
company brings to ISPs and whitelisting services.
"""

from __future__ import annotations

from usage_pipeline.aggregates.disclosure import Disclosure
from usage_pipeline.aggregates.periods import WEEK, Periods

DISCLOSURE: Disclosure | None = Disclosure(fixed=("week_start",), rollup=("recipient_domain",))

READS: tuple[str, ...] = ("clean_partner_sharing",)
PERIODS: Periods | None = Periods(start="week_start", units=(WEEK,))
DAILY: str | None = None

SQL = """
with activity as materialized (
    select
        date_trunc('week', event_date)::date as week_start,
        coalesce(properties.recipient, '(none)') as recipient_domain,
        properties.action as action,
        properties.bounce_type as bounce_type,
        coalesce(subject.user_id, subject.account_id) as recipient
    from clean_partner_sharing
    where event_type = 'email.activity'
),
counts as (
    select
        week_start,
        recipient_domain,
        count(*) filter (where action = 'sent') as sent,
        count(*) filter (where action = 'delivered') as delivered,
        count(*) filter (where action = 'bounced') as bounced,
        count(*) filter (where action = 'bounced' and bounce_type = 'hard') as hard_bounces,
        count(*) filter (where action = 'bounced' and bounce_type = 'soft') as soft_bounces,
        count(*) filter (where action = 'complained') as complained
    from activity
    group by week_start, rollup (recipient_domain)
),
-- Each recipient once per domain and week; the week's recipients are the domains'.
domain_recipients as (
    select distinct week_start, recipient_domain, recipient
    from activity
    where recipient is not null
),
recipients as (
    select week_start, recipient_domain, count(*) as recipients
    from domain_recipients
    group by all
    union all
    select week_start, null, count(distinct recipient)
    from domain_recipients
    group by all
)
select
    c.week_start,
    c.recipient_domain,
    c.sent,
    c.delivered,
    c.bounced,
    c.hard_bounces,
    c.soft_bounces,
    c.complained,
    c.bounced / nullif(c.sent, 0) as bounce_rate,
    c.complained / nullif(c.delivered, 0) as complaint_rate,
    coalesce(r.recipients, 0) as _subjects
from counts as c
left join recipients as r
    on c.week_start = r.week_start
    and c.recipient_domain is not distinct from r.recipient_domain
order by c.week_start, c.recipient_domain nulls first
"""
