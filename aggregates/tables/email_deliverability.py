"""Deliverability per ISO week and recipient domain, with the week's total (domain NULL).

From the partner_sharing output, which keeps only the recipient's domain: the figures the
company brings to ISPs and whitelisting services.
"""

from __future__ import annotations

from aggregates.disclosure import Disclosure
from aggregates.periods import WEEK, Periods

DISCLOSURE: Disclosure | None = Disclosure(fixed=("week_start",), rollup=("recipient_domain",))

READS: tuple[str, ...] = ("clean_partner_sharing",)
PERIODS: Periods | None = Periods(start="week_start", units=(WEEK,))

SQL = """
with activity as (
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
        count(*) filter (where action = 'complained') as complained,
        count(distinct recipient) as _subjects
    from activity
    group by week_start, rollup (recipient_domain)
)
select
    week_start,
    recipient_domain,
    sent,
    delivered,
    bounced,
    hard_bounces,
    soft_bounces,
    complained,
    bounced / nullif(sent, 0) as bounce_rate,
    complained / nullif(delivered, 0) as complaint_rate,
    _subjects
from counts
order by week_start, recipient_domain nulls first
"""
