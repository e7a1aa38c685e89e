"""License use per account, billing period and product, for invoices and audits.

Billing period is `properties.billing_period` (YYYY-MM), else the UTC month of the event.
From the service output. Not suppressed: each row is about one customer account, for
that account's billing.
"""

from __future__ import annotations

from usage_pipeline.aggregates.periods import Periods

DISCLOSURE = None

READS: tuple[str, ...] = ("clean_service",)
PERIODS: Periods | None = None
DAILY: str | None = None

SQL = """
select
    subject.account_id as account_id,
    coalesce(properties.billing_period, strftime(occurred_at, '%Y-%m')) as billing_period,
    properties.product as product,
    count(*) filter (where properties.action = 'seat_assigned') as seats_assigned,
    count(*) filter (where properties.action = 'seat_released') as seats_released,
    max(properties.seats) as peak_seats,
    arg_max(properties.seats, occurred_at) as last_seats,
    count(*) filter (where properties.action = 'license_checked') as license_checks,
    count(*) filter (
        where properties.action = 'license_checked' and properties.result <> 'valid'
    ) as failed_license_checks,
    count(distinct subject.user_id) as users
from clean_service
where event_type = 'account.license' and properties.action <> 'quota_used'
group by all
order by account_id, billing_period, product
"""
