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

from usage_pipeline.broker.admin import admin_client
from usage_pipeline.broker.config import LocalRole
from usage_pipeline.broker.security import Cluster
from usage_pipeline.schemas.topics import TOPICS, Role

ResourceKind = Literal["topic", "group", "transactional_id"]
PatternKind = Literal["literal", "prefixed"]


@dataclass(frozen=True)
class Grant:
    """One row of the table: a role may do ``operation`` on the resources ``name`` names."""

    role: Role
    resource: ResourceKind
    # Placeholders: {ns} topic namespace, {app} the stream workers' consumer group (and the
    # prefix of their transactional ids), {sink} the sink's consumer group.
    name: str
    pattern: PatternKind
    operation: Literal["READ", "WRITE"]  # each implies DESCRIBE


def topic_grants() -> tuple[Grant, ...]:
    """READ on what each role reads and WRITE on what it writes, as the registry says."""
    return tuple(
        Grant(role, "topic", "{ns}" + topic.name, "prefixed" if topic.family else "literal", op)
        for topic in TOPICS
        for op, roles in (("READ", topic.readers), ("WRITE", topic.writers))
        for role in roles
    )


# Consumer groups and transactional ids are not topics: they follow from the settings.
GROUP_GRANTS: tuple[Grant, ...] = (
    # The workers' group (offsets committed in their transactions) and their salts reader
    # "{app}-salts".
    Grant("stream", "group", "{app}", "prefixed", "READ"),
    # Each worker's transactional id is "{app}-<instance>". Idempotent producers need no
    # IDEMPOTENT_WRITE on the cluster since Kafka 3.0 (KIP-679): WRITE on a topic is enough.
    Grant("stream", "transactional_id", "{app}-", "prefixed", "WRITE"),
    Grant("sink", "group", "{sink}", "literal", "READ"),
)
GRANTS: tuple[Grant, ...] = topic_grants() + GROUP_GRANTS


@dataclass(frozen=True)
class AclNames:
    """What the table's placeholders stand for in one deployment."""

    namespace: str
    stream_group: str  # the workers' consumer group, with the namespace
    sink_group: str  # the sink's consumer group, with the namespace


def pipeline_acls(names: AclNames, users: Mapping[LocalRole, str]) -> list[AclBinding]:
    """The table's rows for these names, each role's user named by ``users``."""
    values = {"ns": names.namespace, "app": names.stream_group, "sink": names.sink_group}
    resource_types = {
        "topic": ResourceType.TOPIC,
        "group": ResourceType.GROUP,
        "transactional_id": ResourceType.TRANSACTIONAL_ID,
    }
    patterns = {"literal": ResourcePatternType.LITERAL, "prefixed": ResourcePatternType.PREFIXED}
    return [
        AclBinding(
            resource_types[grant.resource],
            grant.name.format(**values),
            patterns[grant.pattern],
            f"User:{users[grant.role]}",
            "*",
            AclOperation[grant.operation],
            AclPermissionType.ALLOW,
        )
        for grant in GRANTS
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
