"""Expected failures end a command with one line on stderr and an exit code, no traceback."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException

from usage_pipeline.broker.admin import TopicSpec, create_topics
from usage_pipeline.broker.security import MissingCredentialsError
from usage_pipeline.cli import main
from usage_pipeline.streams.supervisor import ProcessExitedError
from usage_pipeline.streams.worker.loop import AssignmentError
from usage_pipeline.streams.worker.ordering import FenceUnansweredError
from usage_pipeline.streams.worker.run import TopicLayoutError
from usage_pipeline.streams.worker.salt_log import SaltLogError
from usage_pipeline.streams.worker.transaction import FatalTransactionError

EXPECTED = [
    ProcessExitedError("stream worker", 1, "it stopped", Path("/state/stream-worker.log")),
    TopicLayoutError("raw topics missing: raw.usage"),
    FatalTransactionError("producer fenced by a newer instance"),
    SaltLogError("could not offer a visitor salt: timed out"),
    AssignmentError("event partitions [1] were assigned without their consent partitions"),
    FenceUnansweredError("no answer for the consent partitions' end"),
    MissingCredentialsError("set kafka.sasl_username and kafka.sasl_password_file"),
    KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED, "Not authorized")),
    PermissionError(13, "Permission denied", "/lake/clean"),
]


def exit_code_of_main(monkeypatch, error: BaseException) -> int | str | None:
    """Run the CLI's entry point with a command that raises ``error``; its exit code."""

    def failing() -> None:
        raise error

    monkeypatch.setattr(main, "app", failing)
    with pytest.raises(SystemExit) as exit_:
        main.main()
    return exit_.value.code


@pytest.mark.parametrize("error", EXPECTED, ids=lambda e: type(e).__name__)
def test_an_expected_failure_is_one_error_line_and_exit_1(monkeypatch, capsys, error):
    assert exit_code_of_main(monkeypatch, error) == 1
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith("error: ") and "Traceback" not in captured.err


def test_a_kafka_error_is_told_by_its_name_and_text():
    error = KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED, "Not authorized"))
    assert main.describe(error) == "Kafka: TOPIC_AUTHORIZATION_FAILED: Not authorized"


def test_ctrl_c_exits_130_without_a_traceback(monkeypatch, capsys):
    assert exit_code_of_main(monkeypatch, KeyboardInterrupt()) == 130
    assert capsys.readouterr().err == "Interrupted.\n"


@pytest.mark.kafka
def test_a_worker_on_raw_topics_of_unequal_partitions_refuses_in_one_line(
    kafka_bootstrap, tmp_path
):
    namespace = f"test-layout-{uuid.uuid4().hex[:8]}."
    create_topics(kafka_bootstrap, [TopicSpec(f"{namespace}raw.usage", 1)])
    key_file = tmp_path / "key"
    key_file.write_bytes(secrets.token_bytes(32))
    env = {k: v for k, v in os.environ.items() if not k.startswith("USAGE_PIPELINE_")}
    result = subprocess.run(
        [sys.executable, "-m", "usage_pipeline", "stream"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={**env, "COLUMNS": "300", "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
             "USAGE_PIPELINE_TOPICS__NAMESPACE": namespace,
             "USAGE_PIPELINE_TOPICS__PARTITIONS": "2",
             "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE": str(key_file)},
    )  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("error: the raw topics must have one partition count")
    assert f"{namespace}raw.usage=1" in last
