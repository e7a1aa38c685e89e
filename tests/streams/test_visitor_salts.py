"""Visitor salts on the real broker: one salt per day for every worker and restart, and gone
from the workers and the topic once its lifetime is over."""

from __future__ import annotations

import datetime as dt
import time
import urllib.request

import duckdb
import pytest

from tests.conftest import free_port
from tests.streams.conftest import POLICY, make_stream_env
from tests.streams.pipeline_run import cli, lake_env, publish
from usage_pipeline.aggregates.build import build
from usage_pipeline.broker.admin import read_topic
from usage_pipeline.producers.simulator import SimulationConfig, simulate
from usage_pipeline.schemas.topics import VISITOR_SALTS
from usage_pipeline.streams.policy.loader import load_policy

pytestmark = pytest.mark.kafka

UNTIL = dt.date(2026, 11, 20)


def visitors_per_day(events: list[dict]) -> dict[str, int]:
    """The simulator's ground truth: distinct (IP, user agent, host) per UTC day of traffic."""
    routes = load_policy(POLICY).routes
    seen: dict[str, set[tuple[str, str, str]]] = {}
    for event in events:
        context = event.get("context") or {}
        if "traffic" not in routes[event["event_type"]] or "ip" not in context:
            continue
        visitor = (context["ip"], context.get("user_agent", ""), context.get("host", ""))
        seen.setdefault(event["occurred_at"][:10], set()).add(visitor)
    return {day: len(visitors) for day, visitors in seen.items()}


def test_two_workers_and_a_restart_mid_day_count_each_visitor_once(kafka_bootstrap, tmp_path):
    env = make_stream_env(kafka_bootstrap, tmp_path)
    events = list(simulate(SimulationConfig(events=12_000, days=2, seed=31, until=UNTIL)))
    half = len(events) // 2  # the second half is the same days: the restart falls mid-day
    first, second = env.worker("a"), env.worker("b")
    with first, second:
        publish(kafka_bootstrap, env.namespace, events[:half])
        first.wait_until_caught_up(timeout_s=300)
        first.stop()
        first.start()
        publish(kafka_bootstrap, env.namespace, events[half:])
        first.wait_until_caught_up(timeout_s=300)
    lake = tmp_path / "lake"
    sink = cli("sink", "--until-caught-up", env=lake_env(kafka_bootstrap, env.namespace, lake))
    assert sink.returncode == 0, sink.stderr.decode()[-2000:]
    build(lake, lake / "aggregates.duckdb", k=2)
    with duckdb.connect(str(lake / "aggregates.duckdb"), read_only=True) as db:
        rows = db.execute(
            "select event_date::varchar, unique_visitors from web_traffic "
            "where dimension = 'host' and value is null"
        ).fetchall()
    assert dict(rows) == visitors_per_day(events)


def metric(port: int, name: str) -> float:
    """One unlabelled metric of a worker's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_a_salt_past_its_lifetime_is_gone_from_every_worker_and_from_the_topic(
    kafka_bootstrap, tmp_path
):
    lifetime_s = 15
    env = make_stream_env(kafka_bootstrap, tmp_path, salt_lifetime_s=lifetime_s)
    ports = [free_port(), free_port()]
    workers = [
        env.worker(name, visitor_salt_lifetime_s=lifetime_s, metrics_port=port)
        for name, port in zip("ab", ports, strict=True)
    ]
    events = [
        e
        for e in simulate(SimulationConfig(events=3000, days=1, seed=32, until=UNTIL))
        if e["event_type"] == "traffic.web_request"
    ]
    salts_topic = env.topic(VISITOR_SALTS.name)
    with workers[0], workers[1]:
        publish(kafka_bootstrap, env.namespace, events)
        workers[0].wait_until_caught_up(timeout_s=300)
        offers = [r for r in read_topic(kafka_bootstrap, salts_topic) if r.value() is not None]
        assert offers, "no salt was offered"
        held = [metric(port, "usage_pipeline_stream_visitor_salt_days") for port in ports]
        assert sum(held) >= 1
        deadline = time.monotonic() + lifetime_s + 60
        while any(metric(p, "usage_pipeline_stream_visitor_salt_days") for p in ports):
            assert time.monotonic() < deadline, "a worker still holds a salt past its lifetime"
            time.sleep(1)
        # Retention (= the lifetime) and the tombstones take the offers off the disk too.
        while any(r.value() is not None for r in read_topic(kafka_bootstrap, salts_topic)):
            assert time.monotonic() < deadline + 60, "a salt is still in the topic"
            time.sleep(2)
