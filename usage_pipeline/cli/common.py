"""What several commands share: the cluster, and publishing as the producer."""

from __future__ import annotations

from usage_pipeline.broker.admin import describe_cluster
from usage_pipeline.broker.security import address
from usage_pipeline.producers.publisher import EventPublisher
from usage_pipeline.producers.topics import ensure_raw_topics
from usage_pipeline.resolve import client_cluster
from usage_pipeline.settings import Settings


def connect(settings: Settings) -> str:
    """The cluster's address once it answers, with its raw topics created (by the admin)."""
    admin = client_cluster(settings, "admin")
    describe_cluster(admin)
    ensure_raw_topics(admin, settings.topics)
    return address(admin)


def open_publisher(settings: Settings) -> EventPublisher:
    """A publisher configured by ``settings``, logged in as the producer."""
    producer = client_cluster(settings, "producer")
    return EventPublisher(producer, settings.producer, namespace=settings.topics.namespace)
