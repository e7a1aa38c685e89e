"""`usage-pipeline emit`: valid lines are published, invalid ones reported by number and reason."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson

from usage_pipeline.producers.emit import emit_lines
from usage_pipeline.producers.publisher import EventPublisher


def jsonl(*events) -> bytes:
    return b"".join(e if isinstance(e, bytes) else orjson.dumps(e) + b"\n" for e in events)


def test_emit_publishes_valid_lines_and_reports_invalid_ones_by_number(
    kafka_bootstrap, raw_namespace, example_event
):
    bad_ip = example_event("traffic.web_request")
    bad_ip["context"]["ip"] = "300.1.1.1"
    lines = jsonl(
        example_event("usage.feature_used"), b"{not json\n", b"\n", bad_ip,
        example_event("email.activity"),
    ).splitlines(keepends=True)  # fmt: skip
    with EventPublisher(kafka_bootstrap, namespace=raw_namespace) as publisher:
        report = emit_lines(lines, publisher)
    assert (report.read, report.published) == (4, 2)
    assert [r.line for r in report.rejected] == [2, 4]
    assert report.rejected[1].reason.startswith("context.ip:")
    assert "300.1.1.1" not in report.rejected[1].reason
    assert publisher.stats.delivered == 2


def test_emit_can_stop_at_the_first_invalid_line(kafka_bootstrap, raw_namespace, example_event):
    lines = jsonl(b"[]\n", example_event("usage.feature_used")).splitlines(keepends=True)
    with EventPublisher(kafka_bootstrap, namespace=raw_namespace) as publisher:
        report = emit_lines(lines, publisher, stop_at_first_error=True)
    assert report.stopped_early
    assert (report.published, len(report.rejected)) == (0, 1)


def test_emit_command_reads_stdin_prints_counts_and_exits_1_on_rejections(
    kafka_bootstrap, raw_namespace, example_event
):
    bad = example_event("usage.feature_used")
    del bad["properties"]["feature"]
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "USAGE_PIPELINE_TOPICS__NAMESPACE": raw_namespace,
    }
    result = subprocess.run(
        [sys.executable, "-m", "usage_pipeline", "emit", "-"],
        input=jsonl(example_event("usage.feature_used"), bad),
        capture_output=True, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert b"read 2, published 1, rejected 1" in result.stdout
    assert b"line 2: properties.feature: is required" in result.stderr


def test_emit_answers_a_missing_or_unreadable_file_in_one_line_with_exit_2(tmp_path):
    for path, reason in ((tmp_path / "missing.jsonl", "No such file"), (tmp_path, "directory")):
        result = subprocess.run(
            [sys.executable, "-m", "usage_pipeline", "emit", str(path)],
            capture_output=True, text=True, env={**os.environ, "COLUMNS": "250"}, check=False,
        )  # fmt: skip
        assert result.returncode == 2
        assert result.stdout == ""
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"error: cannot read {path}: ") and reason in line
