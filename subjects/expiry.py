"""When Kafka's own retention removes the copies an erasure cannot delete record by record.

Kafka deletes whole segments, never one record: raw and clean topics hold the subject's
events until their retention passes; the compacted consent topic drops superseded records
only when the log cleaner compacts it, and keeps the
erasure's tombstones (whose key is the subject id) ``delete.retention.ms`` longer. The
figures come from the topics' live configuration.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from confluent_kafka.admin import ConfigResource, ResourceType

from usage_pipeline.broker.admin import admin_client
from usage_pipeline.broker.security import Cluster

CONFIGS = (
    "cleanup.policy",
    "retention.ms",
    "segment.ms",
    "min.compaction.lag.ms",
    "max.compaction.lag.ms",
    "delete.retention.ms",
)
NEVER = 2**63 - 1  # Long.MAX_VALUE: Kafka's "no limit"


def topic_expiry(
    cluster: Cluster, topics: list[str], since: dt.datetime, timeout_s: float = 10.0
) -> dict[str, dict[str, Any]]:
    """Per topic: cleanup policy and by when Kafka's retention has removed a copy written
    before ``since``; None when the topic's configuration promises no such time."""
    admin = admin_client(cluster)
    resources = [ConfigResource(ResourceType.TOPIC, topic) for topic in topics]
    found: dict[str, dict[str, Any]] = {}
    for resource, future in admin.describe_configs(resources, request_timeout=timeout_s).items():
        entries = future.result()
        config = {name: entries[name].value for name in CONFIGS if name in entries}
        found[resource.name] = _expiry(config, since)
    return found


def _expiry(config: dict[str, str], since: dt.datetime) -> dict[str, Any]:
    def after(*names: str) -> str:
        total = sum(int(config.get(name) or 0) for name in names)
        return (since + dt.timedelta(milliseconds=total)).isoformat(timespec="seconds")

    policy = config.get("cleanup.policy", "delete")
    if "compact" not in policy:
        # A segment is deleted once its newest record is past retention; it rolls at segment.ms.
        return {"cleanup_policy": policy, "gone_by": after("segment.ms", "retention.ms")}
    # The cleaner only has to compact once max.compaction.lag.ms passed (KIP-354); before
    # that it may, when enough of the log is dirty. Infinite by default: no guarantee.
    guaranteed = int(config.get("max.compaction.lag.ms") or NEVER) < NEVER
    return {
        "cleanup_policy": policy,
        "compactable_from": after("min.compaction.lag.ms"),
        "gone_by": after("max.compaction.lag.ms", "delete.retention.ms") if guaranteed else None,
    }
