"""Run `usage-pipeline stream` as a child process and wait until it has caught up.

Used by the demo, the benchmarks and the tests, which all need a real worker process that
they can start, watch and stop. The worker watches its own liveness (``/healthz``); this only
follows its lag and notices when it exits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from broker.admin import consumer_lag
from broker.security import Cluster, address
from schemas.topics import raw_topics

STOP_TIMEOUT_S = 30.0


class WorkerExitedError(RuntimeError):
    """The worker stopped on its own; carries the end of its log."""


class WorkerProcess:
    """A stream worker child process with its own environment and log file."""

    def __init__(
        self,
        cluster: Cluster,
        group: str,
        namespace: str,
        log_file: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.cluster = cluster
        self.group = group
        self.namespace = namespace
        self.log_file = log_file
        self.env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": address(cluster), **(env or {})}
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the worker; its output goes to the log file."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "usage_pipeline", "stream"],
                cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip

    def lag(self) -> int:
        """Raw records the worker has not committed yet."""
        return consumer_lag(self.cluster, self.group, list(raw_topics(self.namespace)))

    def wait_until_caught_up(
        self,
        timeout_s: float | None = 600.0,
        poll_s: float = 0.5,
        on_lag: Callable[[int], None] | None = None,
    ) -> None:
        """Block until every raw record is committed; raise if the worker exits or, with a
        ``timeout_s``, is still behind then. ``on_lag`` hears the lag after every poll."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while (lag := self.lag()) > 0:
            if on_lag is not None:
                on_lag(lag)
            if self.process is not None and self.process.poll() is not None:
                raise WorkerExitedError(f"the stream worker exited: {self.log_tail()}")
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"the stream worker is still behind: {self.log_tail()}")
            time.sleep(poll_s)
        if on_lag is not None:
            on_lag(0)

    def peak_rss_mib(self) -> float:
        """The worker's peak resident memory so far."""
        if self.process is None:
            return 0.0
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmHWM"))
        return int(line.split()[1]) / 1024

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), or kill after 30 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, size: int = 3000) -> str:
        """The end of the worker's log."""
        try:
            return self.log_file.read_text(errors="replace")[-size:]
        except FileNotFoundError:
            return "(no log)"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
