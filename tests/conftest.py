"""Shared fixtures: one real Kafka broker per test session, and unique topic names per test.

Hypothesis runs without its per-example deadline and its too-slow check: both time the
test, and these machines are shared and noisy (a timed assertion in disguise).
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from usage_pipeline.broker.admin import create_topics
from usage_pipeline.broker.config import LocalBrokerSettings
from usage_pipeline.broker.local import LocalBroker
from usage_pipeline.schemas.topics import TopicSpec

settings.register_profile(
    "shared-machine", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("shared-machine")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def local_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker | None]:
    """The broker this test session started, or None when KAFKA_BOOTSTRAP_SERVERS is set."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield None
        return
    settings = LocalBrokerSettings(port=free_port(), controller_port=free_port())
    broker = LocalBroker(settings, tmp_path_factory.mktemp("home"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(local_broker: LocalBroker | None) -> str:
    """Bootstrap address of the real broker the tests run against."""
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or local_broker.bootstrap_servers


@pytest.fixture
def new_topic(kafka_bootstrap: str, request: pytest.FixtureRequest) -> Callable[..., str]:
    """Create a topic whose name is unique to this test; returns its name."""
    test_name = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name)[:60]

    def make(suffix: str = "t", partitions: int = 3, config: dict[str, str] | None = None) -> str:
        name = f"test.{test_name}.{suffix}.{uuid.uuid4().hex[:8]}"
        create_topics(kafka_bootstrap, [TopicSpec(name, partitions, config or {})])
        return name

    return make


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's top folder."""
    return Path(__file__).resolve().parent.parent
