"""E-mail funnel per campaign (all time) and campaign kind, with subtotals (NULL = all).

From the analytics output. Rates are shares of the step before.
"""

from __future__ import annotations

from aggregates.disclosure import Disclosure
from aggregates.periods import Periods

DISCLOSURE: Disclosure | None = Disclosure(rollup=("campaign_kind", "campaign_id"))

READS: tuple[str, ...] = ("clean_analytics",)
PERIODS: Periods | None = None

SQL = """
with activity as (
    select
        coalesce(properties.campaign_kind, '(none)') as campaign_kind,
        coalesce(properties.campaign_id, '(none)') as campaign_id,
        properties.action as action,
        coalesce(subject.user_id, subject.account_id) as recipient
    from clean_analytics
    where event_type = 'email.activity'
),
counts as (
    select
        campaign_kind,
        campaign_id,
        count(*) filter (where action = 'sent') as sent,
        count(*) filter (where action = 'delivered') as delivered,
        count(*) filter (where action = 'opened') as opened,
        count(*) filter (where action = 'clicked') as clicked,
        count(*) filter (where action = 'unsubscribed') as unsubscribed,
        count(*) filter (where action = 'bounced') as bounced,
        count(*) filter (where action = 'complained') as complained,
        count(distinct recipient) as _subjects
    from activity
    group by rollup (campaign_kind, campaign_id)
    -- Without any e-mail event the rollup still makes a grand total: leave it out.
    having count(*) > 0
)
select
    campaign_kind,
    campaign_id,
    sent,
    delivered,
    opened,
    clicked,
    unsubscribed,
    bounced,
    complained,
    delivered / nullif(sent, 0) as delivery_rate,
    opened / nullif(delivered, 0) as open_rate,
    clicked / nullif(delivered, 0) as click_rate,
    clicked / nullif(opened, 0) as click_to_open_rate,
    unsubscribed / nullif(delivered, 0) as unsubscribe_rate,
    _subjects
from counts
order by campaign_kind nulls first, campaign_id nulls first
"""
