"""Distinct subjects, counted level by level or from per-day partials, equal plain set sizes.

The queries never count a level's subjects from the events: each level from the one below
(usage, e-mail), from each visitor's values of the day (web traffic), or from per-day
partials (active subjects, the e-mail funnel). Whatever the rows, every count must still be
the size of the set of subjects behind the cell: suppression depends on it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.aggregates.conftest import Lake, request, used
from tests.aggregates.test_known_outputs import email
from usage_pipeline.aggregates.daily import register_partials
from usage_pipeline.aggregates.lake import connect, register_sources
from usage_pipeline.aggregates.periods import period_start
from usage_pipeline.aggregates.state import files_of, scan_lake
from usage_pipeline.aggregates.tables import AGGREGATES

DAYS = [dt.date(2026, 11, 29), dt.date(2026, 11, 30), dt.date(2026, 12, 1)]  # Sun, Mon, Tue
SUBJECTS = st.sampled_from([None, "k1:aa", "k1:bb", "k1:cc", "k2:aa"])
EXAMPLES = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def cells(lake: Lake, name: str) -> list[dict]:
    """The table's rows as its query makes them, before suppression, ``_subjects`` included."""
    (aggregate,) = [a for a in AGGREGATES if a.name == name]
    partitions = scan_lake(lake.root)
    with connect() as con:
        if aggregate.daily is not None:
            days = {day for _, day in partitions}
            register_partials(con, lake.root, aggregate, partitions, days)
        else:
            register_sources(con, lake.root, files_of(partitions, aggregate.purposes))
        return con.sql(aggregate.sql).to_arrow_table().to_pylist()


def fresh_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    return Lake(tmp_path_factory.mktemp("lake"))


usage_events = st.lists(
    st.tuples(
        st.sampled_from(DAYS),
        st.sampled_from(["portal", "studio"]),
        st.sampled_from(["search", "export", "share"]),
        SUBJECTS,
    ),
    min_size=1,
    max_size=30,
)


@EXAMPLES
@given(events=usage_events)
def test_usage_users_are_the_distinct_users_of_every_level(tmp_path_factory, events):
    lake = fresh_lake(tmp_path_factory)
    lake.add(
        "analytics",
        [used(f"{day}T12:00", user, feature, service) for day, service, feature, user in events],
    )
    expected: dict[tuple, set] = defaultdict(set)
    for day, service, feature, user in events:
        for key in (
            (day, service, "feature", feature),
            (day, service, "feature", None),
            (day, service, None, None),
            (day, None, None, None),
        ):
            expected[key] |= {user} - {None}

    rows = cells(lake, "usage")

    found = {(r["event_date"], r["service"], r["kind"], r["item"]): r["users"] for r in rows}
    assert found == {key: len(users) for key, users in expected.items()}
    assert all(r["_subjects"] == r["users"] for r in rows)


@EXAMPLES
@given(
    events=st.lists(
        st.tuples(
            st.sampled_from(DAYS),
            st.sampled_from(["v1", "v2", "v3", None]),
            st.sampled_from(["www.example.com", "docs.example.com"]),
            st.sampled_from(["Firefox", "Chrome"]),
            st.sampled_from([9, 23]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_web_visitors_are_the_distinct_visitors_of_each_value_and_day(tmp_path_factory, events):
    # A visitor here may change host, browser and hour within a day: the count stays exact.
    lake = fresh_lake(tmp_path_factory)
    lake.add(
        "traffic",
        [
            request(f"{day}T{hour:02d}:30", visitor, host=host, browser_family=browser)
            for day, visitor, host, browser, hour in events
        ],
    )
    expected: dict[tuple, set] = defaultdict(set)
    for day, visitor, host, browser, hour in events:
        for dimension, value in (
            ("host", host),
            ("browser_family", browser),
            ("os_family", "Linux"),
            ("device_class", "desktop"),
            ("hour_of_day", f"{hour:02d}"),
        ):
            expected[(day, dimension, value)] |= {visitor} - {None}
            expected[(day, dimension, None)] |= {visitor} - {None}

    rows = cells(lake, "web_traffic")

    found = {(r["event_date"], r["dimension"], r["value"]): r["unique_visitors"] for r in rows}
    assert found == {key: len(visitors) for key, visitors in expected.items()}


@EXAMPLES
@given(
    events=st.lists(
        st.tuples(
            st.sampled_from(DAYS),
            st.sampled_from(["c1", "c2", "c3"]),
            st.sampled_from(["sent", "opened"]),
            SUBJECTS,
        ),
        min_size=1,
        max_size=30,
    )
)
def test_funnel_recipients_over_daily_partials_are_the_distinct_recipients_of_all_time(
    tmp_path_factory, events
):
    lake = fresh_lake(tmp_path_factory)
    lake.add(
        "analytics",
        [
            {**email(f"{day}T08:00", action, "", campaign), "subject": subject(user)}
            for day, campaign, action, user in events
        ],
    )
    recipients: dict[tuple, set] = defaultdict(set)
    sent: dict[tuple, int] = defaultdict(int)
    for _, campaign, action, user in events:
        for key in (("newsletter", campaign), ("newsletter", None), (None, None)):
            recipients[key] |= {user} - {None}
            sent[key] += action == "sent"

    rows = cells(lake, "email_funnel")

    found = {(r["campaign_kind"], r["campaign_id"]): (r["_subjects"], r["sent"]) for r in rows}
    assert found == {key: (len(recipients[key]), sent[key]) for key in recipients}


@EXAMPLES
@given(events=usage_events)
def test_active_subjects_of_weeks_and_months_are_the_distinct_subjects_of_their_days(
    tmp_path_factory, events
):
    lake = fresh_lake(tmp_path_factory)
    lake.add("analytics", [used(f"{day}T12:00", user) for day, _, _, user in events])
    expected: dict[tuple, set] = defaultdict(set)
    for day, _, _, user in events:
        for unit in ("day", "week", "month"):
            expected[(unit, period_start(unit, day))] |= {user} - {None}

    rows = cells(lake, "active_subjects")

    found = {(r["period"], r["period_start"]): r["active_users"] for r in rows}
    assert found == {key: len(users) for key, users in expected.items() if users}
    accounts = {(r["period"], r["period_start"]): r["active_accounts"] for r in rows}
    assert accounts == found  # used() gives each user an account of its own


def subject(user: str | None) -> dict | None:
    return {"user_id": user} if user else None
