"""The topics the stream writes: clean outputs (named by the policy), dead letters, key links,
salts; created as the registry (schemas/topics.py) says."""

from __future__ import annotations

from usage_pipeline.broker.admin import create_topics
from usage_pipeline.broker.security import Cluster
from usage_pipeline.schemas.topics import STREAM_TOPICS, TopicSettings, topic_specs
from usage_pipeline.streams.policy.model import Policy
from usage_pipeline.streams.visitors import SALT_LIFETIME_S


def clean_topics(policy: Policy, namespace: str = "") -> dict[str, str]:
    """The clean topics the policy names, each with the purpose it serves."""
    return {namespace + purpose.output: name for name, purpose in policy.purposes.items()}


def ensure_stream_topics(
    cluster: Cluster,
    policy: Policy,
    settings: TopicSettings,
    salt_lifetime_ms: int = SALT_LIFETIME_S * 1000,
) -> None:
    """Create the stream's topics that do not exist yet, one clean topic per policy output."""
    outputs = clean_topics(policy)
    create_topics(cluster, topic_specs(STREAM_TOPICS, settings, outputs, salt_lifetime_ms))
