"""A real `usage-pipeline collect` process on a loopback port, against the test broker."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import free_port
from usage_pipeline.producers.topics import ensure_raw_topics
from usage_pipeline.schemas.topics import TopicSettings

REPO = Path(__file__).resolve().parents[3]
TOKEN = "test-token-0123456789abcdef-billing"
SITE = "https://www.example.com"


@dataclass
class Answer:
    """An HTTP response, read whole."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


@dataclass
class Collector:
    """A collector process: where it listens, its log, and its topic namespace."""

    port: int
    namespace: str
    bootstrap: str
    log_file: Path
    process: subprocess.Popen
    env: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """One request on a fresh connection."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            return Answer(response.status, dict(response.getheaders()), response.read())
        finally:
            connection.close()

    def post_events(self, body: bytes, content_type: str = "application/json", **headers: str):
        """POST /v1/events with the test token."""
        return self.request(
            "POST",
            "/v1/events",
            body,
            {"Authorization": f"Bearer {TOKEN}", "Content-Type": content_type, **headers},
        )

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def topic(self, name: str) -> str:
        return self.namespace + name


def start_collector(
    bootstrap: str, folder: Path, extra_env: Mapping[str, str] | None = None
) -> Collector:
    """Start `usage-pipeline collect` with a fresh namespace; waits until /healthz answers."""
    namespace = f"test-{uuid.uuid4().hex[:10]}."
    ensure_raw_topics(bootstrap, TopicSettings(namespace=namespace, partitions=3))
    tokens = folder / "tokens"
    tokens.write_text(f"# service token\nbilling-api {TOKEN}\n")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("USAGE_PIPELINE_")},
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "USAGE_PIPELINE_TOPICS__NAMESPACE": namespace,
        "USAGE_PIPELINE_TOPICS__PARTITIONS": "3",
        "USAGE_PIPELINE_COLLECT__TOKENS_FILE": str(tokens),
        "USAGE_PIPELINE_COLLECT__SITE_ORIGINS": json.dumps([SITE]),
        "USAGE_PIPELINE_COLLECT__MAX_BODY_BYTES": str(64 * 1024),
        "USAGE_PIPELINE_COLLECT__HEADER_READ_TIMEOUT_S": "2",
        "USAGE_PIPELINE_COLLECT__BODY_READ_TIMEOUT_S": "2",
        "USAGE_PIPELINE_LOG_LEVEL": "DEBUG",
        **(extra_env or {}),
    }
    log_file = folder / f"collect-{port}.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "usage_pipeline", "collect", "--port", str(port)],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    collector = Collector(port, namespace, bootstrap, log_file, process, env)
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the collector exited: {collector.log()[-3000:]}")
        try:
            if collector.request("GET", "/healthz").status == 200:
                return collector
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(collector.log()[-3000:])
        time.sleep(0.2)


def stop_collector(collector: Collector) -> None:
    """SIGTERM, then SIGKILL after 30 s."""
    if collector.process.poll() is None:
        os.killpg(collector.process.pid, signal.SIGTERM)
        try:
            collector.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(collector.process.pid, signal.SIGKILL)
            collector.process.wait()


@pytest.fixture(scope="module")
def collector(kafka_bootstrap, tmp_path_factory) -> Iterator[Collector]:
    """One collector for a test module."""
    running = start_collector(kafka_bootstrap, tmp_path_factory.mktemp("collect"))
    yield running
    stop_collector(running)
