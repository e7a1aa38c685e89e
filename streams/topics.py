"""The topics the stream writes: one clean topic per purpose, dead letters, and key links."""

from __future__ import annotations

from broker.admin import TopicSpec, create_topics
from streams.key_links import KEY_LINKS_TOPIC
from streams.policy.model import Policy
from streams.processor import DEAD_LETTER_TOPIC
from usage_pipeline.settings import TopicSettings

DAY_MS = 24 * 3600 * 1000
DEAD_LETTER_RETENTION_DAYS = 30


def stream_topic_specs(policy: Policy, settings: TopicSettings) -> list[TopicSpec]:
    """Clean topics keep what raw topics keep; dead letters (redacted) are kept 30 days; key
    links are compacted (each pair once) and kept until deleted (docs/keys.md)."""
    clean = {"retention.ms": str(settings.raw_retention_ms)}
    dead = {"retention.ms": str(DEAD_LETTER_RETENTION_DAYS * DAY_MS)}
    names = sorted({settings.namespace + p.output for p in policy.purposes.values()})
    specs = [TopicSpec(n, settings.partitions, clean, settings.replication_factor) for n in names]
    specs.append(
        TopicSpec(
            settings.namespace + DEAD_LETTER_TOPIC,
            settings.partitions,
            dead,
            settings.replication_factor,
        )
    )
    specs.append(
        TopicSpec(
            settings.namespace + KEY_LINKS_TOPIC,
            settings.partitions,
            {"cleanup.policy": "compact"},
            settings.replication_factor,
        )
    )
    return specs


def ensure_stream_topics(bootstrap_servers: str, policy: Policy, settings: TopicSettings) -> None:
    """Create the clean, dead-letter and key-link topics that do not exist yet."""
    create_topics(bootstrap_servers, stream_topic_specs(policy, settings))
