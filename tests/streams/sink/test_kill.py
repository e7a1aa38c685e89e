"""`usage-pipeline sink` killed with SIGKILL at random points, restarted each time, loses
and repeats nothing."""

from __future__ import annotations

import random
import signal
import time

import pytest

from tests.streams.sink.conftest import expected_rows, lake_rows
from tests.streams.sink.test_exactly_once import assert_lake_holds_exactly

pytestmark = pytest.mark.kafka

KILLS = 3
SEED = random.randrange(2**32)


def data_files(env) -> int:
    return sum(1 for _ in (env.lake / "clean").rglob("*.parquet")) if env.lake.exists() else 0


def test_kill_9_at_random_points_then_restart_converges_to_the_input(sink_env, make_outputs):
    rng = random.Random(SEED)
    outputs = make_outputs(sink_env.namespace, events=2500, seed=9)
    produced = sink_env.produce(outputs + rng.sample(outputs, 150))
    # Small flushes: each run spends its time in many write-rename-commit cycles.
    knobs = {"flush_rows": 40, "flush_seconds": 0.2}
    kills = 0
    while kills < KILLS:
        before = data_files(sink_env)
        process = sink_env.start_process("--until-caught-up", **knobs)
        deadline = time.monotonic() + 120
        while data_files(sink_env) == before and process.poll() is None:
            assert time.monotonic() < deadline, sink_env.log_file.read_text()[-3000:]
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.6))
        if process.poll() is not None:
            pytest.fail(f"the sink finished before kill {kills + 1} (seed {SEED})")
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
    final = sink_env.start_process("--until-caught-up", **knobs)
    assert final.wait(180) == 0, sink_env.log_file.read_text()[-3000:]
    assert lake_rows(sink_env.rows()) == expected_rows(produced), f"seed {SEED}"
    assert_lake_holds_exactly(sink_env, produced)
