"""Why a pipeline process stopped, in one line, from the end of its log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from usage_pipeline.streams.supervisor import PipelineProcess, ProcessExitedError, exit_cause

TRACEBACK = """\
2026-12-06 10:00:00,000 INFO streams.worker.loop: assigned partitions [0, 1]
Traceback (most recent call last):
  File "loop.py", line 1, in run
confluent_kafka.error.KafkaException: KafkaError{code=_FENCED,val=-144,str="fenced"}
"""


def test_the_clis_own_error_line_is_the_cause():
    log = "2026-12-06 INFO x: started\nerror: the raw topics must have one partition count\n"
    assert exit_cause(log) == "the raw topics must have one partition count"


def test_without_one_the_last_line_of_a_traceback_is_the_cause():
    assert exit_cause(TRACEBACK).startswith("confluent_kafka.error.KafkaException: KafkaError")


def test_without_either_the_last_logged_error_is_the_cause():
    log = "2026-12-06 CRITICAL streams.worker.health: the loop has not gone round for 60 s\n"
    assert "has not gone round" in exit_cause(log)
    assert exit_cause("2026-12-06 INFO x: started\n") == "nothing logged"


def test_a_cause_is_one_line_of_at_most_300_characters():
    assert len(exit_cause("error: " + "x" * 5000)) == 300


def test_an_exited_process_is_named_with_its_cause_and_log(tmp_path):
    error = ProcessExitedError("sink", -signal.SIGKILL, "nothing logged", tmp_path / "sink.log")
    assert (
        str(error) == f"the sink was killed by SIGKILL: nothing logged (log: {tmp_path}/sink.log)"
    )


def test_check_raises_once_the_process_has_exited(tmp_path):
    process = PipelineProcess(
        "sink", ["no-such-command"], "127.0.0.1:1", "g", [], tmp_path / "sink.log"
    )
    process.start()
    process.process.wait(60)
    with pytest.raises(ProcessExitedError) as exited:
        process.check()
    assert exited.value.returncode == 2  # a usage error of the CLI
    assert exited.value.log_file == Path(tmp_path / "sink.log")


def test_the_peak_memory_of_a_supervisor_is_that_of_its_largest_process(tmp_path):
    process = PipelineProcess("stream worker", ["stream"], "127.0.0.1:1", "g", [], tmp_path / "w")
    child = "import time; block = b'x' * (100 * 2**20); print(flush=True); time.sleep(60)"
    parent = (
        "import subprocess, sys;"
        f"subprocess.run([sys.executable, '-c', {child!r}], stdout=sys.stdout)"
    )
    process.process = subprocess.Popen(
        [sys.executable, "-c", parent], stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        process.process.stdout.readline()  # the child holds its 100 MiB
        assert process.peak_rss_mib() >= 100
    finally:
        os.killpg(process.process.pid, signal.SIGKILL)
        process.process.wait()
