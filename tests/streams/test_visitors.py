"""Visitor ids count a visitor within a day, never across days, and die with their salt."""

from __future__ import annotations

import datetime as dt
import hashlib

from usage_pipeline.streams.visitors import IDS_REMEMBERED, VisitorSalts

DAYS = [f"2026-11-{day:02d}" for day in range(1, 31)]


def traffic(day: str, ip: str = "198.51.100.7", agent: str = "Firefox") -> dict:
    return {"occurred_at": f"{day}T12:00:00Z", "context": {"user_agent": agent, "host": "h"}}


def clock_at(day: str, hours: float = 12):
    moment = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC) + dt.timedelta(hours=hours)
    return lambda: moment.timestamp()


def test_same_visitor_on_one_day_has_one_id():
    salts = VisitorSalts(clock=clock_at("2026-11-01"))
    first = salts.visitor_id("198.51.100.7", traffic("2026-11-01"))
    assert first == salts.visitor_id("198.51.100.7", traffic("2026-11-01"))
    assert "198.51.100.7" not in first


def test_same_visitor_on_two_days_has_unrelated_ids():
    salts = VisitorSalts(clock=clock_at("2026-11-02"))
    day1 = salts.visitor_id("198.51.100.7", traffic("2026-11-01"))
    day2 = salts.visitor_id("198.51.100.7", traffic("2026-11-02"))
    assert day1 != day2


def test_two_instances_never_share_a_salt():
    first = VisitorSalts(clock=clock_at("2026-11-01"))
    second = VisitorSalts(clock=clock_at("2026-11-01"))
    event = traffic("2026-11-01")
    assert first.visitor_id("198.51.100.7", event) != second.visitor_id("198.51.100.7", event)


def test_salt_is_destroyed_48_hours_after_it_was_made():
    now = {"t": clock_at("2026-11-01")()}
    salts = VisitorSalts(clock=lambda: now["t"])
    before = salts.visitor_id("198.51.100.7", traffic("2026-11-01"))
    now["t"] += 47 * 3600
    assert salts.days() == ["2026-11-01"]
    now["t"] += 2 * 3600
    assert salts.days() == []
    assert salts.visitor_id("198.51.100.7", traffic("2026-11-01")) != before


class SharedLog:
    """A SaltLog where the first offer of a day wins, as in the salts topic."""

    def __init__(self) -> None:
        self.offers: dict[str, tuple[bytes, float]] = {}
        self.destroyed: list[str] = []

    def agree(self, day: str, salt: bytes, made_at: float) -> tuple[bytes, float]:
        return self.offers.setdefault(day, (salt, made_at))

    def destroy(self, days: list[str]) -> None:
        self.destroyed += days
        for day in days:
            self.offers.pop(day, None)


def test_workers_sharing_a_salt_log_give_a_visitor_one_id_per_day():
    log = SharedLog()
    first = VisitorSalts(clock=clock_at("2026-11-01"), log=log)
    second = VisitorSalts(clock=clock_at("2026-11-01", hours=13), log=log)
    event = traffic("2026-11-01")
    assert first.visitor_id("198.51.100.7", event) == second.visitor_id("198.51.100.7", event)


def test_an_expired_salt_is_destroyed_in_the_shared_log_too():
    now = {"t": clock_at("2026-11-01")()}
    log = SharedLog()
    salts = VisitorSalts(clock=lambda: now["t"], log=log)
    salts.visitor_id("198.51.100.7", traffic("2026-11-01"))
    now["t"] += 49 * 3600
    assert salts.days() == []
    assert log.destroyed == ["2026-11-01"] and log.offers == {}


def test_ids_remembered_with_a_salt_go_with_it_even_when_no_sweep_ran():
    now = {"t": clock_at("2026-11-01")()}
    salts = VisitorSalts(clock=lambda: now["t"])
    before = salts.visitor_id("198.51.100.7", traffic("2026-11-01"))
    assert salts.visitor_id("198.51.100.7", traffic("2026-11-01")) == before  # remembered
    now["t"] += 48 * 3600
    # The first id asked for after the lifetime is made with a new salt, not remembered.
    assert salts.visitor_id("198.51.100.7", traffic("2026-11-01")) != before


def test_a_day_that_meets_many_visitors_still_gives_each_one_id():
    salts = VisitorSalts(clock=clock_at("2026-11-01"))
    first = salts.visitor_id("198.51.100.7", traffic("2026-11-01"))
    for n in range(IDS_REMEMBERED + 1):  # more than are remembered: the cache starts over
        salts.visitor_id(f"10.0.{n // 256}.{n % 256}", traffic("2026-11-01"))
    assert salts.visitor_id("198.51.100.7", traffic("2026-11-01")) == first


def test_ids_remembered_over_many_days_stay_bounded_and_each_day_keeps_its_ids():
    salts = VisitorSalts(clock=clock_at("2026-11-30"))
    firsts = {day: salts.visitor_id("198.51.100.7", traffic(day)) for day in DAYS}
    for n in range(2 * IDS_REMEMBERED):
        salts.visitor_id(f"10.0.{n // 256 % 256}.{n % 256}", traffic(DAYS[n % len(DAYS)]))
    assert salts.remembered() <= IDS_REMEMBERED
    assert {day: salts.visitor_id("198.51.100.7", traffic(day)) for day in DAYS} == firsts


def test_a_visitor_id_is_the_keyed_blake2b_of_ip_user_agent_and_host():
    """Workers of older and newer versions that share a salt must agree on every id."""
    log = SharedLog()
    salts = VisitorSalts(clock=clock_at("2026-11-01"), log=log)
    visitor = salts.visitor_id("198.51.100.7", traffic("2026-11-01"))
    salt, _ = log.offers["2026-11-01"]
    material = b"198.51.100.7\x00Firefox\x00h"
    assert visitor == hashlib.blake2b(material, key=salt, digest_size=16).hexdigest()
