"""The raw topics, created by the project: short retention, since they hold personal data."""

from __future__ import annotations

from broker.admin import TopicSpec, create_topics
from schemas.topics import CONSENT_FAMILY, raw_topic, raw_topics
from usage_pipeline.settings import TopicSettings

DAY_MS = 24 * 3600 * 1000


def raw_topic_specs(settings: TopicSettings) -> list[TopicSpec]:
    """Raw event topics delete after ``raw_retention_days``; consent is compacted within it."""
    retention_ms = settings.raw_retention_ms
    retention = {"cleanup.policy": "delete", "retention.ms": str(retention_ms)}
    # Latest decision per subject and purpose is kept for as long as the subject exists;
    # superseded ones (and an erased subject's) are compacted away within the raw retention.
    consent = {
        "cleanup.policy": "compact",
        "min.compaction.lag.ms": str(min(DAY_MS, retention_ms)),  # Kafka wants min <= max
        "max.compaction.lag.ms": str(retention_ms),
    }
    consent_topic = raw_topic(CONSENT_FAMILY, settings.namespace)
    return [
        TopicSpec(
            name,
            settings.partitions,
            consent if name == consent_topic else retention,
            settings.replication_factor,
        )
        for name in raw_topics(settings.namespace)
    ]


def ensure_raw_topics(bootstrap_servers: str, settings: TopicSettings) -> None:
    """Create any raw topic that does not exist yet."""
    create_topics(bootstrap_servers, raw_topic_specs(settings))
