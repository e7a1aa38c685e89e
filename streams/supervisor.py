"""Run pipeline commands (`usage-pipeline stream`, `usage-pipeline sink`) as child processes.

Used by the demo, the benchmarks and the tests, which all need real processes that they can
start, watch and stop, and whose consumer group they can follow until it has caught up. The
worker watches its own liveness (``/healthz``); this only follows a group's lag and notices
when a process exits, saying why in one line (the cause is read from the end of its log).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from usage_pipeline.broker.admin import consumer_lag
from usage_pipeline.broker.security import Cluster, address
from usage_pipeline.schemas.topics import raw_topics

STOP_TIMEOUT_S = 30.0
CAUSE_CHARS = 300
# The line the CLI prints for an expected failure, and the last line of a traceback.
_CLI_ERROR = re.compile(r"^error: ")
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b")
_LOGGED_ERROR = re.compile(r"\b(CRITICAL|ERROR)\b")


class ProcessExitedError(RuntimeError):
    """A pipeline process stopped on its own; says which, why, and where its log is."""

    def __init__(self, name: str, returncode: int, cause: str, log_file: Path) -> None:
        self.name = name
        self.returncode = returncode
        self.cause = cause
        self.log_file = log_file
        how = (
            f"was killed by {signal.Signals(-returncode).name}"
            if returncode < 0
            else f"exited with code {returncode}"
        )
        super().__init__(f"the {name} {how}: {cause} (log: {log_file})")


def exit_cause(log_text: str) -> str:
    """The most telling line of a log that ended with a failure: the CLI's one-line error,
    else the last line of a traceback, else the last error logged, cut to one line."""
    lines = [line.strip() for line in log_text.splitlines() if line.strip()]
    for pattern in (_CLI_ERROR, _EXCEPTION, _LOGGED_ERROR):
        matches = [line for line in lines if pattern.search(line)]
        if matches:
            return matches[-1].removeprefix("error: ")[:CAUSE_CHARS]
    return "nothing logged"


class PipelineProcess:
    """`usage-pipeline <command>` as a child process with its own environment and log file,
    followed through the lag of its consumer group on ``topics``."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        cluster: Cluster,
        group: str,
        topics: Sequence[str],
        log_file: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.cluster = cluster
        self.group = group
        self.topics = list(topics)
        self.log_file = log_file
        self.env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": address(cluster), **(env or {})}
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process; its output goes to the log file."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "usage_pipeline", *self.command],
                cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip

    def lag(self) -> int:
        """Records of its topics that its group has not committed yet."""
        return consumer_lag(self.cluster, self.group, self.topics)

    def check(self) -> None:
        """Raise ProcessExitedError if the process has exited."""
        code = None if self.process is None else self.process.poll()
        if code is not None:
            raise ProcessExitedError(self.name, code, exit_cause(self.log_tail()), self.log_file)

    def wait_until_caught_up(
        self,
        timeout_s: float | None = 600.0,
        poll_s: float = 0.5,
        on_lag: Callable[[int], None] | None = None,
    ) -> None:
        """Block until every record of its topics is committed; raise if the process exits
        or, with a ``timeout_s``, is still behind then. ``on_lag`` hears the lag after every
        poll."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while (lag := self.lag()) > 0:
            if on_lag is not None:
                on_lag(lag)
            self.check()
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"the {self.name} is still behind: {self.log_tail()}")
            time.sleep(poll_s)
        if on_lag is not None:
            on_lag(0)

    def peak_rss_mib(self) -> float:
        """The largest peak resident memory so far of the process and of each one under it
        (with ``--processes N``, the supervisor's workers: each is a process of its own)."""
        if self.process is None:
            return 0.0
        return max(peak_rss_mib(pid) for pid in process_tree(self.process.pid))

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
        """The end of the process's log."""
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


class WorkerProcess(PipelineProcess):
    """A stream worker (`usage-pipeline stream`), followed on the raw topics."""

    def __init__(
        self,
        cluster: Cluster,
        group: str,
        namespace: str,
        log_file: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        topics = raw_topics(namespace)
        super().__init__("stream worker", ["stream"], cluster, group, topics, log_file, env, cwd)
        self.namespace = namespace


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it, from /proc (children, grandchildren, ...)."""
    found, pending = [pid], [pid]
    while pending:
        for task in Path(f"/proc/{pending.pop()}/task").glob("*"):
            try:
                children = [int(child) for child in (task / "children").read_text().split()]
            except OSError:  # the task has just exited
                continue
            found += children
            pending += children
    return found


def peak_rss_mib(pid: int | str = "self") -> float:
    """One process's own peak resident memory (VmHWM, MiB); 0 once it has exited.

    Not getrusage's: Linux carries the forking parent's peak over exec into a child, so every
    child of a parent that held a lot would report at least the parent's.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0  # exited, not yet reaped: no memory left to report
