"""E-mail funnel per campaign (all time) and campaign kind, with subtotals (NULL = all).

From the analytics output. Rates are shares of the step before.

Each lake day is first reduced to its events per campaign and recipient (``DAILY``, kept
between builds), so a new day reads that day alone; the funnel adds the days up. A kind's
recipients are the distinct recipients of its campaigns, each counted once per campaign.
"""

from __future__ import annotations

from usage_pipeline.aggregates.disclosure import Disclosure
from usage_pipeline.aggregates.periods import Periods

DISCLOSURE: Disclosure | None = Disclosure(rollup=("campaign_kind", "campaign_id"))

READS: tuple[str, ...] = ("clean_analytics",)
PERIODS: Periods | None = None

DAILY: str | None = """
select
    event_date,
    coalesce(properties.campaign_kind, '(none)') as campaign_kind,
    coalesce(properties.campaign_id, '(none)') as campaign_id,
    coalesce(subject.user_id, subject.account_id) as recipient,
    count(*) filter (where properties.action = 'sent') as sent,
    count(*) filter (where properties.action = 'delivered') as delivered,
    count(*) filter (where properties.action = 'opened') as opened,
    count(*) filter (where properties.action = 'clicked') as clicked,
    count(*) filter (where properties.action = 'unsubscribed') as unsubscribed,
    count(*) filter (where properties.action = 'bounced') as bounced,
    count(*) filter (where properties.action = 'complained') as complained
from clean_analytics
where event_type = 'email.activity'
group by all
"""

SQL = """
with totals as (
    select
        campaign_kind,
        campaign_id,
        sum(sent)::bigint as sent,
        sum(delivered)::bigint as delivered,
        sum(opened)::bigint as opened,
        sum(clicked)::bigint as clicked,
        sum(unsubscribed)::bigint as unsubscribed,
        sum(bounced)::bigint as bounced,
        sum(complained)::bigint as complained
    from daily
    group by rollup (campaign_kind, campaign_id)
    -- Without any e-mail event the rollup still makes a grand total: leave it out.
    having count(*) > 0
),
campaign_recipients as (
    select distinct campaign_kind, campaign_id, recipient
    from daily
    where recipient is not null
),
kind_recipients as (
    select distinct campaign_kind, recipient from campaign_recipients
),
recipients as (
    select campaign_kind, campaign_id, count(*) as recipients
    from campaign_recipients
    group by all
    union all
    select campaign_kind, null, count(*) from kind_recipients group by all
    union all
    select null, null, count(distinct recipient) from kind_recipients
)
select
    t.campaign_kind,
    t.campaign_id,
    t.sent,
    t.delivered,
    t.opened,
    t.clicked,
    t.unsubscribed,
    t.bounced,
    t.complained,
    t.delivered / nullif(t.sent, 0) as delivery_rate,
    t.opened / nullif(t.delivered, 0) as open_rate,
    t.clicked / nullif(t.delivered, 0) as click_rate,
    t.clicked / nullif(t.opened, 0) as click_to_open_rate,
    t.unsubscribed / nullif(t.delivered, 0) as unsubscribe_rate,
    coalesce(r.recipients, 0) as _subjects
from totals as t
left join recipients as r
    on t.campaign_kind is not distinct from r.campaign_kind
    and t.campaign_id is not distinct from r.campaign_id
order by t.campaign_kind nulls first, t.campaign_id nulls first
"""
