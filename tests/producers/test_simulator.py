"""The event simulator: deterministic, exact, valid, realistic enough, and lazy."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import functools
import inspect
import ipaddress
import itertools
import re
import resource
import tracemalloc
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest

from usage_pipeline.producers.simulator import SimulationConfig, population, simulate
from usage_pipeline.schemas.contracts import ContractViolation, load_contracts

UNTIL = dt.date(2026, 12, 1)  # a Tuesday; the period is November 2026
SAMPLE = 200_000
EMAIL_IN_QUERY = re.compile(r"[?&][a-z_]+=[^&#]*(@|%40)[a-z0-9.-]+\.[a-z]+")
ALLOWED_NETWORKS = [
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "100.64.0.0/10", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
]


def first_n(config: SimulationConfig, n: int) -> list[bytes]:
    return [orjson.dumps(e) for e in itertools.islice(simulate(config), n)]


@dataclass
class Profile:
    """Everything the tests check, gathered in one streaming pass over the sample."""

    count: int = 0
    first: str = ""
    last: str = ""
    unsorted: int = 0
    violations: collections.Counter = field(default_factory=collections.Counter)
    types: collections.Counter = field(default_factory=collections.Counter)
    per_day: collections.Counter = field(default_factory=collections.Counter)
    ids: set = field(default_factory=set)
    bad_ids: int = 0
    first_other: dict = field(default_factory=dict)
    signup_consent_last: dict = field(default_factory=dict)
    initial_answers: collections.Counter = field(default_factory=collections.Counter)
    later_changes: collections.Counter = field(default_factory=collections.Counter)
    effective_at_differs: int = 0
    users: set = field(default_factory=set)
    mail: collections.Counter = field(default_factory=collections.Counter)
    unsubscribed: set = field(default_factory=set)
    marketing_off: dict = field(default_factory=dict)  # user -> when they opted out
    changed_marketing: set = field(default_factory=set)  # opted out during the period
    marketing_sent_after_opt_out: int = 0
    email_urls: int = 0
    traffic: int = 0
    with_query: int = 0
    page_views: int = 0
    ips_outside_ranges: int = 0
    user_agents: set = field(default_factory=set)
    descriptions_with_email: int = 0


@pytest.fixture(scope="module")
def profile() -> Profile:
    contracts = load_contracts()
    p = Profile()
    previous = ""
    for i, event in enumerate(simulate(SimulationConfig(events=SAMPLE, seed=7, until=UNTIL))):
        observe(p, i, event, previous, contracts)
        previous = event["occurred_at"]
    return p


@functools.cache
def outside_allowed_ranges(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    return not any(address in network for network in ALLOWED_NETWORKS)


def observe(p: Profile, i: int, event: dict, previous: str, contracts) -> None:
    p.count += 1
    at = event["occurred_at"]
    p.first = p.first or at
    p.last = at
    p.unsorted += at < previous
    try:
        contracts.validate(event)
    except ContractViolation as violation:
        p.violations[(event["event_type"], str(violation))] += 1
    kind = event["event_type"]
    p.types[kind] += 1
    p.per_day[dt.date.fromisoformat(at[:10])] += 1
    p.ids.add(event["event_id"])
    p.bad_ids += uuid.UUID(event["event_id"]).version != 4
    user = event["subject"].get("user_id")
    props = event["properties"]
    if user is not None:
        p.users.add(user)
    if kind == "consent.changed":
        p.effective_at_differs += props["effective_at"] != at
        if props["source"] == "signup_form":
            p.signup_consent_last[user] = i
            p.initial_answers[(props["purpose"], props["status"])] += 1
        else:
            p.later_changes[(props["purpose"], props["status"])] += 1
        if props["purpose"] == "marketing" and props["status"] == "withdrawn":
            p.marketing_off.setdefault(user, at)
            if props["source"] != "signup_form":
                p.changed_marketing.add(user)
    elif user is not None:
        p.first_other.setdefault(user, i)
    if kind == "email.activity":
        p.mail[props["action"]] += 1
        if props["action"] == "unsubscribed":
            p.unsubscribed.add(user)
            p.changed_marketing.add(user)
            p.marketing_off.setdefault(user, at)
        elif (
            props["action"] == "sent"
            and props["campaign_kind"] != "transactional"
            and user in p.marketing_off
        ):
            p.marketing_sent_after_opt_out += 1
    context = event.get("context", {})
    if "ip" in context and outside_allowed_ranges(context["ip"]):
        p.ips_outside_ranges += 1
    if "user_agent" in context:
        p.user_agents.add(context["user_agent"])
    if kind == "traffic.web_request":
        p.traffic += 1
        url = context["url"]
        p.with_query += "?" in url
        p.email_urls += bool(EMAIL_IN_QUERY.search(url))
        p.page_views += bool(props.get("page_view"))
    if kind == "support.ticket" and "@" in props.get("description", ""):
        p.descriptions_with_email += 1


# -- determinism -------------------------------------------------------------------------------


def test_same_seed_and_until_give_identical_events():
    config = SimulationConfig(events=20_000, seed=3, until=UNTIL)
    assert first_n(config, 20_000) == first_n(config, 20_000)


def test_a_different_seed_gives_different_events():
    a = first_n(SimulationConfig(events=5_000, seed=3, until=UNTIL), 5_000)
    b = first_n(SimulationConfig(events=5_000, seed=4, until=UNTIL), 5_000)
    assert a != b
    assert not {orjson.loads(x)["event_id"] for x in a} & {orjson.loads(x)["event_id"] for x in b}


@pytest.mark.parametrize(
    "change",
    [{"until": UNTIL + dt.timedelta(days=1)}, {"days": 29}, {"events": 5_001}],
    ids=["until", "days", "events"],
)
def test_runs_differing_only_in_period_or_size_never_share_an_event_id(change):
    # Such runs make different events (other times, other budgets); one id each, or the
    # lake, which drops a repeated id as a duplicate, would lose one of the two.
    base = SimulationConfig(events=5_000, days=30, seed=3, until=UNTIL)
    a = {e["event_id"] for e in simulate(base)}
    b = {e["event_id"] for e in simulate(dataclasses.replace(base, **change))}
    assert not a & b


def test_population_is_the_one_the_simulation_uses():
    config = SimulationConfig(events=10_000, seed=5, until=UNTIL)
    pop = population(config)
    users = {e["subject"].get("user_id") for e in simulate(config)} - {None}
    assert users <= set(pop.user_ids.tolist())
    assert population(config).user_emails.tolist() == pop.user_emails.tolist()


def test_until_defaults_to_today_in_utc():
    assert SimulationConfig().until == dt.datetime.now(dt.UTC).date()


@pytest.mark.parametrize("change", [{"events": -1}, {"days": 0}])
def test_a_config_out_of_range_is_rejected(change):
    with pytest.raises(ValueError):
        SimulationConfig(**change)


# -- count, order, period ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "days"), [(0, 30), (1, 30), (7, 1), (999, 7), (12_345, 1), (30_000, 90)]
)
def test_yields_exactly_the_requested_number_of_events_sorted_inside_the_period(events, days):
    config = SimulationConfig(events=events, days=days, seed=11, until=UNTIL)
    stamps = [e["occurred_at"] for e in simulate(config)]
    assert len(stamps) == events
    assert stamps == sorted(stamps)
    start = (UNTIL - dt.timedelta(days=days)).isoformat()
    assert all(start <= s < UNTIL.isoformat() for s in stamps)


def test_the_sample_is_exact_sorted_and_covers_the_whole_period(profile):
    assert profile.count == SAMPLE
    assert profile.unsorted == 0
    assert profile.first >= "2026-11-01T00:00:00"
    assert profile.first < "2026-11-01T01:00:00"
    assert profile.last < "2026-12-01T00:00:00"
    assert profile.last >= "2026-11-30T23:00:00"


def test_event_ids_are_unique_random_uuids(profile):
    assert len(profile.ids) == SAMPLE
    assert profile.bad_ids == 0


# -- contracts ---------------------------------------------------------------------------------


def test_every_event_meets_its_contract(profile):
    assert not profile.violations, profile.violations.most_common(5)


def test_every_event_type_occurs_in_about_the_intended_mix(profile):
    share = {kind: n / SAMPLE for kind, n in profile.types.items()}
    assert set(share) == set(load_contracts().event_types)
    assert 0.38 < share["traffic.web_request"] < 0.52
    assert 0.19 < share["usage.feature_used"] < 0.30
    assert 0.07 < share["usage.media_played"] < 0.13
    assert 0.08 < share["email.activity"] < 0.16
    assert 0.03 < share["account.license"] < 0.07
    assert 0.005 < share["support.ticket"] < 0.02
    assert 0.01 < share["consent.changed"] < 0.07


# -- consent -----------------------------------------------------------------------------------


def test_initial_consent_comes_before_a_users_first_other_event(profile):
    assert profile.signup_consent_last
    late = [
        user
        for user, last_signup in profile.signup_consent_last.items()
        if user in profile.first_other and last_signup > profile.first_other[user]
    ]
    assert late == []


def test_initial_consent_answers_are_near_the_intended_rates(profile):
    users = len(profile.users)
    rate = {key: n / users for key, n in profile.initial_answers.items()}
    expected = {
        ("analytics", "granted"): 0.70,
        ("analytics", "withdrawn"): 0.10,
        ("marketing", "granted"): 0.45,
        ("marketing", "withdrawn"): 0.25,
        ("partner_sharing", "granted"): 0.25,
        ("partner_sharing", "withdrawn"): 0.35,
    }
    for key, target in expected.items():
        assert rate.get(key, 0) == pytest.approx(target, abs=0.05), key


def test_some_users_change_their_mind_during_the_period(profile):
    users = len(profile.users)
    assert 0.015 < len(profile.changed_marketing) / users < 0.06
    assert 0.003 < len(profile.unsubscribed) / users < 0.035
    assert 0.003 < profile.later_changes[("marketing", "withdrawn")] / users < 0.035
    assert 0.002 < profile.later_changes[("partner_sharing", "withdrawn")] / users < 0.025
    assert 0.002 < profile.later_changes[("analytics", "granted")] / users < 0.025
    assert profile.effective_at_differs == 0


def test_no_marketing_mail_is_sent_after_a_user_opts_out(profile):
    assert profile.marketing_sent_after_opt_out == 0


# -- e-mail ------------------------------------------------------------------------------------


def test_email_funnel_rates_are_plausible(profile):
    sent = profile.mail["sent"]
    assert sent > 1_000
    assert profile.mail["delivered"] / sent == pytest.approx(0.95, abs=0.03)
    assert profile.mail["bounced"] / sent == pytest.approx(0.05, abs=0.03)
    assert profile.mail["opened"] / sent == pytest.approx(0.30, abs=0.08)
    assert profile.mail["clicked"] / sent == pytest.approx(0.05, abs=0.03)
    assert profile.mail["complained"] / sent < 0.01
    assert 0 < profile.mail["unsubscribed"] / sent < 0.02


# -- seasonality -------------------------------------------------------------------------------


def test_weekdays_are_busier_than_weekends(profile):
    weekday = [n for day, n in profile.per_day.items() if day.weekday() < 5]
    weekend = [n for day, n in profile.per_day.items() if day.weekday() >= 5]
    assert sum(weekday) / len(weekday) > 1.4 * sum(weekend) / len(weekend)


def test_the_last_week_is_busier_than_the_first(profile):
    days = sorted(profile.per_day)
    assert len(days) == 30
    first_week = sum(profile.per_day[d] for d in days[:7])
    last_week = sum(profile.per_day[d] for d in days[-7:])
    assert last_week > 1.05 * first_week


# -- what the anonymizer has to deal with ------------------------------------------------------


def test_some_urls_carry_an_email_address_in_their_query_string(profile):
    assert profile.email_urls >= 1
    assert 0.06 < profile.with_query / profile.traffic < 0.15
    assert 0.2 < profile.page_views / profile.traffic < 0.6


def test_some_ticket_descriptions_mention_an_email_address(profile):
    assert profile.descriptions_with_email >= 1


def test_ip_addresses_come_from_reserved_ranges_and_user_agents_from_a_short_list(profile):
    assert profile.ips_outside_ranges == 0
    assert 10 <= len(profile.user_agents) <= 25
    assert any("Googlebot" in ua for ua in profile.user_agents)


# -- population --------------------------------------------------------------------------------


def test_population_has_heavy_tailed_accounts_and_a_dozen_mail_domains():
    pop = population(SimulationConfig(events=1_000_000, until=UNTIL))
    assert pop.users == 20_000
    sizes = collections.Counter(pop.user_account.tolist()).values()
    assert sum(size <= 3 for size in sizes) / len(sizes) > 0.5
    assert max(sizes) >= 100
    domains = {email.split("@")[1] for email in pop.user_emails.tolist()}
    assert 10 <= len(domains) <= 14
    assert all(
        d.endswith((".example", "example.com", "example.net", "example.org")) for d in domains
    )
    assert len(set(pop.user_emails.tolist())) == pop.users
    counts = collections.Counter(pop.user_device_count.tolist())
    assert set(counts) == {1, 2, 3}


# -- laziness ----------------------------------------------------------------------------------


STATM = Path("/proc/self/statm")


def resident_bytes() -> int:
    return int(STATM.read_text().split()[1]) * resource.getpagesize()


def test_generation_is_lazy_and_memory_stays_flat():
    # 200,000 event dicts held at once take about 200 MB more; a lazy generator needs a few
    # chunks of integer columns and one small batch of dicts at a time (about 15 MB).
    events = simulate(SimulationConfig(events=SAMPLE, seed=8, until=UNTIL))
    assert inspect.isgenerator(events)
    limit = 64 * 2**20
    if STATM.exists():  # resident memory: cheap to watch
        before = resident_bytes()
        growth = 0
        for i, _ in enumerate(events):
            if i % 10_000 == 0:
                growth = max(growth, resident_bytes() - before)
        assert growth < limit
    else:  # elsewhere: traced Python allocations (slow, but exact)
        tracemalloc.start()
        try:
            for _ in events:
                pass
            assert tracemalloc.get_traced_memory()[1] < limit
        finally:
            tracemalloc.stop()
