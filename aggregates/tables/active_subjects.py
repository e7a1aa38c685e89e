"""Daily, ISO-weekly and monthly active accounts and users, from pseudonyms only.

Distinct pseudonyms of the analytics output's usage events; rows without consent carry no
pseudonym and add nothing. Each lake day is first reduced to its distinct accounts and
users (``DAILY``, kept between builds): a week's or a month's subjects are the distinct
subjects of its days, so a new day recomputes its week and month from those alone.
"""

from __future__ import annotations

from usage_pipeline.aggregates.disclosure import Disclosure
from usage_pipeline.aggregates.periods import DAY, MONTH, WEEK, Periods

DISCLOSURE: Disclosure | None = Disclosure(fixed=("period", "period_start"))

READS: tuple[str, ...] = ("clean_analytics",)
PERIODS: Periods | None = Periods(
    start="period_start", units=(DAY, WEEK, MONTH), unit_column="period"
)

# One row per account and per user active that day (the other column NULL).
DAILY: str | None = """
select event_date, subject.account_id as account, subject.user_id as user_pseudonym
from clean_analytics
where event_type in ('usage.feature_used', 'usage.media_played') and consent = 'granted'
group by grouping sets ((event_date, account), (event_date, user_pseudonym))
having coalesce(account, user_pseudonym) is not null
"""

SQL = """
with periods as (
    select
        'day' as period,
        event_date as period_start,
        count(account) as active_accounts,
        count(user_pseudonym) as active_users
    from daily
    group by event_date
    union all
    select
        'week',
        date_trunc('week', event_date)::date,
        count(distinct account),
        count(distinct user_pseudonym)
    from daily
    group by 2
    union all
    select
        'month',
        date_trunc('month', event_date)::date,
        count(distinct account),
        count(distinct user_pseudonym)
    from daily
    group by 2
)
select
    period,
    period_start,
    active_accounts,
    active_users,
    least(active_accounts, active_users) as _subjects
from periods
order by period, period_start
"""
