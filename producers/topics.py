"""The raw topics, created by the project: short retention, since they hold personal data."""

from __future__ import annotations

from usage_pipeline.broker.admin import create_topics
from usage_pipeline.broker.security import Cluster
from usage_pipeline.schemas.topics import RAW_TOPICS, TopicSettings, topic_specs


def ensure_raw_topics(cluster: Cluster, settings: TopicSettings) -> None:
    """Create any raw topic that does not exist yet (the registry says how)."""
    create_topics(cluster, topic_specs(RAW_TOPICS, settings))
