"""One worker process's settings, resolved once from the stream and topic sections."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from usage_pipeline.schemas.topics import (
    CONSENT_FAMILY,
    VISITOR_SALTS,
    TopicSettings,
    raw_topic,
    raw_topics,
)
from usage_pipeline.streams.config import StreamSettings
from usage_pipeline.streams.worker.loop import LoopConfig


@dataclass(frozen=True)
class WorkerConfig:
    """What one worker process needs to know, and nothing else."""

    namespace: str
    group: str
    instance: str
    loop: LoopConfig
    salts_topic: str
    salt_lifetime_s: float
    transaction_timeout_s: float
    session_timeout_ms: int
    liveness_timeout_s: float
    metrics_address: tuple[str, int] | None

    @property
    def member_id(self) -> str:
        """The transactional id and static group member id: stable across restarts, so a
        restart fences its predecessor's open transaction and takes its partitions back."""
        return f"{self.group}-{self.instance}"


def worker_config(stream: StreamSettings, topics: TopicSettings) -> WorkerConfig:
    """The config of the worker ``stream.instance_id`` names (default: this host)."""
    namespace = topics.namespace
    port = stream.metrics_port
    return WorkerConfig(
        namespace=namespace,
        group=namespace + stream.app_id,
        instance=stream.instance_id or socket.gethostname(),
        loop=LoopConfig(
            raw_topics=raw_topics(namespace),
            consent_topic=raw_topic(CONSENT_FAMILY, namespace),
            batch_max=stream.batch_max,
            poll_s=stream.batch_within_s,
            commit_interval_s=stream.commit_interval_s,
            commit_every=stream.commit_every,
            hold_per_partition=stream.hold_per_partition,
            consent_grace_s=stream.consent_grace_s,
        ),
        salts_topic=VISITOR_SALTS.full_name(namespace),
        salt_lifetime_s=stream.visitor_salt_lifetime_s,
        transaction_timeout_s=stream.transaction_timeout_s,
        session_timeout_ms=int(stream.session_timeout_s * 1000),
        liveness_timeout_s=stream.liveness_timeout_s,
        metrics_address=None if port is None else (stream.metrics_host, port),
    )
