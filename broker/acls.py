"""Who may do what on the pipeline's topics and groups: one table, applied as Kafka ACLs.

Everything not granted here is denied (``allow.everyone.if.no.acl.found=false``); the
admin is a super user and needs no row. Raw topics hold personal data in the clear, so
only the stream worker may read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)

from broker.admin import admin_client
from broker.local import local_broker
from broker.security import Cluster
from schemas.topics import CONSENT_FAMILY, raw_topic
from streams.key_links import KEY_LINKS_TOPIC
from streams.processor import DEAD_LETTER_TOPIC
from streams.topics import VISITOR_SALTS_TOPIC
from usage_pipeline.settings import LocalRole, Settings

CLEAN_PREFIX = "clean."


@dataclass(frozen=True)
class Grant:
    """One row of the table: a role may do ``operations`` on the resources ``name`` names."""

    role: LocalRole
    resource: Literal["topic", "group", "transactional_id"]
    # Placeholders: {ns} topic namespace, {app} the stream workers' consumer group (and the
    # prefix of their transactional ids), {sink} the sink's consumer group.
    name: str
    pattern: Literal["literal", "prefixed"]
    operations: tuple[str, ...]


RAW_PREFIX = raw_topic("", "{ns}")  # "{ns}raw."

GRANTS: tuple[Grant, ...] = (
    Grant("producer", "topic", RAW_PREFIX, "prefixed", ("WRITE", "DESCRIBE")),
    Grant("stream", "topic", RAW_PREFIX, "prefixed", ("READ", "DESCRIBE")),
    # Derived consent changes (an unsubscribe) and consent records moved to their subject's
    # partition are written to raw.consent, in the stream's transactions.
    Grant("stream", "topic", RAW_PREFIX + CONSENT_FAMILY, "literal", ("WRITE",)),
    Grant("stream", "topic", "{ns}" + CLEAN_PREFIX, "prefixed", ("WRITE", "DESCRIBE")),
    Grant("stream", "topic", "{ns}" + DEAD_LETTER_TOPIC, "literal", ("WRITE", "DESCRIBE")),
    Grant("stream", "topic", "{ns}" + KEY_LINKS_TOPIC, "literal", ("WRITE", "DESCRIBE")),
    Grant(
        "stream", "topic", "{ns}" + VISITOR_SALTS_TOPIC, "literal", ("READ", "WRITE", "DESCRIBE")
    ),
    # The workers' group (offsets committed in their transactions) and the salts reader.
    Grant("stream", "group", "{app}", "prefixed", ("READ",)),
    # Each worker's transactional id is "{app}-<instance>".
    Grant("stream", "transactional_id", "{app}-", "prefixed", ("WRITE", "DESCRIBE")),
    Grant("sink", "topic", "{ns}" + CLEAN_PREFIX, "prefixed", ("READ", "DESCRIBE")),
    Grant("sink", "group", "{sink}", "literal", ("READ",)),
)


def pipeline_acls(settings: Settings, users: Mapping[LocalRole, str]) -> list[AclBinding]:
    """The table's rows for these settings, each role's user named by ``users``."""
    namespace = settings.topics.namespace
    names = {
        "ns": namespace,
        "app": namespace + settings.stream.app_id,
        "sink": namespace + settings.sink.group_id,
    }
    resource_types = {
        "topic": ResourceType.TOPIC,
        "group": ResourceType.GROUP,
        "transactional_id": ResourceType.TRANSACTIONAL_ID,
    }
    patterns = {"literal": ResourcePatternType.LITERAL, "prefixed": ResourcePatternType.PREFIXED}
    return [
        AclBinding(
            resource_types[grant.resource],
            grant.name.format(**names),
            patterns[grant.pattern],
            f"User:{users[grant.role]}",
            "*",
            AclOperation[operation],
            AclPermissionType.ALLOW,
        )
        for grant in GRANTS
        for operation in grant.operations
    ]


def apply_acls(cluster: Cluster, bindings: list[AclBinding], timeout_s: float = 30.0) -> None:
    """Create the bindings (existing ones are left as they are, so this is idempotent)."""
    admin = admin_client(cluster)  # must outlive the futures
    futures = admin.create_acls(bindings, request_timeout=timeout_s)
    for binding, future in futures.items():
        try:
            future.result()
        except KafkaException as exc:
            raise RuntimeError(f"could not create ACL {binding}: {exc.args[0].str()}") from exc


def secure_local_broker(settings: Settings) -> None:
    """Apply the table to the local broker when it runs with SASL/SCRAM (else do nothing)."""
    broker = local_broker(settings)
    if broker.secured:
        apply_acls(broker.client("admin"), pipeline_acls(settings, settings.local_broker.users))
