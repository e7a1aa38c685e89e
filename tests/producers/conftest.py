"""Fixtures for publishing tests: example events and a namespace of raw topics per test."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path

import orjson
import pytest

from usage_pipeline.producers.topics import ensure_raw_topics
from usage_pipeline.schemas.topics import TopicSettings

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples"


@pytest.fixture
def example_event():
    """A fresh copy of a schema example, with a new event id and optional changes."""

    def make(event_type: str, **subject: str) -> dict:
        event = copy.deepcopy(orjson.loads((EXAMPLES / f"{event_type}.v1.json").read_bytes()))
        event["event_id"] = str(uuid.uuid4())
        event["subject"].update(subject)
        return event

    return make


@pytest.fixture
def raw_namespace(kafka_bootstrap) -> str:
    """A fresh topic namespace with every raw topic created (3 partitions)."""
    namespace = f"test-{uuid.uuid4().hex[:10]}."
    ensure_raw_topics(kafka_bootstrap, TopicSettings(namespace=namespace, partitions=3))
    return namespace
