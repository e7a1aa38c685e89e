"""Creates the topics the stream writes: clean outputs, dead letters, key links, salts."""

from __future__ import annotations

from broker.admin import create_topics
from broker.security import Cluster
from schemas.topics import STREAM_TOPICS, TopicSettingsLike, topic_specs
from streams.policy.model import Policy
from streams.visitors import SALT_LIFETIME_S


def ensure_stream_topics(
    cluster: Cluster,
    policy: Policy,
    settings: TopicSettingsLike,
    salt_lifetime_ms: int = SALT_LIFETIME_S * 1000,
) -> None:
    """Create the stream's topics that do not exist yet, one clean topic per policy output."""
    outputs = (purpose.output for purpose in policy.purposes.values())
    create_topics(cluster, topic_specs(STREAM_TOPICS, settings, outputs, salt_lifetime_ms))
