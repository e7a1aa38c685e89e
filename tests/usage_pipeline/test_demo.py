"""`usage-pipeline demo` end to end: it finishes twice in a row, and Ctrl-C stops everything."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.conftest import free_port
from usage_pipeline.streams.supervisor import process_tree

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
        command,
        cwd=tmp_path,
        env={**env, "COLUMNS": "300"},
        capture_output=True,
        text=True,
        timeout=600,
    )


def records_table(stdout: str) -> dict[str, int]:
    """The summary's "Records added in this run": topic (namespace cut) -> records."""
    rows = re.findall(r"^\S ([\w.-]+)\s+\S\s+([\d,]+) \S", stdout, re.M)
    return {topic.rpartition(".")[0].rpartition(".")[2] + "." + topic.rpartition(".")[2]:
            int(count.replace(",", "")) for topic, count in rows}  # fmt: skip


def test_demo_runs_to_the_end_twice_and_prints_its_summary(tmp_path, kafka_bootstrap):
    env = demo_env(tmp_path, KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap)
    for run in (1, 2):
        result = run_demo(tmp_path, env, events=3000)
        assert result.returncode == 0, f"run {run}:\n{result.stdout}\n{result.stderr[-3000:]}"
        assert "events published, anonymized, written and aggregated" in result.stdout
        assert "Lake:" in result.stdout and "Aggregates:" in result.stdout
        assert "Clean: no e-mail address" in result.stdout
        # Records, not offsets (transactions leave markers): each clean record of a run is
        # a row the run added to the lake, or a repeat the sink dropped.
        records = records_table(result.stdout)
        assert sum(n for topic, n in records.items() if topic.startswith("raw.")) >= 3000
        lake = re.search(r"Lake: ([\d,]+) rows .* \(([\d,]+) duplicates", result.stdout)
        assert lake is not None, result.stdout
        rows, repeated = (int(n.replace(",", "")) for n in lake.groups())
        clean = sum(n for topic, n in records.items() if topic.startswith("clean."))
        # The second run publishes the same events again (same seed): the sink drops them.
        assert (rows, repeated) == ((clean, 0) if run == 1 else (0, clean))
    assert (tmp_path / "lake" / "report.html").is_file()
    assert (tmp_path / "lake" / "aggregates.duckdb").is_file()


def test_the_console_shows_progress_and_the_summary_and_the_logs_the_rest(
    tmp_path, kafka_bootstrap
):
    env = demo_env(tmp_path, KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap)
    result = run_demo(tmp_path, env, events=2000)
    assert result.returncode == 0, result.stderr[-3000:]
    console = result.stdout + result.stderr
    assert "%4|" not in console and "%3|" not in console  # librdkafka's own lines
    assert "assigned" not in console and " INFO " not in console
    home = tmp_path / "home"
    assert f"state and logs in {home}/" in result.stderr
    assert f"lake in {tmp_path / 'lake'}/" in result.stderr
    for log in ("stream-worker.log", "sink.log", "demo.log"):
        assert (home / log).is_file()
    assert "assigned" in (home / "sink.log").read_text()


def test_a_process_that_exits_ends_the_demo_with_one_line_naming_it(tmp_path, kafka_bootstrap):
    short_key = tmp_path / "short.key"
    short_key.write_bytes(b"short")
    env = demo_env(
        tmp_path,
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE=str(short_key),
    )
    result = run_demo(tmp_path, env, events=2000)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    log = tmp_path / "home" / "stream-worker.log"
    assert result.stderr.splitlines()[-1] == (
        "error: the stream worker exited with code 1: the pseudonymization key has 5 bytes; "
        f"at least 32 are needed (log: {log})"
    )


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
    started = set(process_tree(demo.pid)[1:]) | broker_pids(tmp_path / "home")
    assert started, "the demo started no process"

    os.killpg(demo.pid, signal.SIGINT)
    assert demo.wait(120) == 130
    deadline = time.monotonic() + 60
    while any(alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not [pid for pid in started if alive(pid)], "processes outlived the demo"
    log.seek(0)
    assert "interrupted" in log.read().lower()
