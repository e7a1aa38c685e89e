"""A batch posted with curl lands in the raw topics exactly as `usage-pipeline emit` puts it:
same events, keys and partitions."""

from __future__ import annotations

import shutil
import subprocess
import sys

import orjson
import pytest

from tests.producers.collect.conftest import REPO, TOKEN
from usage_pipeline.broker.admin import read_topic
from usage_pipeline.producers.simulator import SimulationConfig, simulate
from usage_pipeline.schemas.topics import raw_topics

pytestmark = pytest.mark.kafka


def landed(bootstrap: str, namespace: str) -> dict[str, tuple[str, dict, bytes, int]]:
    found = {}
    for topic in raw_topics(namespace):
        for message in read_topic(bootstrap, topic):
            event = orjson.loads(message.value())
            found[event["event_id"]] = (
                topic.removeprefix(namespace),
                event,
                message.key(),
                message.partition(),
            )
    return found


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_a_curl_batch_lands_like_the_same_batch_through_emit(collector, tmp_path):
    events = list(simulate(SimulationConfig(events=100, days=2, seed=23)))
    assert {e["event_type"] for e in events} >= {"consent.changed", "traffic.web_request"}
    batch = tmp_path / "batch.ndjson"
    batch.write_bytes(b"".join(orjson.dumps(e, option=orjson.OPT_APPEND_NEWLINE) for e in events))

    done = subprocess.run(
        ["curl", "-sS", "--fail-with-body", "-H", f"Authorization: Bearer {TOKEN}",
         "-H", "Content-Type: application/x-ndjson", "--data-binary", f"@{batch}",
         f"http://127.0.0.1:{collector.port}/v1/events"],
        capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    assert orjson.loads(done.stdout) == {"accepted": len(events), "rejected": []}

    emit_namespace = "emit-" + collector.namespace
    env = {**collector.env, "USAGE_PIPELINE_TOPICS__NAMESPACE": emit_namespace}
    subprocess.run(
        [sys.executable, "-m", "usage_pipeline", "emit", str(batch)],
        cwd=REPO, env=env, capture_output=True, check=True, timeout=300,
    )  # fmt: skip

    by_curl = landed(collector.bootstrap, collector.namespace)
    by_emit = landed(collector.bootstrap, emit_namespace)
    ids = {e["event_id"] for e in events}
    assert {k: v for k, v in by_curl.items() if k in ids} == by_emit
    assert set(by_emit) == ids
