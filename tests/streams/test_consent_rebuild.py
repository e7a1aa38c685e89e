"""A worker started on a million consent records rebuilds its state, then serves events.

Nothing restarts it meanwhile: the rebuild is ordinary consumption of the consent partitions,
so the loop keeps going round and its liveness holds however long the replay takes. (The
faust worker's table recovery outlasted its stall watchdog at 402,230 records.)
"""

from __future__ import annotations

import orjson
import pytest

from tests.bench import bench_module
from tests.streams.conftest import PARTITIONS
from tests.streams.pipeline_run import feature_used, publish

pytestmark = pytest.mark.kafka

SUBJECTS = 1_000_000
SERVED = 200  # events of subjects with a grant, published after the consent records


@pytest.mark.timeout(1800)
def test_a_worker_on_a_million_consent_records_rebuilds_and_then_serves_events(
    fresh_stream_env,
):
    env = fresh_stream_env
    bench_module("stream").publish_consent(env.bootstrap, env.namespace, SUBJECTS, PARTITIONS)
    granted = [f"usr_bench{i:09d}" for i in range(0, SUBJECTS, SUBJECTS // SERVED)]
    never_asked = [f"usr_other{i}" for i in range(SERVED)]
    events = [feature_used(user) for user in granted + never_asked]
    publish(env.bootstrap, env.namespace, events)
    with env.worker("a") as worker:
        worker.wait_until_caught_up(timeout_s=1500)
        assert worker.process is not None and worker.process.poll() is None
        starts = worker.log_tail(200_000).count("Stream worker a on")
    assert starts == 1, "the worker was started more than once"
    analytics = {
        record["event_id"]: record["consent"]
        for record in (orjson.loads(r.value()) for r in env.read("clean.analytics"))
    }
    ids = [event["event_id"] for event in events]
    assert [analytics[i] for i in ids[:SERVED]] == ["granted"] * SERVED
    assert [analytics[i] for i in ids[SERVED:]] == ["not_granted"] * SERVED
