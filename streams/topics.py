"""The topics the stream writes: one clean topic per purpose, dead letters, key links, salts."""

from __future__ import annotations

from broker.admin import TopicSpec, create_topics
from streams.key_links import KEY_LINKS_TOPIC
from streams.policy.model import Policy
from streams.processor import DEAD_LETTER_TOPIC
from streams.visitors import SALT_LIFETIME_S
from usage_pipeline.settings import TopicSettings

DAY_MS = 24 * 3600 * 1000
HOUR_MS = 3600 * 1000
DEAD_LETTER_RETENTION_DAYS = 30
VISITOR_SALTS_TOPIC = "visitors.salts"


def visitor_salts_spec(
    settings: TopicSettings, lifetime_ms: int = SALT_LIFETIME_S * 1000
) -> TopicSpec:
    """One partition (one order all workers agree on), compacted for tombstones and deleted
    by age, so a salt leaves the disk within lifetime + segment.ms (+ the retention check)."""
    roll_ms = min(HOUR_MS, lifetime_ms)
    config = {
        "cleanup.policy": "compact,delete",
        "retention.ms": str(lifetime_ms),
        "segment.ms": str(roll_ms),
        "min.compaction.lag.ms": "0",
        "max.compaction.lag.ms": str(roll_ms),
        "delete.retention.ms": str(roll_ms),
    }
    name = settings.namespace + VISITOR_SALTS_TOPIC
    return TopicSpec(name, 1, config, settings.replication_factor)


def stream_topic_specs(
    policy: Policy, settings: TopicSettings, salt_lifetime_ms: int = SALT_LIFETIME_S * 1000
) -> list[TopicSpec]:
    """Clean topics keep what raw topics keep; dead letters (redacted) are kept 30 days; key
    links are compacted (each pair once) and kept until deleted (docs/keys.md); visitor salts
    live as long as a salt does."""
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
    specs.append(visitor_salts_spec(settings, salt_lifetime_ms))
    return specs


def ensure_stream_topics(
    bootstrap_servers: str,
    policy: Policy,
    settings: TopicSettings,
    salt_lifetime_ms: int = SALT_LIFETIME_S * 1000,
) -> None:
    """Create the clean, dead-letter, key-link and visitor-salt topics that do not exist yet."""
    create_topics(bootstrap_servers, stream_topic_specs(policy, settings, salt_lifetime_ms))
