"""Run the real stream worker (`usage-pipeline stream`) as a process against the test broker."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from usage_pipeline.broker.admin import read_topic
from usage_pipeline.producers.topics import ensure_raw_topics
from usage_pipeline.schemas.topics import TopicSettings
from usage_pipeline.streams.config import StreamSettings
from usage_pipeline.streams.policy.loader import load_policy
from usage_pipeline.streams.supervisor import WorkerProcess
from usage_pipeline.streams.topics import ensure_stream_topics

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "config" / "anonymization.yaml"
PARTITIONS = 3


@dataclass
class StreamEnv:
    """A topic namespace with every pipeline topic, and how to run a worker on it."""

    bootstrap: str
    namespace: str
    key_file: Path
    log_file: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            "USAGE_PIPELINE_TOPICS__NAMESPACE": self.namespace,
            "USAGE_PIPELINE_TOPICS__PARTITIONS": str(PARTITIONS),
            "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE": str(self.key_file),
            "USAGE_PIPELINE_STREAM__BATCH_WITHIN_S": "0.2",
        }

    @property
    def group(self) -> str:
        return self.namespace + StreamSettings().app_id

    def topic(self, name: str) -> str:
        return self.namespace + name

    def worker(self, instance: str | None = None, **settings: object) -> WorkerProcess:
        """A `usage-pipeline stream` process on this namespace (use it as a context manager);
        ``instance`` names it (its own log file), ``settings`` are stream settings."""
        env = {
            **self.env,
            **{f"USAGE_PIPELINE_STREAM__{k.upper()}": str(v) for k, v in settings.items()},
        }
        log_file = self.log_file
        if instance is not None:
            env["USAGE_PIPELINE_STREAM__INSTANCE_ID"] = instance
            log_file = self.log_file.with_name(f"worker-{instance}.log")
        return WorkerProcess(self.bootstrap, self.group, self.namespace, log_file, env, cwd=REPO)

    def read(self, topic: str) -> list:
        """Every record of a topic now."""
        return read_topic(self.bootstrap, self.topic(topic))


def make_stream_env(
    bootstrap: str, folder: Path, salt_lifetime_s: float | None = None
) -> StreamEnv:
    """A fresh namespace with every pipeline topic, and a random key file, in ``folder``."""
    key_file = folder / "pseudonymization.key"
    key_file.write_bytes(secrets.token_bytes(32))
    namespace = f"test-{uuid.uuid4().hex[:10]}."
    topics = TopicSettings(namespace=namespace, partitions=PARTITIONS)
    ensure_raw_topics(bootstrap, topics)
    lifetime = {} if salt_lifetime_s is None else {"salt_lifetime_ms": int(salt_lifetime_s * 1000)}
    ensure_stream_topics(bootstrap, load_policy(POLICY), topics, **lifetime)
    return StreamEnv(bootstrap, namespace, key_file, folder / "worker.log")


@pytest.fixture(scope="module")
def stream_env(kafka_bootstrap, tmp_path_factory) -> StreamEnv:
    """A namespace shared by a module's tests."""
    return make_stream_env(kafka_bootstrap, tmp_path_factory.mktemp("stream"))


@pytest.fixture
def fresh_stream_env(kafka_bootstrap, tmp_path) -> StreamEnv:
    """A namespace of this test's own."""
    return make_stream_env(kafka_bootstrap, tmp_path)
