"""`usage-pipeline demo` end to end: it finishes twice in a row, and Ctrl-C stops everything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]


def demo_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment that keeps the demo's topics, state and lake inside ``tmp_path``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("USAGE_PIPELINE_") and key != "KAFKA_BOOTSTRAP_SERVERS"
    }
    return {
        **env,
        "USAGE_PIPELINE_HOME": str(tmp_path / "home"),
        "USAGE_PIPELINE_TOPICS__NAMESPACE": f"test-demo-{uuid.uuid4().hex[:8]}.",
        "USAGE_PIPELINE_TOPICS__PARTITIONS": "3",
        "USAGE_PIPELINE_STREAM__POLICY_FILE": str(REPO / "config" / "anonymization.yaml"),
        "USAGE_PIPELINE_STREAM__BATCH_WITHIN_S": "0.2",
        "USAGE_PIPELINE_SINK__FLUSH_SECONDS": "1",
        **extra,
    }


def run_demo(tmp_path: Path, env: dict[str, str], events: int) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "usage_pipeline",
        "demo",
        "--events",
        str(events),
        "--days",
        "7",
    ]
    return subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )


def test_demo_runs_to_the_end_twice_and_prints_its_summary(tmp_path, kafka_bootstrap):
    env = demo_env(tmp_path, KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap)
    for run in (1, 2):
        result = run_demo(tmp_path, env, events=3000)
        assert result.returncode == 0, f"run {run}:\n{result.stdout}\n{result.stderr[-3000:]}"
        assert "events published, anonymized, written and aggregated" in result.stdout
        assert "Lake:" in result.stdout and "Aggregates:" in result.stdout
        assert "Clean: no e-mail address" in result.stdout
    assert (tmp_path / "lake" / "report.html").is_file()
    assert (tmp_path / "lake" / "aggregates.duckdb").is_file()


def children_of(pid: int) -> set[int]:
    """Every process below ``pid`` (children, grandchildren, ...)."""
    found: set[int] = set()
    pending = [pid]
    while pending:
        parent = pending.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = {int(x) for x in (task / "children").read_text().split()}
            except (FileNotFoundError, ProcessLookupError):
                continue
            pending.extend(kids - found)
            found |= kids
    return found


def broker_pids(home: Path) -> set[int]:
    """Java processes whose command line mentions the demo's home folder (its local broker)."""
    pids = set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if str(home).encode() in cmdline and b"kafka.Kafka" in cmdline:
            pids.add(int(proc.name))
    return pids


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_ctrl_c_stops_the_worker_and_the_broker_the_demo_started(tmp_path):
    env = demo_env(
        tmp_path,
        USAGE_PIPELINE_LOCAL_BROKER__PORT=str(free_port()),
        USAGE_PIPELINE_LOCAL_BROKER__CONTROLLER_PORT=str(free_port()),
    )
    log = (tmp_path / "demo.log").open("w+")
    command = [sys.executable, "-m", "usage_pipeline", "demo", "--events", "500000"]
    # A terminal's Ctrl-C signals the whole foreground process group: so does this test.
    demo = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    worker_log = tmp_path / "home" / "stream-worker.log"
    deadline = time.monotonic() + 240
    while not (worker_log.exists() and broker_pids(tmp_path / "home")):
        assert demo.poll() is None, (tmp_path / "demo.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "the demo never started its worker"
        time.sleep(0.5)
    time.sleep(3)
    started = children_of(demo.pid) | broker_pids(tmp_path / "home")
    assert started, "the demo started no process"

    os.killpg(demo.pid, signal.SIGINT)
    assert demo.wait(120) == 130
    deadline = time.monotonic() + 60
    while any(alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not [pid for pid in started if alive(pid)], "processes outlived the demo"
    log.seek(0)
    assert "interrupted" in log.read().lower()
