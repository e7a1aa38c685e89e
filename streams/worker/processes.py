"""Several worker processes on one machine (`usage-pipeline stream --processes N`).

Each child is an ordinary worker with its own instance id (``<instance>-<i>``), so its own
transactional id and static group membership; the consumer group spreads the partitions over
them. A child that fails is started again with the same id, as a process supervisor would:
it fences its predecessor and resumes at the last commit. SIGTERM or SIGINT stops them all.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from types import FrameType

log = logging.getLogger(__name__)

RESTART_PAUSE_S = 2.0
STOP_TIMEOUT_S = 60.0
PREFIX = "USAGE_PIPELINE_STREAM__"


def child_metrics_port(metrics_port: int, index: int) -> int:
    """Where child worker number ``index`` serves /metrics (``stream.metrics_port`` + index)."""
    return metrics_port + index


def child_env(instance: str, index: int, metrics_port: int | None) -> dict[str, str]:
    """The environment that makes a child worker number ``index``."""
    env = {f"{PREFIX}PROCESSES": "1", f"{PREFIX}INSTANCE_ID": f"{instance}-{index}"}
    if metrics_port is not None:
        env[f"{PREFIX}METRICS_PORT"] = str(child_metrics_port(metrics_port, index))
    return env


def run_processes(count: int, instance: str, metrics_port: int | None) -> int:
    """Run ``count`` workers until stopped; 0 when all stopped cleanly."""
    stop = {"requested": False}

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("%s received: stopping %d workers", signal.Signals(signum).name, count)
        stop["requested"] = True

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, request_stop)
    children = {i: _start(instance, i, metrics_port) for i in range(count)}
    while not stop["requested"] and children:
        time.sleep(0.5)
        for index, child in list(children.items()):
            code = child.poll()
            if code is None:
                continue
            if code == 0:
                log.info("worker %s-%d finished", instance, index)
                del children[index]
                continue
            log.warning("worker %s-%d exited with %d; starting it again", instance, index, code)
            time.sleep(RESTART_PAUSE_S)
            children[index] = _start(instance, index, metrics_port)
    return _stop_all(children.values())


def _start(instance: str, index: int, metrics_port: int | None) -> subprocess.Popen[bytes]:
    env = {**os.environ, **child_env(instance, index, metrics_port)}
    return subprocess.Popen(
        [sys.executable, "-m", "usage_pipeline", "stream"], env=env, stdin=subprocess.DEVNULL
    )


def _stop_all(children: Iterable[subprocess.Popen[bytes]]) -> int:
    running = list(children)
    for child in running:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    worst = 0
    for child in running:
        try:
            code = child.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            child.kill()
            code = child.wait()
        worst = max(worst, abs(code))
    return worst
