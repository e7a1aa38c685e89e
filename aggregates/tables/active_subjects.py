"""Daily, ISO-weekly and monthly active accounts and users, from pseudonyms only.

Distinct pseudonyms of the analytics output's usage events; rows without consent carry no
pseudonym and add nothing.
"""

from __future__ import annotations

from aggregates.disclosure import Disclosure
from aggregates.periods import DAY, MONTH, WEEK, Periods

DISCLOSURE: Disclosure | None = Disclosure(fixed=("period", "period_start"))

READS: tuple[str, ...] = ("clean_analytics",)
PERIODS: Periods | None = Periods(
    start="period_start", units=(DAY, WEEK, MONTH), unit_column="period"
)

SQL = """
with usage as (
    select event_date, subject.account_id as account, subject.user_id as user_pseudonym
    from clean_analytics
    where event_type in ('usage.feature_used', 'usage.media_played') and consent = 'granted'
),
periods as (
    select 'day' as period, event_date as period_start, account, user_pseudonym from usage
    union all
    select 'week', date_trunc('week', event_date)::date, account, user_pseudonym from usage
    union all
    select 'month', date_trunc('month', event_date)::date, account, user_pseudonym from usage
)
select
    period,
    period_start,
    count(distinct account) as active_accounts,
    count(distinct user_pseudonym) as active_users,
    least(count(distinct account), count(distinct user_pseudonym)) as _subjects
from periods
group by period, period_start
order by period, period_start
"""
