"""CI's leak check: the real worker and sink on simulated events leave nothing to find."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.streams.conftest import REPO, stream_env  # noqa: F401 - the fixture

pytestmark = pytest.mark.kafka


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "usage_pipeline", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_audit_scan_after_worker_and_sink_on_simulated_events_exits_0(stream_env, tmp_path):  # noqa: F811
    env = {
        **os.environ,
        **stream_env.env,
        "KAFKA_BOOTSTRAP_SERVERS": stream_env.bootstrap,
        "USAGE_PIPELINE_HOME": str(tmp_path / "home"),
        "USAGE_PIPELINE_SINK__LAKE_DIR": str(tmp_path / "lake"),
        "USAGE_PIPELINE_AGGREGATE__DATABASE": str(tmp_path / "lake" / "aggregates.duckdb"),
    }
    published = cli(env, "simulate", "-n", "300", "--days", "3", "--seed", "11")
    assert published.returncode == 0, published.stderr
    with stream_env.worker() as worker:
        worker.wait_until_caught_up()
    sunk = cli(env, "sink", "--until-caught-up")
    assert sunk.returncode == 0, sunk.stderr
    assert any((tmp_path / "lake" / "clean").rglob("*.parquet"))

    result = cli(env, "audit", "scan", "--log", str(stream_env.log_file), "--canary", "key-never")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "dead.letter does not exist" not in result.stdout  # the topic was read
    assert "Clean:" in result.stdout
