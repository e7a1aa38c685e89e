"""Hand-checked small lakes give known aggregates: UTC days, ISO weeks, months, rollups."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.aggregates.conftest import at, request, row, used

D = dt.date


def pick(rows: list[dict], **where: object) -> dict:
    """The one row matching every ``column=value``."""
    found = [r for r in rows if all(r[key] == value for key, value in where.items())]
    assert len(found) == 1, (where, found)
    return found[0]


def test_active_users_are_distinct_pseudonyms_per_utc_day_iso_week_and_month(lake):
    lake.add(
        "analytics",
        [
            used("2026-11-29T23:30", "u1"),  # Sunday: last day of ISO week 2026-11-23
            used("2026-11-29T23:59", "u1"),
            used("2026-11-30T00:10", "u2"),  # Monday: a new week, still November
            used("2026-12-01T08:00", "u1"),  # December
            used("2026-12-01T09:00", None),  # no consent: no pseudonym, not a user
        ],
    )
    active = lake.build()["active_subjects"]
    counts = {(r["period"], r["period_start"]): r["active_users"] for r in active}
    assert counts == {
        ("day", D(2026, 11, 29)): 1,
        ("day", D(2026, 11, 30)): 1,
        ("day", D(2026, 12, 1)): 1,
        ("week", D(2026, 11, 23)): 1,
        ("week", D(2026, 11, 30)): 2,
        ("month", D(2026, 11, 1)): 2,
        ("month", D(2026, 12, 1)): 1,
    }
    assert pick(active, period="month", period_start=D(2026, 11, 1))["active_accounts"] == 2


def test_usage_counts_events_without_consent_but_only_pseudonyms_as_users(lake):
    lake.add(
        "analytics",
        [
            used("2026-11-24T10:00", "u1", duration_ms=1500),
            used("2026-11-24T11:00", "u1", duration_ms=500),
            used("2026-11-24T12:00", None, duration_ms=1000),
            used("2026-11-24T13:00", "u2", feature="export"),
            row(
                "usage.media_played",
                "2026-11-24T14:00",
                subject={"user_id": "u3"},
                properties={
                    "service": "portal",
                    "program_id": "p1",
                    "program_title": "Morning show",
                    "mode": "played",
                    "duration_s": 60.0,
                    "bytes": 1000,
                },
            ),
        ],
    )
    usage = lake.build()["usage"]
    search = pick(usage, item="search")
    assert (search["events"], search["users"], search["duration_s"]) == (3, 1, 3.0)
    program = pick(usage, item="p1")
    assert (program["title"], program["bytes"], program["duration_s"]) == ("Morning show", 1000, 60)
    features = pick(usage, service="portal", kind="feature", item=None)
    assert (features["events"], features["users"]) == (4, 2)
    day = pick(usage, service=None)
    assert (day["events"], day["users"], day["bytes"]) == (5, 3, 1000)


def test_web_traffic_hours_are_utc_and_each_dimension_sums_to_the_day(lake):
    lake.add(
        "traffic",
        [
            request("2026-11-24T23:30", "v1"),
            request("2026-11-24T23:45", "v1", browser_family="Chrome"),
            request("2026-11-25T00:15", "v2", host="docs.example.com"),
        ],
    )
    traffic = lake.build()["web_traffic"]
    late = pick(traffic, event_date=D(2026, 11, 24), dimension="hour_of_day", value="23")
    assert (late["page_views"], late["unique_visitors"]) == (2, 1)
    early = pick(traffic, event_date=D(2026, 11, 25), dimension="hour_of_day", value="00")
    assert early["page_views"] == 1
    total = pick(traffic, event_date=D(2026, 11, 24), dimension="browser_family", value=None)
    assert (total["page_views"], total["unique_visitors"]) == (2, 1)
    browsers = [
        r["page_views"]
        for r in traffic
        if r["event_date"] == D(2026, 11, 24) and r["dimension"] == "browser_family" and r["value"]
    ]
    assert sorted(browsers) == [1, 1]


def email(when: str, action: str, user: str, campaign: str = "c1", **extra: str) -> dict:
    """An ``email.activity`` row; the recipient is already reduced to its domain."""
    return row(
        "email.activity",
        when,
        subject={"user_id": user},
        properties={
            "action": action,
            "campaign_id": campaign,
            "campaign_kind": "newsletter",
            "recipient": "example.org",
            **extra,
        },
    )


def test_email_funnel_counts_each_step_and_its_rate(lake):
    steps = ["sent", "delivered", "opened", "clicked"]
    rows = [email("2026-11-24T08:00", step, f"u{n}") for n in range(4) for step in steps[: n + 1]]
    rows.append(email("2026-11-24T09:00", "unsubscribed", "u3"))
    lake.add("analytics", rows)
    funnel = pick(lake.build()["email_funnel"], campaign_id="c1")
    assert [funnel[s] for s in [*steps, "unsubscribed"]] == [4, 3, 2, 1, 1]
    assert funnel["delivery_rate"] == pytest.approx(3 / 4)
    assert funnel["open_rate"] == pytest.approx(2 / 3)
    assert funnel["click_to_open_rate"] == pytest.approx(1 / 2)


def test_deliverability_counts_bounces_and_complaints_per_domain_and_iso_week(lake):
    lake.add(
        "partner_sharing",
        [
            email("2026-11-29T23:00", "sent", "u1"),
            email("2026-11-29T23:10", "bounced", "u1", bounce_type="hard"),
            email("2026-11-30T01:00", "sent", "u2"),
            email("2026-11-30T01:05", "complained", "u2"),
        ],
    )
    rows = lake.build()["email_deliverability"]
    first = pick(rows, week_start=D(2026, 11, 23), recipient_domain="example.org")
    assert (first["sent"], first["hard_bounces"], first["bounce_rate"]) == (1, 1, 1.0)
    second = pick(rows, week_start=D(2026, 11, 30), recipient_domain="example.org")
    assert (second["bounced"], second["complained"]) == (0, 1)


def consent(when: str, user: str, status: str, purpose: str = "marketing") -> dict:
    """A service ``consent.changed`` row effective when it occurred."""
    return row(
        "consent.changed",
        when,
        "not_required",
        subject={"user_id": user},
        properties={"purpose": purpose, "status": status, "effective_at": at(when)},
    )


def test_consent_shares_use_each_subjects_last_decision_of_the_day(lake):
    lake.add(
        "service",
        [
            consent("2026-11-24T08:00", "u1", "granted"),
            consent("2026-11-24T09:00", "u2", "granted"),
            consent("2026-11-24T10:00", "u3", "granted"),
            consent("2026-11-24T23:00", "u3", "withdrawn"),  # u3 ends the day withdrawn
            consent("2026-11-25T00:30", "u1", "withdrawn"),
        ],
    )
    rows = lake.build()["consent_changes"]
    granted = pick(rows, event_date=D(2026, 11, 24), status="granted")
    assert (granted["subjects"], granted["share"]) == (2, pytest.approx(2 / 3))
    assert pick(rows, event_date=D(2026, 11, 24), status=None)["subjects"] == 3
    withdrawn = pick(rows, event_date=D(2026, 11, 25), status="withdrawn")
    assert (withdrawn["subjects"], withdrawn["share"]) == (1, pytest.approx(1 / 3))


def test_billing_is_per_account_and_period_and_never_suppressed(lake):
    def license_row(when: str, action: str, **properties: object) -> dict:
        return row(
            "account.license",
            when,
            "not_required",
            subject={"account_id": "acme", "user_id": "u1"},
            properties={"action": action, "license_id": "l1", "product": "pro", **properties},
        )

    lake.add(
        "service",
        [
            license_row("2026-11-30T23:00", "seat_assigned", seats=3),
            license_row("2026-11-30T23:30", "seat_released", seats=2),
            license_row("2026-12-01T00:30", "license_checked", result="expired"),
            license_row("2026-11-30T22:00", "quota_used", quota_name="api", quota_units=1.5),
            license_row("2026-12-01T01:00", "quota_used", quota_name="api", quota_units=2.0),
            license_row(
                "2026-12-01T02:00",
                "quota_used",
                quota_name="api",
                quota_units=1.0,
                billing_period="2026-11",
            ),
        ],
    )
    built = lake.build(k=10)
    november = pick(built["billing_licenses"], billing_period="2026-11")
    assert (november["peak_seats"], november["last_seats"], november["seats_assigned"]) == (3, 2, 1)
    assert pick(built["billing_licenses"], billing_period="2026-12")["failed_license_checks"] == 1
    quotas = {r["billing_period"]: r["quota_units"] for r in built["billing_quotas"]}
    assert quotas == {"2026-11": 2.5, "2026-12": 2.0}


def test_trends_give_daily_and_weekly_change_and_rolling_averages(lake):
    # Events per day 1, 2, ..., 8 from Monday 2026-11-02; none on 2026-11-10 (counts 0).
    days = [D(2026, 11, 2) + dt.timedelta(days=n) for n in range(8)]
    rows = [used(f"{day}T12:00", "u1") for n, day in enumerate(days) for _ in range(n + 1)]
    rows.append(used("2026-11-11T12:00", "u1"))
    lake.add("analytics", rows)
    series = [r for r in lake.build()["trends"] if r["series"] == "usage_events"]
    by_day = {r["event_date"]: r for r in series}
    eighth = by_day[D(2026, 11, 9)]
    assert (eighth["value"], eighth["day_over_day"], eighth["week_over_week"]) == (8, 1, 7)
    assert eighth["avg_7d"] == pytest.approx(sum(range(2, 9)) / 7)
    assert by_day[D(2026, 11, 10)]["value"] == 0
    assert eighth["avg_28d"] is None


def test_trend_movers_compare_the_last_complete_iso_week_with_the_one_before(lake):
    rows = [used("2026-11-03T10:00", "u1", feature="old") for _ in range(5)]
    rows += [used("2026-11-10T10:00", "u1", feature="new") for _ in range(4)]
    rows += [used("2026-11-17T10:00", "u1", feature="new")]  # the partial week is ignored
    lake.add("analytics", rows)
    movers = lake.build()["trend_movers"]
    riser = pick(movers, dimension="usage_item", direction="riser")
    faller = pick(movers, dimension="usage_item", direction="faller")
    assert (riser["item"], riser["change"], riser["week_start"]) == (
        "portal/feature/new",
        4,
        D(2026, 11, 9),
    )
    assert (faller["item"], faller["change"]) == ("portal/feature/old", -5)
