"""Fail closed: the worker does not start with an invalid policy or without a usable key."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_stream(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith("USAGE_PIPELINE_STREAM__")
    }
    environment.update({"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", **env})
    return subprocess.run(
        [sys.executable, "-m", "usage_pipeline", "stream"],
        cwd=REPO, env=environment, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_worker_without_a_key_refuses_to_start_and_says_how_to_provide_one(tmp_path):
    result = run_stream(tmp_path)
    assert result.returncode == 1
    assert "no pseudonymization key" in result.stderr
    assert "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE" in result.stderr


def test_worker_with_a_short_key_refuses_to_start_without_showing_it(tmp_path):
    key = secrets.token_bytes(16)
    encoded = base64.b64encode(key).decode()
    result = run_stream(tmp_path, USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY=encoded)
    assert result.returncode == 1
    assert "has 16 bytes; at least 32 are needed" in result.stderr
    assert encoded not in result.stderr + result.stdout


def test_worker_with_an_invalid_policy_refuses_to_start_naming_the_problem(tmp_path):
    policy = tmp_path / "policy.yaml"
    text = (REPO / "config" / "anonymization.yaml").read_text()
    policy.write_text(text.replace("context.ip: truncate_ip", "context.ip: hash_it", 1))
    key_file = tmp_path / "key"
    key_file.write_bytes(secrets.token_bytes(32))
    result = run_stream(
        tmp_path,
        USAGE_PIPELINE_STREAM__POLICY_FILE=str(policy),
        USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE=str(key_file),
    )
    assert result.returncode == 1
    assert "purposes.service.fields.context.ip: unknown action 'hash_it'" in result.stderr
