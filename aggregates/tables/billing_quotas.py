"""Metered quota consumption per account, billing period, product and quota.

From the service output. Not suppressed, like billing_licenses.
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
    properties.quota_name as quota_name,
    sum(properties.quota_units) as quota_units,
    count(*) as events
from clean_service
where event_type = 'account.license' and properties.action = 'quota_used'
group by all
order by account_id, billing_period, product, quota_name
"""
